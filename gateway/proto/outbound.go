package proto

import (
	"edgemq/gateway/broker"
	"edgemq/mqtt"
)

// Outbound is where a channel's packets go: the connection's write queue
// (the gateway's writeQueue), or a test's recorder. Its methods are safe
// for concurrent use: the channel calls them on its connection's read
// goroutine, the broker's sessions deliver from publishers' goroutines
// (under the session's lock), and the store's commit callbacks
// acknowledge from the store's. None of them blocks on the network; the
// queueing ones report false once the queue is closing.
type Outbound interface {
	// Send queues a control packet.
	Send(p mqtt.Packet) bool
	// Deliver queues a PUBLISH; QoS 0 may be dropped when the queue is
	// full (broker.Queue: the broker's sessions call it directly).
	Deliver(d *broker.Delivery) bool
	// Ack queues a PUBACK, PUBREC, PUBREL or PUBCOMP without properties.
	Ack(t mqtt.Type, pid uint16, code mqtt.ReasonCode) bool
	// Close queues last (nil: nothing) and closes the connection after
	// it, without waiting.
	Close(last mqtt.Packet)
	// Room returns what paced deliveries may still queue, and SetRefill
	// what to call when the queue drains (writequeue_pace.go of the
	// gateway).
	Room() broker.QueueRoom
	SetRefill(fn func())
}
