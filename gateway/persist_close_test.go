package gateway

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"

	"edgemq/mqtt"
)

// TestAckedBeforeClose: a QoS 1 or 2 PUBLISH followed at once by
// DISCONNECT, in one write, is acknowledged before the connection closes.
// With the store in sync mode the acknowledgement waits for the commit;
// the connection layer waits for it (proto.Channel.AcksFlushed) before it
// closes, so what the gateway stored is never left unacknowledged
// [MQTT-4.3.2-2, MQTT-4.3.3-8].
func TestAckedBeforeClose(t *testing.T) {
	for _, tt := range []struct {
		qos  byte
		want mqtt.Type
	}{{1, mqtt.PUBACK}, {2, mqtt.PUBREC}} {
		t.Run(mqtt.Type(tt.want).String(), func(t *testing.T) {
			cfg := testConfig(t)
			cfg.Store.Durability = "sync"
			ts := startServer(t, cfg)
			nc := dial(t, ts, "tcp")
			defer nc.Close()
			if code := rawConnect(t, nc, false, "acked-before-close"); code != 0 {
				t.Fatalf("CONNACK return code %d", code)
			}
			var b bytes.Buffer
			pub := &mqtt.Publish{QoS: tt.qos, PacketID: 7, Topic: "close/acked", Payload: []byte("x")}
			if err := mqtt.WritePacket(&b, pub, mqtt.V311); err != nil {
				t.Fatal(err)
			}
			if err := mqtt.WritePacket(&b, &mqtt.Disconnect{}, mqtt.V311); err != nil {
				t.Fatal(err)
			}
			if _, err := nc.Write(b.Bytes()); err != nil {
				t.Fatal(err)
			}
			nc.SetReadDeadline(time.Now().Add(eventTimeout))
			rd := mqtt.NewReader(nc, 0, nil)
			var got []mqtt.Packet
			for {
				p, err := rd.ReadPacket(mqtt.V311)
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatalf("reading after DISCONNECT: %v (got %v)", err, got)
				}
				got = append(got, p)
			}
			for _, p := range got {
				if p.Type() == tt.want && packetID(p) == 7 {
					return
				}
			}
			t.Fatalf("connection closed after %v, want the %v of packet 7 first", got, tt.want)
		})
	}
}

// packetID returns the packet id of an acknowledgement, 0 for others.
func packetID(p mqtt.Packet) uint16 {
	switch p := p.(type) {
	case *mqtt.Puback:
		return p.PacketID
	case *mqtt.Pubrec:
		return p.PacketID
	}
	return 0
}
