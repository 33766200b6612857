package mqtt_test

import (
	"bytes"
	"strings"
	"testing"

	"edgemq/mqtt"
	"edgemq/mqtt/mqtttest"
)

// TestEncodeRefuses: the encoder refuses what a sender must not send,
// rather than writing bytes the peer would reject or misframe.
func TestEncodeRefuses(t *testing.T) {
	long := strings.Repeat("x", 65536)
	withProps := func(set func(p *mqtt.Properties)) mqtt.Properties {
		var p mqtt.Properties
		set(&p)
		return p
	}
	for _, c := range []struct {
		name string
		p    mqtt.Packet
		v    mqtt.Version
	}{
		{"PUBLISH qos 3 [MQTT-3.3.1-4]", &mqtt.Publish{QoS: 3, Topic: "t", PacketID: 1}, mqtt.V5},
		{"PUBLISH qos 1 packet identifier 0 [MQTT-2.2.1-3]", &mqtt.Publish{QoS: 1, Topic: "t"}, mqtt.V311},
		{"PUBLISH dup on qos 0 [MQTT-3.3.1-2]", &mqtt.Publish{Dup: true, Topic: "t"}, mqtt.V311},
		{"PUBLISH topic over 65535 bytes [MQTT-4.7.3-3]", &mqtt.Publish{Topic: long}, mqtt.V311},
		{"PUBLISH session expiry (not a PUBLISH property)", &mqtt.Publish{Topic: "t", Properties: withProps(func(p *mqtt.Properties) {
			p.SetUint32(mqtt.PropSessionExpiryInterval, 1)
		})}, mqtt.V5},
		{"PUBLISH subscription identifier 0", &mqtt.Publish{Topic: "t", Properties: withProps(func(p *mqtt.Properties) {
			p.SubscriptionIdentifiers = []uint32{0}
		})}, mqtt.V5},
		{"PUBLISH subscription identifier over 268,435,455", &mqtt.Publish{Topic: "t", Properties: withProps(func(p *mqtt.Properties) {
			p.SubscriptionIdentifiers = []uint32{268_435_456}
		})}, mqtt.V5},
		{"PUBLISH content type over 65535 bytes", &mqtt.Publish{Topic: "t", Properties: withProps(func(p *mqtt.Properties) {
			p.SetString(mqtt.PropContentType, long)
		})}, mqtt.V5},
		{"PUBLISH correlation data over 65535 bytes", &mqtt.Publish{Topic: "t", Properties: withProps(func(p *mqtt.Properties) {
			p.SetBinary(mqtt.PropCorrelationData, []byte(long))
		})}, mqtt.V5},
		{"PUBLISH user property value over 65535 bytes", &mqtt.Publish{Topic: "t", Properties: withProps(func(p *mqtt.Properties) {
			p.UserProperties = []mqtt.UserProperty{{Key: "k", Value: long}}
		})}, mqtt.V5},
		{"PUBLISH remaining length over 268,435,455", &mqtt.Publish{Topic: "t", Payload: make([]byte, mqtt.MaxRemainingLength)}, mqtt.V311},
		{"CONNECT client identifier over 65535 bytes", &mqtt.Connect{Version: mqtt.V311, ClientID: long}, mqtt.V311},
		{"CONNECT password over 65535 bytes", &mqtt.Connect{Version: mqtt.V5, PasswordFlag: true, Password: []byte(long)}, mqtt.V5},
		{"CONNECT will payload over 65535 bytes", &mqtt.Connect{Version: mqtt.V311, Will: &mqtt.Will{Topic: "t", Payload: []byte(long)}}, mqtt.V311},
		{"CONNECT will qos 3 [MQTT-3.1.2-12]", &mqtt.Connect{Version: mqtt.V311, Will: &mqtt.Will{QoS: 3, Topic: "t"}}, mqtt.V311},
		{"CONNECT 3.1.1 password without user name [MQTT-3.1.2-22]", &mqtt.Connect{Version: mqtt.V311, PasswordFlag: true}, mqtt.V311},
		{"CONNECT topic alias (not a CONNECT property)", &mqtt.Connect{Version: mqtt.V5, Properties: withProps(func(p *mqtt.Properties) {
			p.SetUint16(mqtt.PropTopicAlias, 1)
		})}, mqtt.V5},
		{"CONNECT will delay in CONNECT properties", &mqtt.Connect{Version: mqtt.V5, Properties: withProps(func(p *mqtt.Properties) {
			p.SetUint32(mqtt.PropWillDelayInterval, 1)
		})}, mqtt.V5},
		{"SUBSCRIBE packet identifier 0", &mqtt.Subscribe{Subscriptions: []mqtt.Subscription{{Filter: "a"}}}, mqtt.V311},
		{"SUBSCRIBE without filter [MQTT-3.8.3-2]", &mqtt.Subscribe{PacketID: 1}, mqtt.V5},
		{"SUBSCRIBE qos 3", &mqtt.Subscribe{PacketID: 1, Subscriptions: []mqtt.Subscription{{Filter: "a", QoS: 3}}}, mqtt.V311},
		{"SUBSCRIBE retain handling 3", &mqtt.Subscribe{PacketID: 1, Subscriptions: []mqtt.Subscription{{Filter: "a", RetainHandling: 3}}}, mqtt.V5},
		{"SUBSCRIBE no local on a shared subscription [MQTT-3.8.3-4]", &mqtt.Subscribe{PacketID: 1, Subscriptions: []mqtt.Subscription{{Filter: "$share/g/a", NoLocal: true}}}, mqtt.V5},
		{"SUBSCRIBE two subscription identifiers", &mqtt.Subscribe{PacketID: 1, Subscriptions: []mqtt.Subscription{{Filter: "a"}},
			Properties: withProps(func(p *mqtt.Properties) { p.SubscriptionIdentifiers = []uint32{1, 2} })}, mqtt.V5},
		{"SUBSCRIBE filter over 65535 bytes", &mqtt.Subscribe{PacketID: 1, Subscriptions: []mqtt.Subscription{{Filter: long}}}, mqtt.V311},
		{"SUBACK packet identifier 0", &mqtt.Suback{ReasonCodes: []mqtt.ReasonCode{0}}, mqtt.V311},
		{"UNSUBSCRIBE packet identifier 0", &mqtt.Unsubscribe{Filters: []string{"a"}}, mqtt.V5},
		{"UNSUBSCRIBE without filter [MQTT-3.10.3-2]", &mqtt.Unsubscribe{PacketID: 1}, mqtt.V311},
		{"UNSUBSCRIBE filter over 65535 bytes", &mqtt.Unsubscribe{PacketID: 1, Filters: []string{long}}, mqtt.V311},
		{"UNSUBACK packet identifier 0", &mqtt.Unsuback{}, mqtt.V5},
		{"PUBACK packet identifier 0", &mqtt.Puback{}, mqtt.V5},
		{"PUBREC packet identifier 0", &mqtt.Pubrec{}, mqtt.V311},
		{"PUBREL packet identifier 0", &mqtt.Pubrel{}, mqtt.V311},
		{"PUBCOMP packet identifier 0", &mqtt.Pubcomp{}, mqtt.V5},
		{"PUBACK topic alias (not a PUBACK property)", &mqtt.Puback{PacketID: 1, Properties: withProps(func(p *mqtt.Properties) {
			p.SetUint16(mqtt.PropTopicAlias, 1)
		})}, mqtt.V5},
		{"DISCONNECT subscription identifier", &mqtt.Disconnect{Properties: withProps(func(p *mqtt.Properties) {
			p.SubscriptionIdentifiers = []uint32{1}
		})}, mqtt.V5},
		{"AUTH in 3.1.1", &mqtt.Auth{}, mqtt.V311},
		{"AUTH without authentication method (3.15.2.2.2)", &mqtt.Auth{ReasonCode: mqtt.ContinueAuthentication}, mqtt.V5},
	} {
		t.Run(c.name, func(t *testing.T) {
			dst := []byte("prefix")
			out, err := mqtt.Append(dst, c.p, c.v)
			if err == nil {
				t.Fatalf("encoded % X", out[:min(len(out), 32)])
			}
			if !bytes.Equal(out, dst) {
				t.Errorf("dst changed on error: %q", out[:min(len(out), 32)])
			}
			if err := mqtt.WritePacket(&bytes.Buffer{}, c.p, c.v); err == nil {
				t.Error("WritePacket wrote it")
			}
		})
	}
}

// TestEncodeLengths crosses the Remaining Length and Variable Byte
// Integer boundaries of 1.5.5 (127/128, 16383/16384, 2097151/2097152).
func TestEncodeLengths(t *testing.T) {
	for _, rl := range []int{0, 127, 128, 16383, 16384, 2_097_151, 2_097_152} {
		p := &mqtt.Publish{Topic: "t"}
		if rl >= 3 {
			p.Payload = make([]byte, rl-3)
		} else {
			continue
		}
		b := mustEncode(t, p, mqtt.V311)
		_, body := splitFrame(t, b)
		if len(body) != rl {
			t.Fatalf("remaining length %d, want %d", len(body), rl)
		}
		want := 1
		for n := rl; n > 127; n >>= 7 {
			want++
		}
		if got := len(b) - rl - 1; got != want {
			t.Errorf("remaining length %d took %d bytes, want %d", rl, got, want)
		}
		got, err := mqtt.ReadPacket(bytes.NewReader(b), mqtt.V311, 0)
		if err != nil || len(got.(*mqtt.Publish).Payload) != rl-3 {
			t.Errorf("remaining length %d: %v", rl, err)
		}
	}
	// A subscription identifier at each Variable Byte Integer size.
	for _, id := range []uint32{1, 127, 128, 16383, 16384, 2_097_151, 2_097_152, 268_435_455} {
		p := &mqtt.Publish{Topic: "t"}
		p.Properties.SubscriptionIdentifiers = []uint32{id}
		b := mustEncode(t, p, mqtt.V5)
		first, body := splitFrame(t, b)
		got, err := mqtt.Decode(first, body, mqtt.V5)
		if err != nil {
			t.Fatalf("subscription identifier %d: %v", id, err)
		}
		checkPacket(t, "subscription identifier", got, p)
	}
	// The largest remaining length is accepted by the encoder's check.
	n, err := mqtt.Size(&mqtt.Publish{Topic: "t", Payload: make([]byte, mqtt.MaxRemainingLength-3)}, mqtt.V311)
	if err != nil || n != mqtt.MaxPacketSize {
		t.Errorf("Size of the largest packet = %d, %v; want %d", n, err, mqtt.MaxPacketSize)
	}
}

// TestAppendPublish: AppendPublish and PublishSize agree with Append and
// the goldens, and a PUBLISH built on the stack encodes without
// allocating.
func TestAppendPublish(t *testing.T) {
	for _, g := range mqtttest.Goldens() {
		p, ok := g.Packet.(*mqtt.Publish)
		if !ok {
			continue
		}
		b, err := mqtt.AppendPublish(nil, p, g.Version)
		if err != nil || !bytes.Equal(b, g.Bytes) {
			t.Errorf("%s: AppendPublish % X, %v", g.Name, b, err)
		}
		if n := mqtt.PublishSize(p, g.Version); n != len(g.Bytes) {
			t.Errorf("%s: PublishSize %d, want %d", g.Name, n, len(g.Bytes))
		}
	}
	if _, err := mqtt.AppendPublish(nil, &mqtt.Publish{QoS: 1, Topic: "t"}, mqtt.V5); err == nil {
		t.Error("AppendPublish encoded qos 1 without a packet identifier")
	}
	buf := make([]byte, 0, 256)
	payload := []byte("payload")
	allocs := testing.AllocsPerRun(100, func() {
		p := mqtt.Publish{QoS: 1, Topic: "a/b", PacketID: 1, Payload: payload}
		p.Properties.SetUint16(mqtt.PropTopicAlias, 3)
		var err error
		if buf, err = mqtt.AppendPublish(buf[:0], &p, mqtt.V5); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("AppendPublish: %v allocations", allocs)
	}
}
