package backend

import (
	"slices"
	"testing"
	"time"

	"edgemq/gateway/broker"

	"edgemq/gateway/cluster/clustertest"
	"edgemq/mqtt"

	"github.com/nats-io/nats.go"
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

// TestIngressDropsForeignMessages: what another NATS client publishes on
// a live subject that is no edgemq message (not an MQTT PUBLISH, a
// truncated one, a bad From header) is dropped and counted, and the
// node's sessions go on receiving the cluster's messages.
func TestIngressDropsForeignMessages(t *testing.T) {
	nc, nodes := startNodes(t, 2)
	b := nodes[1]
	s, c := b.open(t, "victim")
	b.subscribe(t, s, "x", 0)
	clustertest.WaitInterest(t, nc.Servers[0], "emq.t.x")
	good, err := encodeMessage(broker.NewMessage(&mqtt.Publish{Topic: "x", Payload: []byte("real")}, "p", time.Now()), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	foreign := []*nats.Msg{
		{Data: []byte("hello")},
		{Data: good[:len(good)-1]},
		{Data: []byte{0x20, 0x02, 0, 0}}, // a CONNACK
		{Data: good, Header: nats.Header{hdrFrom: {"%zz"}}},
		{Data: nil},
	}
	// Then, from the same connection, so that it arrives after them, an
	// edgemq message as a node sends it.
	real := &nats.Msg{Data: good, Header: headers("elsewhere/1", 1, "p")}
	conn := nc.Connect(t, 0)
	for _, m := range append(foreign, real) {
		m.Subject = "emq.t.x"
		if err := conn.PublishMsg(m); err != nil {
			t.Fatal(err)
		}
	}
	if err := conn.Flush(); err != nil {
		t.Fatal(err)
	}
	if p := c.next(t); string(p.Payload) != "real" {
		t.Fatalf("got %q, want the real message first", p.Payload)
	}
	if got := b.be.Counters().Unroutable.Load(); got != int64(len(foreign)) {
		t.Fatalf("%d foreign messages counted, want %d", got, len(foreign))
	}
}
