package mqtt_test

import (
	"bytes"
	"io"
	"testing"

	"edgemq/mqtt"
)

type benchCase struct {
	name string
	v    mqtt.Version
	p    mqtt.Packet
}

func benchCases() []benchCase {
	connect5 := &mqtt.Connect{
		ProtocolName: "MQTT", Version: mqtt.V5, CleanStart: true, KeepAlive: 60, ClientID: "sensor-0042",
		UsernameFlag: true, Username: "gateway", PasswordFlag: true, Password: []byte("s3cret"),
		Will: &mqtt.Will{QoS: 1, Topic: "sensors/0042/status", Payload: []byte("offline")},
	}
	connect5.Properties.SetUint32(mqtt.PropSessionExpiryInterval, 3600)
	connect5.Properties.SetUint16(mqtt.PropReceiveMaximum, 100)
	connect5.Properties.SetUint16(mqtt.PropTopicAliasMaximum, 16)
	connect5.Properties.SetUint32(mqtt.PropMaximumPacketSize, 1<<20)
	connect5.Properties.UserProperties = []mqtt.UserProperty{{Key: "site", Value: "plant-7"}}
	connect5.Will.Properties.SetUint32(mqtt.PropWillDelayInterval, 5)
	connect5.Will.Properties.SetString(mqtt.PropContentType, "text/plain")
	connect311 := &mqtt.Connect{
		ProtocolName: "MQTT", Version: mqtt.V311, CleanStart: true, KeepAlive: 60, ClientID: "sensor-0042",
		UsernameFlag: true, Username: "gateway", PasswordFlag: true, Password: []byte("s3cret"),
	}
	cases := []benchCase{
		{"CONNECT/5.0-properties", mqtt.V5, connect5},
		{"CONNECT/3.1.1", mqtt.V311, connect311},
	}
	for _, size := range []struct {
		name string
		n    int
	}{{"64B", 64}, {"4KB", 4096}} {
		for _, qos := range []byte{0, 1} {
			for _, v := range []mqtt.Version{mqtt.V5, mqtt.V311} {
				p := &mqtt.Publish{QoS: qos, Topic: "sensors/0042/temperature", Payload: bytes.Repeat([]byte{'x'}, size.n)}
				if qos > 0 {
					p.PacketID = 4242
				}
				cases = append(cases, benchCase{"PUBLISH/" + size.name + "-qos" + string('0'+qos) + "-" + v.String(), v, p})
			}
		}
	}
	return cases
}

func BenchmarkEncode(b *testing.B) {
	for _, c := range benchCases() {
		b.Run(c.name, func(b *testing.B) {
			buf, err := mqtt.Append(nil, c.p, c.v)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			for b.Loop() {
				if buf, err = mqtt.Append(buf[:0], c.p, c.v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, c := range benchCases() {
		b.Run(c.name, func(b *testing.B) {
			buf := mustEncode(b, c.p, c.v)
			first, body := splitFrame(b, buf)
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := mqtt.Decode(first, body, c.v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// loopReader serves the same bytes forever.
type loopReader struct {
	data []byte
	off  int
}

func (l *loopReader) Read(p []byte) (int, error) {
	n := copy(p, l.data[l.off:])
	l.off = (l.off + n) % len(l.data)
	return n, nil
}

// BenchmarkReader reads PUBLISH packets from a stream, as a connection
// does.
func BenchmarkReader(b *testing.B) {
	for _, c := range benchCases() {
		if c.p.Type() != mqtt.PUBLISH {
			continue
		}
		b.Run(c.name, func(b *testing.B) {
			buf := mustEncode(b, c.p, c.v)
			rd := mqtt.NewReader(&loopReader{data: buf}, 0, &mqtt.BufferPool{})
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := rd.ReadPacket(c.v); err != nil && err != io.EOF {
					b.Fatal(err)
				}
			}
		})
	}
}
