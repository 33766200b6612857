package proto

// The encoding rules of the settings a channel fixed (Wire): what a
// packet looks like on the wire for this client. The connection's
// encoder (gateway/conn) batches what these return; a test's outbound
// records it.

import (
	"time"

	"edgemq/gateway/broker"
	"edgemq/gateway/stats"
	"edgemq/mqtt"
)

// AppendPublish encodes the PUBLISH header of delivery d at now onto buf
// and returns it with the payload, which the caller appends or
// references; ok is false when d is not sent: an expired QoS 0 delivery,
// an encoding failure or a packet over the client's Maximum Packet Size
// [MQTT-3.1.2-25], each counted in st as dropped.
func (w *Wire) AppendPublish(buf []byte, d *broker.Delivery, now time.Time, st *Stats) (out, payload []byte, ok bool) {
	if d.QoS() == 0 && d.Expired(now) {
		st.Drop(stats.DropExpired)
		return buf, nil, false
	}
	var pub mqtt.Publish
	broker.PublishFor(&pub, d, w.Version, now)
	if w.Aliases != nil {
		w.Aliases.Apply(&pub)
	}
	n := len(buf)
	out, err := mqtt.AppendPublishHeader(buf, &pub, w.Version)
	if err != nil {
		st.Drop(stats.DropEncoding)
		return buf, nil, false
	}
	if w.MaxSize > 0 && uint32(len(out)-n+len(pub.Payload)) > w.MaxSize {
		// Sessions check the size before queueing; this only catches a
		// grown Message Expiry field. [MQTT-3.1.2-25]
		st.Drop(stats.DropTooLarge)
		return buf, nil, false
	}
	return out, pub.Payload, true
}

// AppendControl encodes a control packet onto buf. Without Request
// Problem Information, Reason String and User Property are left out
// [MQTT-3.1.2-29]; a packet over the client's Maximum Packet Size loses
// them too [MQTT-3.4.2-2 and the like], and is dropped if still too large
// [MQTT-3.1.2-24]. What is sent or dropped is counted in st.
func (w *Wire) AppendControl(buf []byte, p mqtt.Packet, st *Stats) []byte {
	props := propertiesOf(p)
	if props != nil && !w.ProblemInfo {
		props.Clear(mqtt.PropReasonString)
		props.UserProperties = nil
	}
	out, err := mqtt.Append(buf, p, w.Version)
	if err != nil {
		st.Drop(stats.DropEncoding)
		return buf
	}
	if w.MaxSize == 0 || uint32(len(out)-len(buf)) <= w.MaxSize {
		st.Pkt.Sent(p, len(out)-len(buf)) // metrics
		return out
	}
	if props != nil {
		props.Clear(mqtt.PropReasonString)
		props.UserProperties = nil
		if out, err = mqtt.Append(buf, p, w.Version); err == nil && uint32(len(out)-len(buf)) <= w.MaxSize {
			st.Pkt.Sent(p, len(out)-len(buf))
			return out
		}
	}
	st.Drop(stats.DropTooLarge)
	return buf
}

// AppendAck encodes an acknowledgement (PUBACK, PUBREC, PUBREL, PUBCOMP)
// without properties onto buf; one over the client's Maximum Packet Size
// is dropped [MQTT-3.1.2-24]. What is sent or dropped is counted in st.
func (w *Wire) AppendAck(buf []byte, t mqtt.Type, pid uint16, code mqtt.ReasonCode, st *Stats) []byte {
	out, err := mqtt.AppendAck(buf, t, pid, code, w.Version)
	if err != nil {
		st.Drop(stats.DropEncoding)
		return buf
	}
	if w.MaxSize > 0 && uint32(len(out)-len(buf)) > w.MaxSize {
		st.Drop(stats.DropTooLarge)
		return buf
	}
	st.Pkt.CountOut(t, len(out)-len(buf)) // metrics
	return out
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
