package gateway

import (
	"time"

	"edgemq/gateway/broker"
	"edgemq/mqtt"
)

// The channel as the broker sees it: broker.Client, the connection that
// holds a session. The broker calls these from publishers' goroutines and
// store callbacks, under the session's lock: each only queues on the
// write queue (writeQueue.mu) or reads what connect set before the
// session could deliver.

var _ broker.Client = (*channel)(nil)

// Deliver implements broker.Client: the write queue, which may drop QoS 0.
func (ch *channel) Deliver(d *broker.Delivery) bool { return ch.out.deliver(d) }

// Pubrel implements broker.Client.
func (ch *channel) Pubrel(pid uint16, code mqtt.ReasonCode) bool {
	return ch.out.ack(mqtt.PUBREL, pid, code)
}

// Fits implements broker.Client (fits).
func (ch *channel) Fits(d *broker.Delivery, now time.Time) bool { return ch.fits(d, now) }

// FitsSize implements broker.Client (fitsSize).
func (ch *channel) FitsSize(d *broker.Delivery, now time.Time) bool { return ch.fitsSize(d, now) }

// Window implements broker.Client: the client's Receive Maximum.
func (ch *channel) Window() int { return int(ch.neg.OutboundInflight) }

// Room implements broker.Client (writequeue_pace.go).
func (ch *channel) Room() broker.QueueRoom { return ch.out.room() }

// SetRefill implements broker.Client (writequeue_pace.go).
func (ch *channel) SetRefill(fn func()) { ch.out.setRefill(fn) }

// AfterStoredOut implements broker.Client (persist_qos2.go).
func (ch *channel) AfterStoredOut(fn func()) { ch.afterStoredOut(fn) }

// OutWaiting implements broker.Client: an outbound packet waits for the
// store (persist_qos2.go).
func (ch *channel) OutWaiting() bool { return ch.outWaiting.Load() > 0 }

// Kick implements broker.Client (kick).
func (ch *channel) Kick(code mqtt.ReasonCode) { ch.kick(code) }
