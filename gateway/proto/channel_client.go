package proto

import (
	"edgemq/gateway/broker"
	"edgemq/mqtt"
)

// The channel as the broker sees it: broker.Client, the connection that
// holds a session. The broker calls these from publishers' goroutines and
// store callbacks, under the session's lock: each only queues on the
// write queue (writeQueue.mu) or reads what connect set before the
// session could deliver.

var _ broker.Client = (*Channel)(nil)

// Link implements broker.Client: the write queue and the limits CONNECT
// negotiated, fixed from then on.
func (ch *Channel) Link() broker.Link {
	return broker.Link{Out: ch.out, MaxPacketSize: ch.neg.ClientMaxPacketSize, Version: ch.neg.Version, Window: int(ch.neg.OutboundInflight)}
}

// Pubrel implements broker.Client.
func (ch *Channel) Pubrel(pid uint16, code mqtt.ReasonCode) bool {
	return ch.out.Ack(mqtt.PUBREL, pid, code)
}

// Room implements broker.Client (gateway/conn/writequeue_pace.go).
func (ch *Channel) Room() broker.QueueRoom { return ch.out.Room() }

// SetRefill implements broker.Client (gateway/conn/writequeue_pace.go).
func (ch *Channel) SetRefill(fn func()) { ch.out.SetRefill(fn) }

// AfterStoredOut implements broker.Client (persist_qos2.go).
func (ch *Channel) AfterStoredOut(fn func()) { ch.afterStoredOut(fn) }

// OutWaiting implements broker.Client: an outbound packet waits for the
// store (persist_qos2.go).
func (ch *Channel) OutWaiting() bool { return ch.outWaiting.Load() > 0 }

// Kick implements broker.Client (kick).
func (ch *Channel) Kick(code mqtt.ReasonCode) { ch.kick(code) }
