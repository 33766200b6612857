package mqtt_test

import (
	"bytes"
	"errors"
	"testing"

	"edgemq/mqtt"
	"edgemq/mqtt/mqtttest"
)

func errorsIs(err error, code mqtt.ReasonCode) bool { return errors.Is(err, code) }

func asError(err error) (*mqtt.Error, bool) {
	var e *mqtt.Error
	ok := errors.As(err, &e)
	return e, ok
}

// TestGoldenTable checks the fixtures themselves: unique names, a declared
// Remaining Length that matches, and every packet type present in every
// version that has it (AUTH is 5.0 only, 2.1.2).
func TestGoldenTable(t *testing.T) {
	seen := map[string]bool{}
	types := map[mqtt.Version]map[mqtt.Type]bool{}
	for _, g := range mqtttest.Goldens() {
		if seen[g.Name] {
			t.Errorf("duplicate golden name %q", g.Name)
		}
		seen[g.Name] = true
		splitFrame(t, g.Bytes)
		if got := mqtt.Type(g.Bytes[0] >> 4); got != g.Packet.Type() {
			t.Errorf("%s: first byte says %v, packet is %v", g.Name, got, g.Packet.Type())
		}
		if types[g.Version] == nil {
			types[g.Version] = map[mqtt.Type]bool{}
		}
		types[g.Version][g.Packet.Type()] = true
	}
	for _, v := range versions {
		for typ := mqtt.CONNECT; typ <= mqtt.AUTH; typ++ {
			want := typ != mqtt.AUTH || v == mqtt.V5
			if types[v][typ] != want {
				t.Errorf("version %v: golden %v present %v, want %v", v, typ, types[v][typ], want)
			}
		}
	}
	bad := map[string]bool{}
	for _, b := range mqtttest.Malformed() {
		if bad[b.Name] {
			t.Errorf("duplicate malformed name %q", b.Name)
		}
		bad[b.Name] = true
		if !b.Code.IsError() {
			t.Errorf("%s: code %v is not an error", b.Name, b.Code)
		}
		// The Remaining Length is right unless it is the fault.
		if _, rl, n, ok := header(b.Bytes); ok && int(rl) != len(b.Bytes)-n {
			t.Errorf("%s: remaining length %d, %d bytes follow", b.Name, rl, len(b.Bytes)-n)
		}
	}
}

// TestGoldenDecode decodes every golden through Decode, ReadPacket and a
// Reader, and compares with the hand-built packet.
func TestGoldenDecode(t *testing.T) {
	for _, g := range mqtttest.Goldens() {
		t.Run(g.Name, func(t *testing.T) {
			first, body := splitFrame(t, g.Bytes)
			p, err := mqtt.Decode(first, body, g.Version)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			checkPacket(t, "Decode", p, g.Packet)

			r := bytes.NewReader(g.Bytes)
			p, err = mqtt.ReadPacket(r, g.Version, 0)
			if err != nil {
				t.Fatalf("ReadPacket: %v", err)
			}
			checkPacket(t, "ReadPacket", p, g.Packet)
			if r.Len() != 0 {
				t.Errorf("ReadPacket left %d bytes", r.Len())
			}

			rd := mqtt.NewReader(bytes.NewReader(g.Bytes), 0, nil)
			p, err = rd.ReadPacket(g.Version)
			if err != nil {
				t.Fatalf("Reader.ReadPacket: %v", err)
			}
			checkPacket(t, "Reader.ReadPacket", p, g.Packet)
		})
	}
}

// TestGoldenEncode encodes every golden packet and compares with the
// hand-written bytes, through Append (empty and non-empty dst), Size and
// WritePacket.
func TestGoldenEncode(t *testing.T) {
	for _, g := range mqtttest.Goldens() {
		t.Run(g.Name, func(t *testing.T) {
			b := mustEncode(t, g.Packet, g.Version)
			if !bytes.Equal(b, g.Bytes) {
				t.Fatalf("Append:\n got % X\nwant % X", b, g.Bytes)
			}
			prefix := []byte("prefix")
			b, err := mqtt.Append(append([]byte(nil), prefix...), g.Packet, g.Version)
			if err != nil || !bytes.Equal(b, append(prefix, g.Bytes...)) {
				t.Errorf("Append after a prefix: % X, %v", b, err)
			}
			n, err := mqtt.Size(g.Packet, g.Version)
			if err != nil || n != len(g.Bytes) {
				t.Errorf("Size = %d, %v; want %d", n, err, len(g.Bytes))
			}
			var w bytes.Buffer
			if err := mqtt.WritePacket(&w, g.Packet, g.Version); err != nil || !bytes.Equal(w.Bytes(), g.Bytes) {
				t.Errorf("WritePacket: % X, %v", w.Bytes(), err)
			}
		})
	}
}

// TestDecodeDoesNotAlias checks the package promise that a decoded packet
// never aliases the buffer it was decoded from.
func TestDecodeDoesNotAlias(t *testing.T) {
	for _, g := range mqtttest.Goldens() {
		buf := append([]byte(nil), g.Bytes...)
		first, body := splitFrame(t, buf)
		p, err := mqtt.Decode(first, body, g.Version)
		if err != nil {
			t.Fatalf("%s: %v", g.Name, err)
		}
		for i := range body {
			body[i] ^= 0xFF
		}
		checkPacket(t, g.Name+" after scribbling on the input", p, g.Packet)
	}
}

// TestMalformed checks every illegal packet gets its exact reason code and
// rule, through Decode, ReadPacket and a Reader.
func TestMalformed(t *testing.T) {
	for _, b := range mqtttest.Malformed() {
		t.Run(b.Name, func(t *testing.T) {
			p, err := mqtt.ReadPacket(bytes.NewReader(b.Bytes), b.Version, 0)
			checkCode(t, "ReadPacket", err, b.Code, b.Rule)
			if p != nil && p.Type() != mqtt.CONNECT {
				t.Errorf("ReadPacket returned %s alongside the error", dump(p))
			}
			rd := mqtt.NewReader(bytes.NewReader(b.Bytes), 0, nil)
			_, err = rd.ReadPacket(b.Version)
			checkCode(t, "Reader.ReadPacket", err, b.Code, b.Rule)
		})
	}
}

// TestLenientDecode lists well-formed encodings the encoder does not
// produce: they decode to the packet shown, and re-encode canonically.
func TestLenientDecode(t *testing.T) {
	for _, c := range []struct {
		name string
		v    mqtt.Version
		b    []byte
		want mqtt.Packet
	}{
		// MQTT 3.1 sets DUP when re-delivering PUBREL, SUBSCRIBE and
		// UNSUBSCRIBE (3.1 section 2.1); 3.1.1 reserved the bit.
		{"PUBREL 3.1 dup", mqtt.V31, []byte{0x6A, 0x02, 0x00, 0x01}, &mqtt.Pubrel{PacketID: 1}},
		{"SUBSCRIBE 3.1 dup", mqtt.V31, []byte{0x8A, 0x06, 0x00, 0x01, 0x00, 0x01, 'a', 0x01},
			&mqtt.Subscribe{PacketID: 1, Subscriptions: []mqtt.Subscription{{Filter: "a", QoS: 1}}}},
		{"UNSUBSCRIBE 3.1 dup", mqtt.V31, []byte{0xAA, 0x05, 0x00, 0x01, 0x00, 0x01, 'a'},
			&mqtt.Unsubscribe{PacketID: 1, Filters: []string{"a"}}},
		// 5.0 acks: success and an empty property list spelt out (3.4.2.1).
		{"PUBACK 5.0 long form of success", mqtt.V5, []byte{0x40, 0x04, 0x00, 0x01, 0x00, 0x00}, &mqtt.Puback{PacketID: 1}},
		{"PUBCOMP 5.0 code with empty properties", mqtt.V5, []byte{0x70, 0x04, 0x00, 0x01, 0x92, 0x00},
			&mqtt.Pubcomp{PacketID: 1, ReasonCode: mqtt.PacketIdentifierNotFound}},
		// DISCONNECT: "If the Remaining Length is less than 2, a value of 0
		// is used" for the property length (3.14.2.2.1).
		{"DISCONNECT 5.0 reason code alone", mqtt.V5, []byte{0xE0, 0x01, 0x8E}, &mqtt.Disconnect{ReasonCode: mqtt.SessionTakenOver}},
		{"DISCONNECT 5.0 long form of normal", mqtt.V5, []byte{0xE0, 0x02, 0x00, 0x00}, &mqtt.Disconnect{}},
		// Properties in any order; user properties keep theirs.
		{"PUBLISH 5.0 properties out of order", mqtt.V5, []byte{
			0x30, 0x15, 0x00, 0x01, 't',
			0x11,
			0x26, 0x00, 0x01, 'b', 0x00, 0x00,
			0x23, 0x00, 0x02,
			0x26, 0x00, 0x01, 'a', 0x00, 0x00,
			0x01, 0x00,
		}, &mqtt.Publish{Topic: "t", Properties: func() (p mqtt.Properties) {
			p.SetUint16(mqtt.PropTopicAlias, 2)
			p.SetByte(mqtt.PropPayloadFormatIndicator, 0)
			p.UserProperties = []mqtt.UserProperty{{Key: "b"}, {Key: "a"}}
			return p
		}()}},
		// A Remaining Length need not be minimal to be read.
		{"PINGREQ two byte remaining length", mqtt.V311, []byte{0xC0, 0x80, 0x00}, &mqtt.Pingreq{}},
		// Will topic and user name may hold any valid UTF-8 (1.5.4).
		{"CONNECT 3.1.1 U+FFFF is allowed", mqtt.V311, []byte{
			0x10, 0x10, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x00, 0x00, 0x00,
			0x00, 0x04, 'a', 0xEF, 0xBF, 0xBF,
		}, &mqtt.Connect{ProtocolName: "MQTT", Version: mqtt.V311, ClientID: "a\uFFFF"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := mqtt.ReadPacket(bytes.NewReader(c.b), c.v, 0)
			if err != nil {
				t.Fatalf("ReadPacket: %v", err)
			}
			checkPacket(t, "decode", p, c.want)
			again, err := mqtt.ReadPacket(bytes.NewReader(mustEncode(t, p, c.v)), c.v, 0)
			if err != nil {
				t.Fatalf("decoding the re-encoding: %v", err)
			}
			checkPacket(t, "round trip", again, c.want)
		})
	}
}

// TestUserPropertyRepeated: a user property may appear more than once
// (2.2.2.2), every other property at most once [MQTT-2.2.2-2 as cited].
func TestUserPropertyRepeated(t *testing.T) {
	b := []byte{
		0x40, 0x12, 0x00, 0x01, 0x00,
		0x0E,
		0x26, 0x00, 0x01, 'k', 0x00, 0x01, '1',
		0x26, 0x00, 0x01, 'k', 0x00, 0x01, '1',
	}
	p, err := mqtt.ReadPacket(bytes.NewReader(b), mqtt.V5, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.(*mqtt.Puback).Properties.UserProperties; len(got) != 2 {
		t.Errorf("user properties %v, want both", got)
	}
}

// TestConnectReturnedWithError: a CONNECT that fails after its protocol
// name and level were read comes back with the error, so the server can
// answer in the client's version [MQTT-3.1.2-2, MQTT-4.13.1-1]; one whose
// name is not MQTT's does not [MQTT-3.1.2-1].
func TestConnectReturnedWithError(t *testing.T) {
	for _, b := range mqtttest.Malformed() {
		if b.Bytes[0] != 0x10 {
			continue
		}
		p, err := mqtt.ReadPacket(bytes.NewReader(b.Bytes), b.Version, 0)
		if err == nil {
			t.Fatalf("%s decoded", b.Name)
		}
		_, body := splitFrame(t, b.Bytes)
		n := int(body[0])<<8 | int(body[1])
		name := ""
		if 2+n <= len(body) {
			name = string(body[2 : 2+n])
		}
		if (name != "MQTT" && name != "MQIsdp") || 2+n >= len(body) {
			if p != nil {
				t.Errorf("%s: %s returned with %v", b.Name, dump(p), err)
			}
			continue
		}
		c, ok := p.(*mqtt.Connect)
		if !ok || c.ProtocolName != name || c.Version != mqtt.Version(body[2+n]) {
			t.Errorf("%s: got %s with %v, want the CONNECT's name and level", b.Name, dump(p), err)
		}
	}
}
