package gateway

import (
	"testing"

	"edgemq/mqtt"

	"github.com/eclipse/paho.golang/paho"
)

// TestPayloadFormatValidation checks validate_payload_format: a v5
// PUBLISH or will whose Payload Format Indicator says UTF-8 but whose
// payload is not is refused with Payload Format Invalid (0x99).
func TestPayloadFormatValidation(t *testing.T) {
	cfg := testConfig(t)
	cfg.MQTT.ValidatePayloadFormat = true
	ts := startServer(t, cfg)
	sub := connectV5(t, ts, v5Connect("pf-sub"))
	sub.subscribe(t, "pf/#", 1)
	pub := connectV5(t, ts, v5Connect("pf-pub"))
	utf8 := byte(1)
	bad := []byte{0xff, 0xfe}
	for _, qos := range []byte{1, 2} {
		r, err := pub.Publish(t.Context(), &paho.Publish{Topic: "pf/bad", QoS: qos, Payload: bad, Properties: &paho.PublishProperties{PayloadFormat: &utf8}})
		if r == nil || r.ReasonCode != byte(mqtt.PayloadFormatInvalid) {
			t.Errorf("qos %d: got %v (%v), want reason code 0x99", qos, r, err)
		}
	}
	pub.publish(t, &paho.Publish{Topic: "pf/bad", QoS: 0, Payload: bad, Properties: &paho.PublishProperties{PayloadFormat: &utf8}})
	// Not UTF-8 but not marked as UTF-8: delivered as it is.
	pub.publish(t, &paho.Publish{Topic: "pf/binary", QoS: 1, Payload: bad})
	pub.publish(t, &paho.Publish{Topic: "pf/text", QoS: 1, Payload: []byte("héllo"), Properties: &paho.PublishProperties{PayloadFormat: &utf8}})
	if m := sub.expectMessage(t); m.Topic != "pf/binary" {
		t.Errorf("got %q first, want pf/binary: the invalid ones must not be routed", m.Topic)
	}
	m := sub.expectMessage(t)
	if m.Topic != "pf/text" || m.Properties == nil || m.Properties.PayloadFormat == nil || *m.Properties.PayloadFormat != 1 {
		t.Errorf("got %+v, want pf/text with its format indicator passed through", m)
	}
	if got := ts.Stats().Dropped["payload_format"]; got != 3 {
		t.Errorf("dropped payload_format %d, want 3", got)
	}

	// paho.golang does not send a will's Payload Format Indicator, so the
	// CONNECT is written with the codec.
	c := dial(t, ts, "tcp")
	connect := &mqtt.Connect{Version: mqtt.V5, ClientID: "pf-will", CleanStart: true,
		Will: &mqtt.Will{Topic: "pf/will", Payload: bad}}
	connect.Will.Properties.SetByte(mqtt.PropPayloadFormatIndicator, 1)
	if err := mqtt.WritePacket(c, connect, mqtt.V5); err != nil {
		t.Fatal(err)
	}
	p, err := mqtt.ReadPacket(c, mqtt.V5, 0)
	if ack, ok := p.(*mqtt.Connack); !ok || ack.ReasonCode != mqtt.PayloadFormatInvalid {
		t.Errorf("will with a bad UTF-8 payload: got %v, %v; want CONNACK 0x99", p, err)
	}
}

// TestOfflineQueueBounds checks that a session's offline queue keeps at
// most max_offline_messages and max_offline_bytes, drops the newest
// beyond them, counts the drops, and delivers what it kept in order.
func TestOfflineQueueBounds(t *testing.T) {
	tests := []struct {
		name     string
		messages int
		bytes    int64
		want     int
	}{
		{"message bound", 3, 0, 3},
		{"byte bound", 100, 10, 5}, // two-byte payloads
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t)
			cfg.Session.MaxOfflineMessages = tt.messages
			cfg.Session.MaxOfflineBytes = tt.bytes
			ts := startServer(t, cfg)
			cp := &paho.Connect{ClientID: "oq-sub", KeepAlive: 60, Properties: &paho.ConnectProperties{SessionExpiryInterval: refOf(uint32(60))}}
			cp.CleanStart = true
			sub := connectV5(t, ts, cp)
			sub.subscribe(t, "oq/#", 1)
			sub.Disconnect(&paho.Disconnect{})
			// The session is detached before the connection stops counting.
			waitConnections(t, ts, 0)
			pub := connectV5(t, ts, v5Connect("oq-pub"))
			for i := range 8 {
				pub.publish(t, &paho.Publish{Topic: "oq/t", QoS: 1, Payload: []byte{'0', byte('0' + i)}})
			}
			if got := ts.Stats().Dropped["queue_full"]; got != int64(8-tt.want) {
				t.Errorf("dropped %d, want %d", got, 8-tt.want)
			}
			cp.CleanStart = false
			again := connectV5(t, ts, cp)
			for i := range tt.want {
				m := again.expectMessage(t)
				if want := string([]byte{'0', byte('0' + i)}); string(m.Payload) != want {
					t.Errorf("message %d: %q, want %q (oldest kept, in order)", i, m.Payload, want)
				}
			}
			again.expectFence(t, pub, "oq/fence")
		})
	}
}
