package conn

import (
	"net"
	"time"

	"edgemq/gateway/broker"
	"edgemq/gateway/proto"
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
	// (proto/clock.go); nil: the wall clock.
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
			b.buf = e.Wire.AppendAck(b.buf, it.ack.t, it.ack.pid, it.ack.code, e.stats)
		default:
			b.buf = e.Wire.AppendControl(b.buf, it.pkt, e.stats)
		}
	}
	if n := b.pubs - pubs; n > 0 {
		// One add per batch rather than per packet (the ops metrics).
		e.stats.BytesOut.Add(b.pubPayload - payload)
		e.stats.Pkt.CountOutN(mqtt.PUBLISH, int64(n), b.pubWire-wire)
	}
}

// appendDelivery adds delivery d to b (proto.Wire.AppendPublish): its
// payload is referenced from refPayload bytes on when the socket takes
// several buffers, copied otherwise.
func (e *encoder) appendDelivery(b *batch, d *broker.Delivery, now time.Time) {
	n := len(b.buf)
	out, payload, ok := e.Wire.AppendPublish(b.buf, d, now, e.stats)
	if !ok {
		return
	}
	b.buf = out
	b.pubs++
	b.pubPayload += int64(len(payload))
	b.pubWire += int64(len(out) - n + len(payload)) // counted by encode
	if e.writev && len(payload) >= refPayload {
		b.ref(payload)
		return
	}
	b.buf = append(b.buf, payload...)
}

// now returns the encoder's time (one reading per batch).
func (e *encoder) now() time.Time {
	if e.clock == nil {
		return time.Now()
	}
	return e.clock.Now()
}
