package backend

import (
	"slices"
	"testing"

	"edgemq/gateway/cluster/clustertest"
	"edgemq/mqtt"
)

// TestIngressOncePerSession: a message from another node matching several
// filters of one session, each its own NATS subscription (a/+, a/#,
// +/b, and a/b itself), reaches the session once, with every matching
// Subscription Identifier [MQTT-3.3.4-3, MQTT-3.3.4-5]; a second session
// on the node gets its own copy; the fence behind it comes next.
func TestIngressOncePerSession(t *testing.T) {
	nc, nodes := startNodes(t, 2)
	a, b := nodes[0], nodes[1]
	s, c := b.open(t, "multi")
	filters := []string{"a/+", "a/#", "+/b", "a/b"}
	for i, f := range filters {
		b.subscribe(t, s, f, uint32(i+1))
	}
	s2, c2 := b.open(t, "single")
	b.subscribe(t, s2, "a/b", 9)
	b.subscribe(t, s2, "fence", 0)
	b.subscribe(t, s, "fence", 0)
	for _, subj := range []string{"emq.t.a.b", "emq.t.fence"} {
		clustertest.WaitInterest(t, nc.Servers[0], subj)
	}
	for _, qos := range []byte{0, 1} {
		a.publish(t, "pub", &mqtt.Publish{Topic: "a/b", QoS: qos, Payload: []byte("x")})
		a.publish(t, "pub", &mqtt.Publish{Topic: "fence", QoS: qos, Payload: []byte("fence")})
		p := c.next(t)
		ids := slices.Sorted(slices.Values(p.Properties.SubscriptionIdentifiers))
		if p.Topic != "a/b" || !slices.Equal(ids, []uint32{1, 2, 3, 4}) {
			t.Fatalf("qos %d: got %q with ids %v, want a/b with 1 2 3 4", qos, p.Topic, ids)
		}
		if p := c.next(t); p.Topic != "fence" {
			t.Fatalf("qos %d: got %q (a second copy?) before the fence", qos, p.Topic)
		}
		if p := c2.next(t); p.Topic != "a/b" || !slices.Equal(p.Properties.SubscriptionIdentifiers, []uint32{9}) {
			t.Fatalf("qos %d: second session got %q with ids %v", qos, p.Topic, p.Properties.SubscriptionIdentifiers)
		}
		if p := c2.next(t); p.Topic != "fence" {
			t.Fatalf("qos %d: second session got %q before the fence", qos, p.Topic)
		}
	}
}
