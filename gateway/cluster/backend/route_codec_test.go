package backend

import (
	"testing"
	"time"

	"edgemq/gateway/broker"
	"edgemq/mqtt"
)

// TestMsgID: a retransmission has the Nats-Msg-Id of the first
// transmission even when the Message Expiry Interval left has changed
// meanwhile (the stream stores it once); another packet id, client id or
// payload makes another id.
func TestMsgID(t *testing.T) {
	t0 := time.Now()
	id := func(from string, pid uint16, payload string, at time.Time) string {
		t.Helper()
		p := &mqtt.Publish{Topic: "t", QoS: 1, PacketID: pid, Payload: []byte(payload)}
		p.Properties.SetUint32(mqtt.PropMessageExpiryInterval, 60)
		m := broker.NewMessage(p, from, t0)
		data, err := encodeMessage(m, at)
		if err != nil {
			t.Fatal(err)
		}
		s, err := msgID(m, m.InboundID(), data)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	first := id("c", 7, "x", t0)
	if again := id("c", 7, "x", t0.Add(5*time.Second)); again != first {
		t.Errorf("a retransmission 5s later has id %s, want %s", again, first)
	}
	for name, other := range map[string]string{
		"packet id": id("c", 8, "x", t0),
		"client id": id("d", 7, "x", t0),
		"payload":   id("c", 7, "y", t0),
	} {
		if other == first {
			t.Errorf("another %s has the same id", name)
		}
	}
}
