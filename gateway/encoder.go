package gateway

import (
	"time"

	"edgemq/mqtt"
)

// encoder turns queued packets into bytes for one connection, keeping the
// limits the client set: its Maximum Packet Size and Request Problem
// Information.
type encoder struct {
	version     mqtt.Version
	maxSize     uint32 // the client's Maximum Packet Size; 0: none
	problemInfo bool
	stats       *stats
}

func (e *encoder) appendBatch(buf []byte, items []outItem) []byte {
	now := time.Now()
	for _, it := range items {
		if it.d != nil {
			buf = e.appendDelivery(buf, it.d, now)
		} else {
			buf = e.appendControl(buf, it.pkt)
		}
	}
	return buf
}

// publishFor builds the PUBLISH of a delivery: the shared message with
// this subscriber's QoS, packet id, flags, Subscription Identifiers and
// remaining Message Expiry Interval [MQTT-3.3.2-6].
func publishFor(d *delivery, v mqtt.Version, now time.Time) mqtt.Publish {
	m := d.msg
	pub := mqtt.Publish{
		Dup: d.dup, QoS: d.qos, Retain: d.retain, Topic: m.pub.Topic,
		PacketID: d.pid, Payload: m.pub.Payload,
	}
	if v == mqtt.V5 {
		pub.Properties = m.pub.Properties
		pub.Properties.SubscriptionIdentifiers = d.subIDs
		if !m.expires.IsZero() {
			left := m.expires.Sub(now)
			secs := uint32((left + time.Second - 1) / time.Second)
			pub.Properties.SetUint32(mqtt.PropMessageExpiryInterval, max(secs, 1))
		}
	}
	return pub
}

func (e *encoder) appendDelivery(buf []byte, d *delivery, now time.Time) []byte {
	if d.qos == 0 && d.msg.expired(now) {
		e.stats.drop(dropExpired)
		return buf
	}
	pub := publishFor(d, e.version, now)
	out, err := mqtt.AppendPublish(buf, &pub, e.version)
	if err != nil {
		e.stats.drop(dropEncoding)
		return buf
	}
	if e.maxSize > 0 && uint32(len(out)-len(buf)) > e.maxSize {
		// Sessions check the size before queueing; this only catches a
		// grown Message Expiry field. [MQTT-3.1.2-25]
		e.stats.drop(dropTooLarge)
		return buf
	}
	return out
}

// appendControl encodes a control packet. Without Request Problem
// Information, Reason String and User Property are left out
// [MQTT-3.1.2-29]; a packet over the client's Maximum Packet Size loses
// them too [MQTT-3.4.2-2 and the like], and is dropped if still too large
// [MQTT-3.1.2-24].
func (e *encoder) appendControl(buf []byte, p mqtt.Packet) []byte {
	props := propertiesOf(p)
	if props != nil && !e.problemInfo {
		props.Clear(mqtt.PropReasonString)
		props.UserProperties = nil
	}
	out, err := mqtt.Append(buf, p, e.version)
	if err != nil {
		e.stats.drop(dropEncoding)
		return buf
	}
	if e.maxSize == 0 || uint32(len(out)-len(buf)) <= e.maxSize {
		return out
	}
	if props != nil {
		props.Clear(mqtt.PropReasonString)
		props.UserProperties = nil
		if out, err = mqtt.Append(buf, p, e.version); err == nil && uint32(len(out)-len(buf)) <= e.maxSize {
			return out
		}
	}
	e.stats.drop(dropTooLarge)
	return buf
}

// propertiesOf returns the properties of a packet the server sends, for
// trimming.
func propertiesOf(p mqtt.Packet) *mqtt.Properties {
	switch p := p.(type) {
	case *mqtt.Connack:
		return &p.Properties
	case *mqtt.Puback:
		return &p.Properties
	case *mqtt.Pubrec:
		return &p.Properties
	case *mqtt.Pubrel:
		return &p.Properties
	case *mqtt.Pubcomp:
		return &p.Properties
	case *mqtt.Suback:
		return &p.Properties
	case *mqtt.Unsuback:
		return &p.Properties
	case *mqtt.Disconnect:
		return &p.Properties
	case *mqtt.Auth:
		return &p.Properties
	}
	return nil
}
