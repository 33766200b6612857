package mqtt_test

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"

	"edgemq/mqtt"
	"edgemq/mqtt/mqtttest"
)

// streams groups the goldens by version: each is the concatenation of the
// version's golden bytes and the packets they decode to, in order.
func streams(tb testing.TB) map[mqtt.Version]struct {
	data []byte
	pkts []mqtt.Packet
} {
	tb.Helper()
	s := map[mqtt.Version]struct {
		data []byte
		pkts []mqtt.Packet
	}{}
	for _, g := range mqtttest.Goldens() {
		e := s[g.Version]
		e.data = append(e.data, g.Bytes...)
		e.pkts = append(e.pkts, g.Packet)
		s[g.Version] = e
	}
	// A packet larger than the Reader's chunk, between small ones, takes
	// the Reader's other path.
	big := &mqtt.Publish{QoS: 1, Topic: "big", PacketID: 7, Payload: bytes.Repeat([]byte("0123456789"), 1000)}
	for _, v := range versions {
		e := s[v]
		e.data = append(e.data, mustEncode(tb, big, v)...)
		e.pkts = append(e.pkts, big)
		e.data = append(e.data, 0xC0, 0x00) // PINGREQ
		e.pkts = append(e.pkts, &mqtt.Pingreq{})
		s[v] = e
	}
	return s
}

// readAll reads packets from src until io.EOF and checks them against want.
func readAll(tb testing.TB, what string, rd *mqtt.Reader, v mqtt.Version, want []mqtt.Packet) {
	tb.Helper()
	for i, w := range want {
		p, err := rd.ReadPacket(v)
		if err != nil {
			tb.Fatalf("%s: packet %d (%s): %v", what, i, dump(w), err)
		}
		checkPacket(tb, what, p, w)
	}
	if p, err := rd.ReadPacket(v); err != io.EOF {
		tb.Fatalf("%s: after the last packet: %v, %v; want io.EOF", what, p, err)
	}
}

// TestReaderBackToBack reads every golden of a version from one stream,
// delivered whole, a byte at a time, in halves, in odd chunks, with the
// last data arriving with io.EOF, and through an io.Pipe.
func TestReaderBackToBack(t *testing.T) {
	pool := &mqtt.BufferPool{}
	for v, s := range streams(t) {
		t.Run(v.String(), func(t *testing.T) {
			for _, src := range []struct {
				name string
				r    io.Reader
			}{
				{"bytes.Reader", bytes.NewReader(s.data)},
				{"OneByteReader", iotest.OneByteReader(bytes.NewReader(s.data))},
				{"HalfReader", iotest.HalfReader(bytes.NewReader(s.data))},
				{"DataErrReader", iotest.DataErrReader(bytes.NewReader(s.data))},
				{"7-byte reads", &countingReader{data: s.data, step: 7}},
			} {
				readAll(t, src.name, mqtt.NewReader(src.r, 0, pool), v, s.pkts)
			}

			pr, pw := io.Pipe()
			go func() {
				// Odd-sized writes, so packets straddle them.
				for b := s.data; len(b) > 0; {
					n := min(len(b), 13)
					if _, err := pw.Write(b[:n]); err != nil {
						return
					}
					b = b[n:]
				}
				pw.Close()
			}()
			readAll(t, "io.Pipe", mqtt.NewReader(pr, 0, pool), v, s.pkts)
		})
	}
}

// TestReaderSplitEverywhere delivers a stream in two reads split at every
// offset.
func TestReaderSplitEverywhere(t *testing.T) {
	pool := &mqtt.BufferPool{}
	// The goldens alone (without streams' big packet, which would make
	// this slow) cover every header and body boundary.
	var data []byte
	var pkts []mqtt.Packet
	for _, g := range mqtttest.Goldens() {
		if g.Version == mqtt.V5 {
			data = append(data, g.Bytes...)
			pkts = append(pkts, g.Packet)
		}
	}
	for k := 0; k <= len(data); k++ {
		src := io.MultiReader(bytes.NewReader(data[:k]), bytes.NewReader(data[k:]))
		readAll(t, "split", mqtt.NewReader(src, 0, pool), mqtt.V5, pkts)
	}
}

// TestReaderTruncated: a stream that ends inside a packet gives
// io.ErrUnexpectedEOF, and one that ends between packets io.EOF, from the
// Reader and from ReadPacket.
func TestReaderTruncated(t *testing.T) {
	for _, g := range mqtttest.Goldens() {
		for k := 1; k < len(g.Bytes); k++ {
			cut := g.Bytes[:k]
			rd := mqtt.NewReader(iotest.OneByteReader(bytes.NewReader(cut)), 0, nil)
			if _, err := rd.ReadPacket(g.Version); !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("%s cut at %d: Reader: %v, want unexpected EOF", g.Name, k, err)
			}
			if _, err := mqtt.ReadPacket(bytes.NewReader(cut), g.Version, 0); !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("%s cut at %d: ReadPacket: %v, want unexpected EOF", g.Name, k, err)
			}
		}
	}
	if _, err := mqtt.NewReader(bytes.NewReader(nil), 0, nil).ReadPacket(mqtt.V5); err != io.EOF {
		t.Errorf("empty stream: %v, want io.EOF", err)
	}
	if _, err := mqtt.ReadPacket(bytes.NewReader(nil), mqtt.V5, 0); err != io.EOF {
		t.Errorf("ReadPacket of an empty stream: %v, want io.EOF", err)
	}
	// A big packet cut short takes the Reader's own-slice path.
	big := mustEncode(t, &mqtt.Publish{Topic: "t", Payload: make([]byte, 9000)}, mqtt.V311)
	if _, err := mqtt.NewReader(bytes.NewReader(big[:8000]), 0, nil).ReadPacket(mqtt.V311); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("big packet cut short: %v", err)
	}
}

// TestReaderPassesErrors: a source error other than EOF comes back as is.
func TestReaderPassesErrors(t *testing.T) {
	boom := errors.New("boom")
	rd := mqtt.NewReader(iotest.ErrReader(boom), 0, nil)
	if _, err := rd.ReadPacket(mqtt.V5); err != boom {
		t.Errorf("got %v, want %v", err, boom)
	}
	src := io.MultiReader(bytes.NewReader([]byte{0x30, 0x05, 0x00}), iotest.ErrReader(boom))
	if _, err := mqtt.NewReader(src, 0, nil).ReadPacket(mqtt.V5); err != boom {
		t.Errorf("mid-packet: got %v, want %v", err, boom)
	}
}

// headerOnly serves a fixed header and fails the test if read past it: a
// refused packet's body must not be read.
type headerOnly struct {
	tb  testing.TB
	hdr []byte
}

func (h *headerOnly) Read(p []byte) (int, error) {
	if len(h.hdr) == 0 {
		h.tb.Errorf("read past the header of a packet that is too large")
		return 0, errors.New("read past the header")
	}
	n := copy(p, h.hdr)
	h.hdr = h.hdr[n:]
	return n, nil
}

// TestReaderPacketTooLarge: a declared size over the maximum is refused
// with PacketTooLarge from the header alone: the body is neither read nor
// allocated ([MQTT-3.1.2-24] is the peer's duty; this is the defence).
func TestReaderPacketTooLarge(t *testing.T) {
	// PUBLISH declaring 200,000,000 bytes: 0x80 0x84 0xAF 0x5F.
	hdr := []byte{0x30, 0x80, 0x84, 0xAF, 0x5F}
	rd := mqtt.NewReader(nil, 1024, nil)
	for _, v := range versions {
		rd.Reset(&headerOnly{tb: t, hdr: hdr}, 1024, nil)
		_, err := rd.ReadPacket(v)
		checkCode(t, "Reader", err, mqtt.PacketTooLarge, "MQTT-3.2.2-15")
		_, err = mqtt.ReadPacket(&headerOnly{tb: t, hdr: hdr}, v, 1024)
		checkCode(t, "ReadPacket", err, mqtt.PacketTooLarge, "MQTT-3.2.2-15")
	}

	src := &headerOnly{tb: t}
	pool := &mqtt.BufferPool{}
	allocs := testing.AllocsPerRun(100, func() {
		src.hdr = hdr
		rd.Reset(src, 1024, pool)
		if _, err := rd.ReadPacket(mqtt.V5); mqtt.CodeOf(err) != mqtt.PacketTooLarge {
			t.Fatal(err)
		}
	})
	// The error value and its message (the race detector may add a few);
	// a body would be one more, of 200 MB: the byte count below is the
	// real check.
	if allocs > 10 {
		t.Errorf("%v allocations refusing a packet", allocs)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 10 {
		src.hdr = hdr
		rd.Reset(src, 1024, nil)
		_, _ = rd.ReadPacket(mqtt.V5)
		_, _ = mqtt.ReadPacket(&headerOnly{tb: t, hdr: hdr}, mqtt.V5, 1024)
	}
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > 64<<10 {
		t.Errorf("allocated %d bytes refusing 20 packets", n)
	}
}

// TestReaderMaxBoundary: a packet of exactly the maximum is read; one byte
// more is refused. The maximum counts the fixed header.
func TestReaderMaxBoundary(t *testing.T) {
	for _, size := range []int{10, 200, 5000} {
		p := &mqtt.Publish{Topic: "t"}
		n, _ := mqtt.Size(p, mqtt.V311)
		p.Payload = make([]byte, size-n)
		for n, _ = mqtt.Size(p, mqtt.V311); n > size; n, _ = mqtt.Size(p, mqtt.V311) {
			p.Payload = p.Payload[:len(p.Payload)-1] // a longer Remaining Length
		}
		b := mustEncode(t, p, mqtt.V311)
		if _, err := mqtt.NewReader(bytes.NewReader(b), uint32(len(b)), nil).ReadPacket(mqtt.V311); err != nil {
			t.Errorf("%d bytes with max %d: %v", len(b), len(b), err)
		}
		_, err := mqtt.NewReader(bytes.NewReader(b), uint32(len(b)-1), nil).ReadPacket(mqtt.V311)
		checkCode(t, "one over", err, mqtt.PacketTooLarge, "")
		if _, err := mqtt.ReadPacket(bytes.NewReader(b), mqtt.V311, uint32(len(b))); err != nil {
			t.Errorf("ReadPacket %d bytes with max %d: %v", len(b), len(b), err)
		}
		_, err = mqtt.ReadPacket(bytes.NewReader(b), mqtt.V311, uint32(len(b)-1))
		checkCode(t, "ReadPacket one over", err, mqtt.PacketTooLarge, "")
	}
	// SetMaxPacketSize changes the limit between packets; 0 means the
	// protocol's own.
	b := mustEncode(t, &mqtt.Publish{Topic: "t", Payload: make([]byte, 100)}, mqtt.V5)
	rd := mqtt.NewReader(bytes.NewReader(append(append([]byte(nil), b...), b...)), 50, nil)
	rd.SetMaxPacketSize(0)
	if _, err := rd.ReadPacket(mqtt.V5); err != nil {
		t.Errorf("after SetMaxPacketSize(0): %v", err)
	}
	rd.SetMaxPacketSize(50)
	_, err := rd.ReadPacket(mqtt.V5)
	checkCode(t, "after SetMaxPacketSize(50)", err, mqtt.PacketTooLarge, "")
}

// TestReaderDecodeErrorKeepsFraming: a packet that fails to decode is
// consumed whole, so a caller that chooses to go on reads the next one.
func TestReaderDecodeErrorKeepsFraming(t *testing.T) {
	var data []byte
	bad := mqtttest.Malformed()
	for _, b := range bad {
		if b.Version == mqtt.V5 && b.Code != mqtt.PacketTooLarge && !strings.Contains(b.Name, "remaining length") {
			data = append(data, b.Bytes...)
			data = append(data, 0xD0, 0x00) // PINGRESP
		}
	}
	rd := mqtt.NewReader(iotest.HalfReader(bytes.NewReader(data)), 0, nil)
	for {
		_, err := rd.ReadPacket(mqtt.V5)
		if err == io.EOF {
			break
		}
		if err == nil {
			t.Fatal("a malformed packet decoded")
		}
		if p, err := rd.ReadPacket(mqtt.V5); err != nil || p.Type() != mqtt.PINGRESP {
			t.Fatalf("after a malformed packet: %v, %v", p, err)
		}
	}
}

// TestReaderAllocatesAsDataArrives: a packet under the maximum but
// declared huge costs memory only as its bytes arrive, so a 5-byte header
// cannot make the gateway allocate 200 MB.
func TestReaderAllocatesAsDataArrives(t *testing.T) {
	// PUBLISH declaring 200,000,000 bytes, then 10 bytes and the end.
	data := append([]byte{0x30, 0x80, 0x84, 0xAF, 0x5F}, make([]byte, 10)...)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 10 {
		_, err := mqtt.NewReader(bytes.NewReader(data), 0, nil).ReadPacket(mqtt.V5)
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("Reader: %v", err)
		}
		if _, err := mqtt.ReadPacket(bytes.NewReader(data), mqtt.V5, 0); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("ReadPacket: %v", err)
		}
	}
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > 4<<20 {
		t.Errorf("allocated %d bytes for 20 empty 200 MB packets", n)
	}
	// A large packet that does arrive, a byte at a time, is read whole.
	p := &mqtt.Publish{QoS: 1, Topic: "big", PacketID: 1, Payload: bytes.Repeat([]byte("abc"), 100_000)}
	b := mustEncode(t, p, mqtt.V5)
	got, err := mqtt.NewReader(iotest.OneByteReader(bytes.NewReader(b)), 0, nil).ReadPacket(mqtt.V5)
	if err != nil {
		t.Fatal(err)
	}
	checkPacket(t, "300 KB packet", got, p)
	got, err = mqtt.ReadPacket(iotest.HalfReader(bytes.NewReader(b)), mqtt.V5, 0)
	if err != nil {
		t.Fatal(err)
	}
	checkPacket(t, "300 KB packet through ReadPacket", got, p)
}
