package gateway

import (
	"testing"

	"edgemq/mqtt"
)

// dialRawSession connects to ts as clientID with Clean Start 0 and a
// Session Expiry Interval of 300 s, and returns the client and its
// CONNACK.
func dialRawSession(tb testing.TB, ts *testServer, clientID string) (*rawV5, *mqtt.Connack) {
	tb.Helper()
	c := &rawV5{conn: dial(tb, ts, "tcp")}
	cp := &mqtt.Connect{ProtocolName: "MQTT", Version: mqtt.V5, KeepAlive: 60, ClientID: clientID}
	cp.Properties.SetUint32(mqtt.PropSessionExpiryInterval, 300)
	c.send(tb, cp)
	ack, ok := c.read(tb).(*mqtt.Connack)
	if !ok || ack.ReasonCode != mqtt.Success {
		tb.Fatalf("connect %q: got %+v", clientID, ack)
	}
	return c, ack
}

// expect reads the next packet, which must be of type t.
func (c *rawV5) expect(tb testing.TB, t mqtt.Type) mqtt.Packet {
	tb.Helper()
	p := c.read(tb)
	if p == nil || p.Type() != t {
		tb.Fatalf("got %+v, want %v", p, t)
	}
	return p
}

// TestClusterQoS2InboundAcrossNodes: a client's QoS 2 PUBLISH got PUBREC
// on node 1; the client moves to node 2 (takeover) and, as it must on
// resuming, sends its PUBREL [MQTT-4.4.0-1]. Node 2 knows the packet id
// (the previous node's answer to the takeover carries it): PUBCOMP
// Success, not 0x92 Packet Identifier not found [MQTT-4.3.3-11]; the
// message, routed at PUBLISH time, reaches a subscriber once.
func TestClusterQoS2InboundAcrossNodes(t *testing.T) {
	c := startCluster(t, 3, nil)
	sub := dialRawV5(t, c.nodes[2], "q2in-sub")
	sub.send(t, &mqtt.Subscribe{PacketID: 1, Subscriptions: []mqtt.Subscription{{Filter: "q2in/#", QoS: 2}}})
	sub.expect(t, mqtt.SUBACK)
	c.waitInterest(t, "q2in/x")

	pub1, _ := dialRawSession(t, c.nodes[0], "q2in-pub")
	pub1.send(t, &mqtt.Publish{QoS: 2, PacketID: 9, Topic: "q2in/x", Payload: []byte("once")})
	if rec := pub1.expect(t, mqtt.PUBREC).(*mqtt.Pubrec); rec.PacketID != 9 || rec.ReasonCode.IsError() {
		t.Fatalf("PUBREC %+v", rec)
	}
	pub2, ack := dialRawSession(t, c.nodes[1], "q2in-pub")
	if !ack.SessionPresent {
		t.Fatal("Session Present 0 after a takeover [MQTT-3.2.2-3]")
	}
	pub2.send(t, &mqtt.Pubrel{PacketID: 9})
	if comp := pub2.expect(t, mqtt.PUBCOMP).(*mqtt.Pubcomp); comp.PacketID != 9 || comp.ReasonCode != mqtt.Success {
		t.Fatalf("PUBCOMP %+v, want Success for id 9 [MQTT-4.3.3-11]", comp)
	}
	pub2.send(t, &mqtt.Publish{QoS: 2, PacketID: 10, Topic: "q2in/x", Payload: []byte("fence")})
	pub2.expect(t, mqtt.PUBREC)

	// The subscriber: "once" once, then the fence.
	var got []string
	for len(got) == 0 || got[len(got)-1] != "fence" {
		switch p := sub.read(t).(type) {
		case *mqtt.Publish:
			got = append(got, string(p.Payload))
			sub.send(t, &mqtt.Pubrec{PacketID: p.PacketID})
		case *mqtt.Pubrel:
			sub.send(t, &mqtt.Pubcomp{PacketID: p.PacketID})
		case nil:
			t.Fatalf("subscriber closed after %q", got)
		}
	}
	if len(got) != 2 || got[0] != "once" {
		t.Fatalf("subscriber got %q, want [once fence]", got)
	}
}
