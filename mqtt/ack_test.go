package mqtt

import (
	"bytes"
	"fmt"
	"testing"
)

// TestAppendAckMatchesAppend: AppendAck gives the bytes Append gives for
// the same acknowledgement without properties, for every version and
// reason code shape, after what dst already holds.
func TestAppendAckMatchesAppend(t *testing.T) {
	mk := map[Type]func(id uint16, code ReasonCode) Packet{
		PUBACK:  func(id uint16, code ReasonCode) Packet { return &Puback{PacketID: id, ReasonCode: code} },
		PUBREC:  func(id uint16, code ReasonCode) Packet { return &Pubrec{PacketID: id, ReasonCode: code} },
		PUBREL:  func(id uint16, code ReasonCode) Packet { return &Pubrel{PacketID: id, ReasonCode: code} },
		PUBCOMP: func(id uint16, code ReasonCode) Packet { return &Pubcomp{PacketID: id, ReasonCode: code} },
	}
	for typ, newPkt := range mk {
		for _, v := range []Version{V31, V311, V5} {
			for _, code := range []ReasonCode{Success, NoMatchingSubscribers, PacketIdentifierNotFound} {
				for _, id := range []uint16{1, 0x1234, 65535} {
					t.Run(fmt.Sprintf("%v/v%d/%#x/%d", typ, v, byte(code), id), func(t *testing.T) {
						prefix := []byte{0xAA}
						want, err := Append(bytes.Clone(prefix), newPkt(id, code), v)
						if err != nil {
							t.Fatal(err)
						}
						got, err := AppendAck(bytes.Clone(prefix), typ, id, code, v)
						if err != nil {
							t.Fatal(err)
						}
						if !bytes.Equal(got, want) {
							t.Fatalf("AppendAck = % x, Append = % x", got, want)
						}
					})
				}
			}
		}
	}
}

// TestAppendAckRefuses: packet id 0 and non-ack types are refused and
// leave dst as it was.
func TestAppendAckRefuses(t *testing.T) {
	for _, tc := range []struct {
		typ Type
		id  uint16
	}{{PUBACK, 0}, {PUBLISH, 1}, {PINGRESP, 1}} {
		got, err := AppendAck([]byte{1, 2}, tc.typ, tc.id, Success, V5)
		if err == nil {
			t.Errorf("AppendAck(%v, %d) = % x, want an error", tc.typ, tc.id, got)
		}
		if !bytes.Equal(got, []byte{1, 2}) {
			t.Errorf("AppendAck(%v, %d) left % x, want 01 02", tc.typ, tc.id, got)
		}
	}
}

func BenchmarkAppendAck(b *testing.B) {
	buf := make([]byte, 0, 16)
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = AppendAck(buf[:0], PUBACK, 7, Success, V311)
	}
}

// TestReaderRecycleAck: acknowledgements given back with Recycle come
// back from ReadPacket decoded afresh, with nothing left of the packet
// they were before (reason code, properties), whatever their type.
func TestReaderRecycleAck(t *testing.T) {
	first := &Pubrec{PacketID: 9, ReasonCode: NoMatchingSubscribers}
	first.Properties.SetString(PropReasonString, "none")
	var stream []byte
	for _, p := range []Packet{first, &Puback{PacketID: 10}, &Pubcomp{PacketID: 11}, &Pubrel{PacketID: 12}} {
		var err error
		if stream, err = Append(stream, p, V5); err != nil {
			t.Fatal(err)
		}
	}
	rd := NewReader(bytes.NewReader(stream), 0, &BufferPool{})
	want := []Packet{first, &Puback{PacketID: 10}, &Pubcomp{PacketID: 11}, &Pubrel{PacketID: 12}}
	for i, w := range want {
		got, err := rd.ReadPacket(V5)
		if err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		if got.Type() != w.Type() {
			t.Fatalf("packet %d: %v, want %v", i, got.Type(), w.Type())
		}
		gb, _ := Append(nil, got, V5)
		wb, _ := Append(nil, w, V5)
		if !bytes.Equal(gb, wb) {
			t.Fatalf("packet %d re-encodes as % x, want % x", i, gb, wb)
		}
		rd.Recycle(got)
	}
	rd.Recycle(&Publish{}) // ignored
	rd.Recycle(nil)
}
