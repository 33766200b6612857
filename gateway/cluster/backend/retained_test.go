package backend_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"edgemq/gateway/broker"
	"edgemq/gateway/cluster"
	"edgemq/gateway/cluster/backend"
	"edgemq/gateway/cluster/clustertest"
	"edgemq/gateway/stats"
	"edgemq/mqtt"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

// retainedNode is one node's broker with its cluster-wide retained
// messages.
type retainedNode struct {
	b   *broker.Broker
	r   *backend.Retained
	pub broker.Publisher
}

// startRetained runs Retained for b, node name, on server i of c.
func startRetained(t *testing.T, c *clustertest.Cluster, i int, name string, b *broker.Broker) *retainedNode {
	t.Helper()
	r, err := backend.NewRetained(c.Connect(t, i), name, b, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-ran; err != nil {
			t.Errorf("Retained.Run: %v", err)
		}
	})
	return &retainedNode{b: b, r: r, pub: backend.WithRetained(b, r)}
}

func newBroker() *broker.Broker {
	return broker.New(broker.Config{}, &stats.Counters{}, nil, zap.NewNop())
}

// ensureLayout creates the layout with replicas 3.
func ensureLayout(t *testing.T, c *clustertest.Cluster) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clustertest.Timeout)
	defer cancel()
	js, err := jetstream.New(c.Connect(t, 0))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cluster.EnsureLayout(ctx, js, cluster.LayoutOptions{Replicas: len(c.Servers)}); err != nil {
		t.Fatal(err)
	}
}

// retain routes a retained PUBLISH through n's publisher and waits for
// its completion, as a QoS 1 PUBLISH waits before PUBACK.
func (n *retainedNode) retain(t *testing.T, topic, payload string) {
	t.Helper()
	end := n.pub.Begin()
	var buf []broker.Match
	p := &mqtt.Publish{Topic: topic, Payload: []byte(payload), QoS: 1, Retain: true, PacketID: 9}
	n.pub.RouteAt(broker.NewMessage(p, "pub-"+topic, time.Now()), &buf, time.Now())
	end()
	done := make(chan error, 1)
	if !n.pub.Durable() || !n.pub.AfterCommit("pub-"+topic, func(err error) { done <- err }) {
		t.Fatal("a retained PUBLISH completes without waiting for the cluster")
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("retaining %q: %v", topic, err)
		}
	case <-time.After(clustertest.Timeout):
		t.Fatalf("retaining %q: no completion", topic)
	}
}

func payloadOf(b *broker.Broker, topic string) string {
	m := b.RetainedLookup(topic)
	if m == nil {
		return ""
	}
	return string(m.Publish().Payload)
}

// TestRetainedAcrossNodes: retained messages stored through one node are
// acknowledged once the stream has them (a direct read finds them at
// completion), reach every node's broker, more than 1,000 of them under
// one wildcard, and an empty payload deletes on every node.
func TestRetainedAcrossNodes(t *testing.T) {
	c := clustertest.Start(t, 3)
	ensureLayout(t, c)
	nodes := []*retainedNode{
		startRetained(t, c, 0, "n1", newBroker()),
		startRetained(t, c, 1, "n2", newBroker()),
		startRetained(t, c, 2, "n3", newBroker()),
	}
	ctx, cancel := context.WithTimeout(context.Background(), clustertest.Timeout)
	defer cancel()
	js, err := jetstream.New(c.Connect(t, 2))
	if err != nil {
		t.Fatal(err)
	}
	stream, err := js.Stream(ctx, cluster.RetainedStream)
	if err != nil {
		t.Fatal(err)
	}

	nodes[0].retain(t, "a/b", "one")
	// Acknowledged means stored: the stream has it now.
	if m, err := stream.GetLastMsgForSubject(ctx, cluster.RetainedSubject("a/b")); err != nil {
		t.Fatalf("the stream lacks an acknowledged retained message: %v", err)
	} else if p, _, err := cluster.DecodeRetained(m.Data); err != nil || string(p.Payload) != "one" {
		t.Fatalf("stream holds %v, %v", p, err)
	}
	for i, n := range nodes {
		clustertest.Eventually(t, func() bool { return payloadOf(n.b, "a/b") == "one" },
			func() string { return fmt.Sprintf("node %d holds %q", i+1, payloadOf(n.b, "a/b")) })
	}

	const many = 1200
	for i := range many {
		// Fire them all, then wait once: as many publishers would.
		end := nodes[1].pub.Begin()
		var buf []broker.Match
		p := &mqtt.Publish{Topic: fmt.Sprintf("site/%d/t", i), Payload: []byte(fmt.Sprint(i)), Retain: true}
		nodes[1].pub.RouteAt(broker.NewMessage(p, "bulk", time.Now()), &buf, time.Now())
		end()
	}
	nodes[1].retain(t, "site/last/t", "last")
	for i, n := range nodes {
		clustertest.Eventually(t, func() bool { return len(n.b.RetainedMatch("site/+/t", time.Now())) == many+1 },
			func() string {
				return fmt.Sprintf("node %d matches %d of %d", i+1, len(n.b.RetainedMatch("site/+/t", time.Now())), many+1)
			})
	}

	// Overwritten on one node, deleted from another: everywhere.
	nodes[2].retain(t, "a/b", "two")
	for i, n := range nodes {
		clustertest.Eventually(t, func() bool { return payloadOf(n.b, "a/b") == "two" },
			func() string { return fmt.Sprintf("node %d holds %q after the overwrite", i+1, payloadOf(n.b, "a/b")) })
	}
	nodes[0].retain(t, "a/b", "") // [MQTT-3.3.1-6] an empty payload deletes
	nodes[0].retain(t, "site/7/t", "")
	for i, n := range nodes {
		clustertest.Eventually(t, func() bool { return n.b.RetainedLookup("a/b") == nil && n.b.RetainedLookup("site/7/t") == nil },
			func() string { return fmt.Sprintf("node %d still holds a deleted topic", i+1) })
	}

	// A burst of one topic's values from one node ends at the last value
	// everywhere, the origin included (it never goes back to its own
	// older value for good).
	for i := range 50 {
		end := nodes[0].pub.Begin()
		var buf []broker.Match
		p := &mqtt.Publish{Topic: "burst", Payload: []byte(fmt.Sprint(i)), Retain: true}
		nodes[0].pub.RouteAt(broker.NewMessage(p, "burst", time.Now()), &buf, time.Now())
		end()
	}
	nodes[0].retain(t, "burst", "final")
	for i, n := range nodes {
		clustertest.Eventually(t, func() bool { return payloadOf(n.b, "burst") == "final" },
			func() string { return fmt.Sprintf("node %d holds %q after the burst", i+1, payloadOf(n.b, "burst")) })
	}
	if s := nodes[1].r.Stats(); s.Stored != many+1 || s.Failed != 0 {
		t.Errorf("node 2 stats %+v, want %d stored", s, many+1)
	}
}

// TestRetainedRejoin: a node that comes back with retained messages in
// its own store (restored from disk) drops those the cluster deleted while
// it was away and takes the current ones.
func TestRetainedRejoin(t *testing.T) {
	c := clustertest.Start(t, 3)
	ensureLayout(t, c)
	n1 := startRetained(t, c, 0, "n1", newBroker())
	n1.retain(t, "kept", "cluster")
	n1.retain(t, "changed", "new")

	// n2's broker as restored from its store: a topic deleted meanwhile,
	// an old value, and one that is current.
	b := newBroker()
	for topic, v := range map[string]string{"gone": "stale", "changed": "old", "kept": "cluster"} {
		b.StoreRetained(broker.NewMessage(&mqtt.Publish{Topic: topic, Payload: []byte(v), Retain: true}, "pub-"+topic, time.Now()))
	}
	n2 := startRetained(t, c, 1, "n2", b)
	clustertest.Eventually(t, func() bool {
		return n2.r.Caught() && b.RetainedLookup("gone") == nil && payloadOf(b, "changed") == "new" && payloadOf(b, "kept") == "cluster"
	}, func() string {
		return fmt.Sprintf("after rejoining: caught %v, gone %q, changed %q, kept %q", n2.r.Caught(), payloadOf(b, "gone"), payloadOf(b, "changed"), payloadOf(b, "kept"))
	})
}

// TestRetainedExpiryRunsFromStorage: a retained message's Message Expiry
// Interval counts from when the cluster stored it, not from when a node
// mirrored it: a node mirroring after the interval ran out does not
// hold it [MQTT-3.3.2-5].
func TestRetainedExpiryRunsFromStorage(t *testing.T) {
	c := clustertest.Start(t, 3)
	ensureLayout(t, c)
	n1 := startRetained(t, c, 0, "n1", newBroker())
	n1.retain(t, "forever", "x")
	p := &mqtt.Publish{Topic: "exp", Payload: []byte("x"), QoS: 1, Retain: true}
	p.Properties.SetUint32(mqtt.PropMessageExpiryInterval, 1)
	end := n1.pub.Begin()
	var buf []broker.Match
	stored := time.Now()
	n1.pub.RouteAt(broker.NewMessage(p, "c", stored), &buf, stored)
	end()
	done := make(chan error, 1)
	n1.pub.AfterCommit("c", func(err error) { done <- err })
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// Let the interval run out (with a second of margin for the stream's
	// clock), then mirror on a new node.
	clustertest.Eventually(t, func() bool { return time.Since(stored) > 2*time.Second }, func() string { return "time stands still" })
	b := newBroker()
	n2 := startRetained(t, c, 1, "n2", b)
	clustertest.Eventually(t, func() bool { return n2.r.Caught() && payloadOf(b, "forever") == "x" },
		func() string { return "not mirrored" })
	if m := b.RetainedLookup("exp"); m != nil {
		t.Errorf("an expired retained message was mirrored, expiring at %v", m.Expires())
	}
}

// TestWaitMirrored: once WaitMirrored returns, every retained message the
// cluster acknowledged before the call is in the node's own store, with
// no polling (what a SUBSCRIBE relies on).
func TestWaitMirrored(t *testing.T) {
	c := clustertest.Start(t, 3)
	ensureLayout(t, c)
	n1 := startRetained(t, c, 0, "n1", newBroker())
	n3 := startRetained(t, c, 2, "n3", newBroker())
	for round := range 3 {
		for i := range 100 {
			end := n1.pub.Begin()
			var buf []broker.Match
			p := &mqtt.Publish{Topic: fmt.Sprintf("w/%d/%d", round, i), Payload: []byte("x"), Retain: true}
			n1.pub.RouteAt(broker.NewMessage(p, "c", time.Now()), &buf, time.Now())
			end()
		}
		n1.retain(t, fmt.Sprintf("w/%d/last", round), "x")
		// As many SUBSCRIBEs at once would (their asks share reads).
		var wg sync.WaitGroup
		for range 50 {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), clustertest.Timeout)
				defer cancel()
				if err := n3.r.WaitMirrored(ctx); err != nil {
					t.Error(err)
					return
				}
				if got := len(n3.b.RetainedMatch(fmt.Sprintf("w/%d/+", round), time.Now())); got != 101 {
					t.Errorf("round %d: after WaitMirrored node 3 holds %d of 101", round, got)
				}
			})
		}
		wg.Wait()
	}
}
