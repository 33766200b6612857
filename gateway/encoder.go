package gateway

import (
	"net"
	"time"

	"edgemq/gateway/broker"
	"edgemq/gateway/proto"
	"edgemq/gateway/stats"
	"edgemq/mqtt"
)

// encoder turns queued packets into bytes for one connection, keeping the
// limits the client set: its Maximum Packet Size, Request Problem
// Information and Topic Alias Maximum. It runs on the connection's writer
// only.
type encoder struct {
	// Wire is the version and the client's limits (Maximum Packet Size,
	// Request Problem Information, topic aliases), set by the channel.
	proto.Wire
	stats *proto.Stats
	// clock is the time of the remaining Message Expiry Interval
	// (clock.go); nil: the wall clock.
	clock proto.Clock
	// writev: the socket takes several buffers in one system call, so
	// large payloads are referenced rather than copied.
	writev bool
}

// refPayload is the payload size from which a PUBLISH payload is written
// from the shared message itself (writev) instead of being copied into the
// connection's buffer.
const refPayload = 512

// batch is the encoded output of one flush: bytes in buf, with large
// payloads referenced between them.
type batch struct {
	buf  []byte
	segs net.Buffers
	mark int // start of buf not yet in segs
	pubs int // PUBLISH packets encoded
	// out is the batch being written (buffers), consumed by the write.
	out net.Buffers
	// pubPayload and pubWire count the payload and whole-packet bytes of
	// those PUBLISH packets; the shared counters get them once per batch.
	pubPayload, pubWire int64
}

func (b *batch) reset() {
	clear(b.segs)
	b.out = nil
	b.buf, b.segs, b.mark, b.pubs = b.buf[:0], b.segs[:0], 0, 0
	b.pubPayload, b.pubWire = 0, 0
}

// ref adds p to the output after what buf holds, without copying it.
func (b *batch) ref(p []byte) {
	if b.mark < len(b.buf) {
		b.segs = append(b.segs, b.buf[b.mark:len(b.buf):len(b.buf)])
	}
	b.segs = append(b.segs, p)
	b.mark = len(b.buf)
}

// buffers returns the whole output, for one writev.
func (b *batch) buffers() net.Buffers {
	if b.mark < len(b.buf) {
		b.segs = append(b.segs, b.buf[b.mark:len(b.buf):len(b.buf)])
		b.mark = len(b.buf)
	}
	return b.segs
}

// encode adds items to b.
func (e *encoder) encode(b *batch, items []outItem) {
	now := e.now()
	pubs, payload, wire := b.pubs, b.pubPayload, b.pubWire
	for _, it := range items {
		switch {
		case it.d != nil:
			e.appendDelivery(b, it.d, now)
		case it.ack.t != 0:
			b.buf = e.appendAck(b.buf, it.ack)
		default:
			b.buf = e.appendControl(b.buf, it.pkt)
		}
	}
	if n := b.pubs - pubs; n > 0 {
		// One add per batch rather than per packet (metrics.go).
		e.stats.BytesOut.Add(b.pubPayload - payload)
		e.stats.Pkt.CountOutN(mqtt.PUBLISH, int64(n), b.pubWire-wire)
	}
}

func (e *encoder) appendDelivery(b *batch, d *broker.Delivery, now time.Time) {
	if d.QoS() == 0 && d.Expired(now) {
		e.stats.Drop(stats.DropExpired)
		return
	}
	var pub mqtt.Publish
	broker.PublishFor(&pub, d, e.Version, now)
	if e.Aliases != nil {
		e.Aliases.Apply(&pub)
	}
	n := len(b.buf)
	out, err := mqtt.AppendPublishHeader(b.buf, &pub, e.Version)
	if err != nil {
		e.stats.Drop(stats.DropEncoding)
		return
	}
	if e.MaxSize > 0 && uint32(len(out)-n+len(pub.Payload)) > e.MaxSize {
		// Sessions check the size before queueing; this only catches a
		// grown Message Expiry field. [MQTT-3.1.2-25]
		e.stats.Drop(stats.DropTooLarge)
		return
	}
	b.buf = out
	b.pubs++
	b.pubPayload += int64(len(pub.Payload))
	b.pubWire += int64(len(out) - n + len(pub.Payload)) // counted by encode
	if e.writev && len(pub.Payload) >= refPayload {
		b.ref(pub.Payload)
		return
	}
	b.buf = append(b.buf, pub.Payload...)
}

// appendControl encodes a control packet. Without Request Problem
// Information, Reason String and User Property are left out
// [MQTT-3.1.2-29]; a packet over the client's Maximum Packet Size loses
// them too [MQTT-3.4.2-2 and the like], and is dropped if still too large
// [MQTT-3.1.2-24].
func (e *encoder) appendControl(buf []byte, p mqtt.Packet) []byte {
	props := propertiesOf(p)
	if props != nil && !e.ProblemInfo {
		props.Clear(mqtt.PropReasonString)
		props.UserProperties = nil
	}
	out, err := mqtt.Append(buf, p, e.Version)
	if err != nil {
		e.stats.Drop(stats.DropEncoding)
		return buf
	}
	if e.MaxSize == 0 || uint32(len(out)-len(buf)) <= e.MaxSize {
		e.stats.Pkt.Sent(p, len(out)-len(buf)) // metrics.go
		return out
	}
	if props != nil {
		props.Clear(mqtt.PropReasonString)
		props.UserProperties = nil
		if out, err = mqtt.Append(buf, p, e.Version); err == nil && uint32(len(out)-len(buf)) <= e.MaxSize {
			e.stats.Pkt.Sent(p, len(out)-len(buf))
			return out
		}
	}
	e.stats.Drop(stats.DropTooLarge)
	return buf
}

// appendAck encodes an acknowledgement without properties; one over the
// client's Maximum Packet Size is dropped [MQTT-3.1.2-24].
func (e *encoder) appendAck(buf []byte, a ackItem) []byte {
	out, err := mqtt.AppendAck(buf, a.t, a.pid, a.code, e.Version)
	if err != nil {
		e.stats.Drop(stats.DropEncoding)
		return buf
	}
	if e.MaxSize > 0 && uint32(len(out)-len(buf)) > e.MaxSize {
		e.stats.Drop(stats.DropTooLarge)
		return buf
	}
	e.stats.Pkt.CountOut(a.t, len(out)-len(buf)) // metrics.go
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
