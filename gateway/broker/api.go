package broker

// The read API of messages, deliveries and subscriptions for the
// protocol side: the encoder builds a PUBLISH from a delivery, the write
// queue bounds it, SUBSCRIBE makes subscriptions. All are small methods
// the compiler inlines: the message path pays no call for them.

import (
	"time"

	"edgemq/mqtt"
)

// PublishFor builds the PUBLISH of a delivery: the shared message with
// this subscriber's QoS, packet id, flags, Subscription Identifiers and
// remaining Message Expiry Interval [MQTT-3.3.2-6].
// It fills pub, which the caller zeroed: a 3.x PUBLISH has no properties,
// and copying them (most of the struct) per delivery is what this avoids.
func PublishFor(pub *mqtt.Publish, d *Delivery, v mqtt.Version, now time.Time) {
	m := d.msg
	pub.Dup, pub.QoS, pub.Retain = d.dup, d.qos, d.retain
	pub.Topic, pub.PacketID, pub.Payload = m.pub.Topic, d.pid, m.pub.Payload
	if v == mqtt.V5 {
		pub.Properties = m.pub.Properties
		pub.Properties.SubscriptionIdentifiers = d.subIDs
		if !m.expires.IsZero() {
			left := m.expires.Sub(now)
			secs := uint32((left + time.Second - 1) / time.Second)
			pub.Properties.SetUint32(mqtt.PropMessageExpiryInterval, max(secs, 1))
		}
	}
}

// Publish returns the message's PUBLISH (topic resolved, topic alias and
// packet id removed). Shared by every subscriber: read-only.
func (m *Message) Publish() *mqtt.Publish { return m.pub }

// Expires returns when the Message Expiry Interval runs out; zero: never.
func (m *Message) Expires() time.Time { return m.expires }

// From returns the publisher's client id.
func (m *Message) From() string { return m.from }

// Message returns the delivery's message.
func (d *Delivery) Message() *Message { return d.msg }

// QoS returns the QoS the delivery goes at.
func (d *Delivery) QoS() byte { return d.qos }

// Paced reports whether the delivery's sender waited for room in the
// queue (retained_feed.go): the queue must not drop it.
func (d *Delivery) Paced() bool { return d.paced }

// PayloadLen returns the message's payload bytes.
func (d *Delivery) PayloadLen() int { return len(d.msg.pub.Payload) }

// Expired reports whether the delivery's message expired by now.
func (d *Delivery) Expired(now time.Time) bool { return d.msg.Expired(now) }

// SubOptions are a subscription's filter and options, as SUBSCRIBE asks
// for them (after the server lowered the QoS).
type SubOptions struct {
	Filter            string
	QoS               byte
	NoLocal           bool
	RetainAsPublished bool
	RetainHandling    byte
	// ID is the Subscription Identifier; 0: none.
	ID uint32
}

// NewSubscription returns a subscription of o.
func NewSubscription(o SubOptions) *Subscription {
	return &Subscription{filter: o.Filter, qos: o.QoS, noLocal: o.NoLocal, retainAsPublished: o.RetainAsPublished,
		retainHandling: o.RetainHandling, id: o.ID}
}

// Filter returns the subscription's topic filter.
func (sub *Subscription) Filter() string { return sub.filter }

// QoS returns the subscription's granted QoS.
func (sub *Subscription) QoS() byte { return sub.qos }
