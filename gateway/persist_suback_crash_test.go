package gateway

import (
	"fmt"
	"testing"
	"time"

	"edgemq/mqtt"
)

// TestCrashSubackStored: a subscription whose SUBACK reached the client
// survives a kill -9 of the gateway right after it (durability sync,
// persistent session). The SUBSCRIBE carries many filters so that its
// store write takes a while; the test kills the binary as soon as SUBACK
// is read, over several rounds, and checks after each restart that a
// message published to the last filter is routed to the session (PUBACK
// 0x00, not 0x10 No matching subscribers) and arrives. An UNSUBSCRIBE
// whose UNSUBACK arrived is checked the same way: the message then finds
// no subscriber.
func TestCrashSubackStored(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the binary")
	}
	const rounds, filters = 3, 3000
	g := newCrashGateway(t)
	g.start()
	for r := range rounds {
		clientID := fmt.Sprintf("suback-%d", r)
		c, err := eoDial(g.addr, clientID, true)
		if err != nil {
			t.Fatal(err)
		}
		sub := &mqtt.Subscribe{PacketID: 7}
		for i := range filters {
			sub.Subscriptions = append(sub.Subscriptions, mqtt.Subscription{Filter: fmt.Sprintf("sk/%d/%05d", r, i), QoS: 1})
		}
		if err := c.write(sub); err != nil {
			t.Fatal(err)
		}
		c.nc.SetReadDeadline(time.Now().Add(eventTimeout))
		p, err := c.read()
		if err != nil {
			t.Fatalf("round %d: reading suback: %v", r, err)
		}
		if a, ok := p.(*mqtt.Suback); !ok || len(a.ReasonCodes) != filters || a.ReasonCodes[filters-1] != mqtt.GrantedQoS1 {
			t.Fatalf("round %d: want SUBACK granting qos 1, got %v", r, p.Type())
		}
		g.kill() // at once: the SUBACK is all the client knows
		c.nc.Close()
		g.start()

		last := fmt.Sprintf("sk/%d/%05d", r, filters-1)
		c, err = eoDial(g.addr, clientID, false)
		if err != nil {
			t.Fatalf("round %d: resuming after the crash: %v", r, err)
		}
		if code := crashPublish(t, g.addr, last, "after-suback"); code != mqtt.Success {
			t.Fatalf("round %d: PUBACK %v for the acknowledged subscription's topic, want success (the subscription was lost)", r, code)
		}
		c.nc.SetReadDeadline(time.Now().Add(eventTimeout))
		p, err = c.read()
		if pub, ok := p.(*mqtt.Publish); err != nil || !ok || pub.Topic != last {
			t.Fatalf("round %d: want the message on %s, got %v (%v)", r, last, p, err)
		}

		// UNSUBSCRIBE all of them, kill at UNSUBACK: nothing is routed.
		unsub := &mqtt.Unsubscribe{PacketID: 8}
		for _, s := range sub.Subscriptions {
			unsub.Filters = append(unsub.Filters, s.Filter)
		}
		if err := c.write(unsub); err != nil {
			t.Fatal(err)
		}
		for {
			p, err = c.read()
			if err != nil {
				t.Fatalf("round %d: reading unsuback: %v", r, err)
			}
			if _, ok := p.(*mqtt.Unsuback); ok {
				break
			}
		}
		g.kill()
		c.nc.Close()
		g.start()
		if code := crashPublish(t, g.addr, last, "after-unsuback"); code != mqtt.NoMatchingSubscribers {
			t.Fatalf("round %d: PUBACK %v after the acknowledged UNSUBSCRIBE, want 0x10 no matching subscribers", r, code)
		}
	}
}

// crashPublish publishes payload to topic at QoS 1 from a fresh client
// and returns the PUBACK's reason code.
func crashPublish(tb testing.TB, addr, topic, payload string) mqtt.ReasonCode {
	tb.Helper()
	c, err := eoDial(addr, "suback-pub", true)
	if err != nil {
		tb.Fatal(err)
	}
	defer c.nc.Close()
	if err := c.write(&mqtt.Publish{QoS: 1, PacketID: 1, Topic: topic, Payload: []byte(payload)}); err != nil {
		tb.Fatal(err)
	}
	c.nc.SetReadDeadline(time.Now().Add(eventTimeout))
	p, err := c.read()
	ack, ok := p.(*mqtt.Puback)
	if err != nil || !ok {
		tb.Fatalf("want PUBACK, got %v (%v)", p, err)
	}
	return ack.ReasonCode
}
