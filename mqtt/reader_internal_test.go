package mqtt

import (
	"bytes"
	"io"
	"testing"
)

// TestReaderReleasesChunk: a Reader borrows a chunk while data keeps
// arriving and gives it back once every buffered byte is consumed, so an
// idle connection holds only its inline buffer.
func TestReaderReleasesChunk(t *testing.T) {
	pool := &BufferPool{}
	var stream []byte
	for i := range 40 {
		p := &Publish{QoS: 1, Topic: "a/b", PacketID: uint16(i + 1), Payload: []byte("payload")}
		b, err := Append(nil, p, V311)
		if err != nil {
			t.Fatal(err)
		}
		stream = append(stream, b...)
	}
	pr, pw := io.Pipe()
	rd := NewReader(pr, 0, pool)
	go func() {
		pw.Write(stream) // one burst, larger than the inline buffer
		pw.Write([]byte{0xC0, 0x00})
		pw.Close()
	}()
	for i := range 40 {
		if _, err := rd.ReadPacket(V311); err != nil {
			t.Fatal(err)
		}
		if i == 0 && rd.chunk == nil {
			t.Fatal("no chunk borrowed for a burst")
		}
		if rd.Buffered() > 0 && rd.chunk == nil {
			t.Fatalf("packet %d: %d bytes buffered but no chunk", i, rd.Buffered())
		}
	}
	if rd.Buffered() != 0 {
		t.Fatalf("%d bytes still buffered", rd.Buffered())
	}
	if rd.chunk != nil || &rd.buf[0] != &rd.idle[0] {
		t.Fatal("idle Reader holds a chunk after consuming everything")
	}
	// The next, small packet is read into the inline buffer.
	if p, err := rd.ReadPacket(V311); err != nil || p.Type() != PINGREQ {
		t.Fatalf("%v, %v", p, err)
	}
	if rd.chunk != nil {
		t.Fatal("chunk held after a PINGREQ")
	}
	if _, err := rd.ReadPacket(V311); err != io.EOF {
		t.Fatal(err)
	}
}

// TestReaderBigPacketReleasesChunk: the own-slice path for a packet over a
// chunk leaves no chunk behind either.
func TestReaderBigPacketReleasesChunk(t *testing.T) {
	b, err := Append(nil, &Publish{Topic: "t", Payload: make([]byte, 3*chunkSize)}, V5)
	if err != nil {
		t.Fatal(err)
	}
	rd := NewReader(bytes.NewReader(b), 0, nil)
	if _, err := rd.ReadPacket(V5); err != nil {
		t.Fatal(err)
	}
	if rd.chunk != nil || rd.Buffered() != 0 {
		t.Fatalf("chunk %v, %d buffered", rd.chunk != nil, rd.Buffered())
	}
}

// TestReaderReleaseAndReset: Release and Reset drop a held chunk and
// whatever was buffered.
func TestReaderReleaseAndReset(t *testing.T) {
	data := bytes.Repeat([]byte{0xC0, 0x00}, 100)
	rd := NewReader(bytes.NewReader(data), 0, nil)
	if _, err := rd.ReadPacket(V5); err != nil {
		t.Fatal(err)
	}
	if rd.chunk == nil || rd.Buffered() == 0 {
		t.Fatal("expected a chunk holding buffered PINGREQs")
	}
	rd.Release()
	if rd.chunk != nil || rd.Buffered() != 0 {
		t.Fatal("Release kept the chunk")
	}
	rd = NewReader(bytes.NewReader(data), 0, nil)
	rd.ReadPacket(V5)
	rd.Reset(bytes.NewReader([]byte{0xD0, 0x00}), 0, nil)
	if rd.chunk != nil || rd.Buffered() != 0 {
		t.Fatal("Reset kept the chunk")
	}
	if p, err := rd.ReadPacket(V5); err != nil || p.Type() != PINGRESP {
		t.Fatalf("after Reset: %v, %v", p, err)
	}
}

// TestReaderChunkDoesNotLeakIntoPackets: decoded packets do not alias the
// pooled chunk, which the next connection will overwrite.
func TestReaderChunkDoesNotLeakIntoPackets(t *testing.T) {
	pool := &BufferPool{}
	var stream []byte
	for range 10 {
		b, _ := Append(nil, &Publish{Topic: "topic/a", Payload: []byte("payload-a")}, V5)
		stream = append(stream, b...)
	}
	rd := NewReader(bytes.NewReader(stream), 0, pool)
	var got []*Publish
	for {
		p, err := rd.ReadPacket(V5)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, p.(*Publish))
	}
	// Scribble over every chunk the pool may hand out again.
	for range 4 {
		c := pool.get()
		for i := range c {
			c[i] = 'X'
		}
		pool.put(c)
	}
	for _, p := range got {
		if p.Topic != "topic/a" || string(p.Payload) != "payload-a" {
			t.Fatalf("packet changed with the chunk: %q %q", p.Topic, p.Payload)
		}
	}
}
