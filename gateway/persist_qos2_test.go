package gateway

import (
	"fmt"
	"testing"
	"time"

	"edgemq/mqtt"
)

// TestResendOrderWithStore checks that QoS 1 and QoS 2 deliveries to a
// persistent session keep their order in every durability mode, though a
// QoS 2 PUBLISH waits for the store before it leaves (persist_qos2.go):
// first sent in the order published [MQTT-4.6.0-6], re-sent on resume in
// the same order with DUP [MQTT-4.6.0-1, MQTT-4.4.0-1], and the PUBRELs
// in the order of the PUBRECs [MQTT-4.6.0-4].
func TestResendOrderWithStore(t *testing.T) {
	for _, mode := range []string{"sync", "async", "memory"} {
		t.Run(mode, func(t *testing.T) {
			cfg := testConfig(t)
			cfg.Store.Durability = mode
			cfg.Store.FlushInterval = 10 * time.Millisecond
			addr := startServer(t, cfg).addr(t, "tcp")

			sub, err := eoDial(addr, "ord-sub", true)
			if err != nil {
				t.Fatal(err)
			}
			if err := sub.subscribe("ord/#", 2); err != nil {
				t.Fatal(err)
			}
			pub, err := eoDial(addr, "ord-pub", true)
			if err != nil {
				t.Fatal(err)
			}
			defer pub.nc.Close()
			var want []string
			for i := range 10 {
				qos := byte(2 - i%2)
				payload := fmt.Sprintf("m%d-q%d", i, qos)
				want = append(want, payload)
				publishAcked(t, pub, qos, uint16(i+1), payload)
			}
			// Received, none acknowledged.
			first := readPublishes(t, sub, len(want))
			for i, p := range first {
				if string(p.Payload) != want[i] || p.Dup {
					t.Fatalf("delivery %d: %q dup %v, want %q in publish order", i, p.Payload, p.Dup, want[i])
				}
			}
			sub.nc.Close()

			sub, err = eoDial(addr, "ord-sub", false)
			if err != nil {
				t.Fatal(err)
			}
			defer sub.nc.Close()
			again := readPublishes(t, sub, len(want))
			var rel []uint16
			for i, p := range again {
				if string(p.Payload) != want[i] || !p.Dup || p.PacketID != first[i].PacketID {
					t.Fatalf("re-sent %d: %q dup %v id %d, want %q dup id %d", i, p.Payload, p.Dup, p.PacketID, want[i], first[i].PacketID)
				}
				if p.QoS == 2 {
					rel = append(rel, p.PacketID)
				}
			}
			// PUBREC in reverse order: the PUBRELs follow it.
			for i := len(rel) - 1; i >= 0; i-- {
				if err := sub.write(&mqtt.Pubrec{PacketID: rel[i]}); err != nil {
					t.Fatal(err)
				}
			}
			for i := len(rel) - 1; i >= 0; i-- {
				p := readPacket(t, sub)
				if r, ok := p.(*mqtt.Pubrel); !ok || r.PacketID != rel[i] {
					t.Fatalf("got %v, want PUBREL %d", p, rel[i])
				}
			}
		})
	}
}

// publishAcked publishes payload at qos and completes the exchange.
func publishAcked(tb testing.TB, c *eoConn, qos byte, pid uint16, payload string) {
	tb.Helper()
	if err := c.write(&mqtt.Publish{QoS: qos, PacketID: pid, Topic: "ord/a", Payload: []byte(payload)}); err != nil {
		tb.Fatal(err)
	}
	p := readPacket(tb, c)
	if qos == 1 {
		if a, ok := p.(*mqtt.Puback); !ok || a.PacketID != pid || a.ReasonCode.IsError() {
			tb.Fatalf("got %v, want PUBACK %d", p, pid)
		}
		return
	}
	if a, ok := p.(*mqtt.Pubrec); !ok || a.PacketID != pid || a.ReasonCode.IsError() {
		tb.Fatalf("got %v, want PUBREC %d", p, pid)
	}
	if err := c.write(&mqtt.Pubrel{PacketID: pid}); err != nil {
		tb.Fatal(err)
	}
	if a, ok := readPacket(tb, c).(*mqtt.Pubcomp); !ok || a.PacketID != pid {
		tb.Fatalf("no PUBCOMP %d", pid)
	}
}

// readPacket reads one packet within a deadline.
func readPacket(tb testing.TB, c *eoConn) mqtt.Packet {
	tb.Helper()
	c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	p, err := c.read()
	if err != nil {
		tb.Fatalf("reading: %v", err)
	}
	return p
}

// readPublishes reads n PUBLISH packets.
func readPublishes(tb testing.TB, c *eoConn, n int) []*mqtt.Publish {
	tb.Helper()
	var out []*mqtt.Publish
	for len(out) < n {
		p, ok := readPacket(tb, c).(*mqtt.Publish)
		if !ok {
			tb.Fatalf("got %v, want PUBLISH", p)
		}
		out = append(out, p)
	}
	return out
}
