package backend

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"edgemq/gateway/broker"
	"edgemq/gateway/cluster"
	"edgemq/gateway/cluster/clustertest"
	"edgemq/mqtt"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

// mirrorHold holds a node's retained mirror back at the entries of one
// topic while armed: the mirror's goroutine waits in the hook until the
// test releases it.
type mirrorHold struct {
	topic   string
	armed   atomic.Bool
	held    chan struct{} // an entry is being held
	release chan struct{}
	stop    chan struct{} // closed when the test ends: nothing is held
}

func newMirrorHold(topic string) *mirrorHold {
	return &mirrorHold{topic: topic, held: make(chan struct{}, 1), release: make(chan struct{}), stop: make(chan struct{})}
}

func (h *mirrorHold) hook(e cluster.RetainedEntry) {
	if e.Topic != h.topic || !h.armed.Load() {
		return
	}
	select {
	case h.held <- struct{}{}:
	case <-h.stop:
		return
	}
	select {
	case <-h.release:
	case <-h.stop:
	}
}

// keepAlive renews the nodes' liveness records until the test ends (the
// harness does not, so that a test running longer than their TTL, under
// load, would find them lapsed when it closes the nodes).
func keepAlive(tb testing.TB, nodes []*testNode) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, len(nodes))
	for _, tn := range nodes {
		go func() { ran <- tn.node.Run(ctx) }()
	}
	tb.Cleanup(func() {
		cancel()
		for range nodes {
			if err := <-ran; err != nil {
				tb.Logf("renewing a node's liveness: %v", err)
			}
		}
	})
}

// retainedOn is a backend node with its cluster-wide retained messages,
// wired as the server wires them (Operations): publisher and
// subscriptions wrapped.
type retainedOn struct {
	*testNode
	r    *Retained
	pub  broker.Publisher
	subs broker.Subscriptions
}

// withRetained starts Retained on tn; before runs on it before it runs
// (setting the tests' hooks).
func withRetained(tb testing.TB, tn *testNode, before func(r *Retained)) *retainedOn {
	tb.Helper()
	r, err := NewRetained(tn.node.Link().Conn(), tn.node.Name(), tn.b, zaptest.NewLogger(tb, zaptest.Level(zap.WarnLevel)))
	if err != nil {
		tb.Fatal(err)
	}
	if before != nil {
		before(r)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- r.Run(ctx) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-ran; err != nil {
			tb.Errorf("Retained.Run: %v", err)
		}
	})
	return &retainedOn{testNode: tn, r: r, pub: WithRetained(tn.be.Publisher(), r), subs: WithMirroredRetained(tn.be.Subscriptions(), r)}
}

// retain publishes a retained QoS 1 message through n and waits until
// the cluster acknowledged it.
func (n *retainedOn) retain(tb testing.TB, topic, payload string) {
	tb.Helper()
	end := n.pub.Begin()
	var buf []broker.Match
	now := time.Now()
	n.pub.RouteAt(broker.NewMessage(&mqtt.Publish{Topic: topic, Payload: []byte(payload), QoS: 1, Retain: true, PacketID: 7}, "pub", now), &buf, now)
	done := make(chan error, 1)
	if !n.pub.AfterCommit("pub", func(err error) { done <- err }) {
		tb.Fatal("a retained publish completed without the cluster")
	}
	end()
	select {
	case err := <-done:
		if err != nil {
			tb.Fatalf("retaining %q: %v", topic, err)
		}
	case <-time.After(clustertest.Timeout):
		tb.Fatalf("retaining %q: no acknowledgement", topic)
	}
}

// subscribeRetained makes a SUBSCRIBE of s to filter as the channel
// does: registered, RetainedSeq read and the retained delivery started
// inside Subscribing.
func (n *retainedOn) subscribeRetained(s *broker.Session, c *testClient, filter string) error {
	return n.subs.Subscribing(func() error {
		sub := broker.NewSubscription(broker.SubOptions{Filter: filter, QoS: 1})
		if _, full := n.subs.Subscribe(s, sub); full {
			return fmt.Errorf("subscription to %q refused", filter)
		}
		since := n.subs.RetainedSeq()
		s.StartRetained(c, []*broker.Subscription{sub}, since)
		return nil
	})
}

// expect reads c's next delivery and checks it.
func expect(tb testing.TB, c *testClient, topic, payload string, retained bool) {
	tb.Helper()
	p := c.next(tb)
	if p.Topic != topic || string(p.Payload) != payload || p.Retain != retained {
		tb.Fatalf("got %q %q retain %v, want %q %q retain %v", p.Topic, p.Payload, p.Retain, topic, payload, retained)
	}
}

// TestRetainedMirrorRace: a retained message stored in the cluster before
// a SUBSCRIBE on another node, which that node's mirror has not applied
// yet (held back), is delivered to the subscription as retained once the
// mirror applies it [MQTT-3.3.1-9]; a message published after the
// SUBSCRIBE arrives live (retain 0, [MQTT-3.3.1-12]), and nothing twice.
// A mirror held past the wait's bound gets the SUBSCRIBE refused with
// Server busy instead of served without the message; subscribed again
// once the mirror moves, the message is there.
func TestRetainedMirrorRace(t *testing.T) {
	nc, nodes := startNodes(t, 3)
	keepAlive(t, nodes)
	hold := newMirrorHold("race/x")
	targeted := make(chan uint64, 16)
	n1 := withRetained(t, nodes[0], nil)
	n3 := withRetained(t, nodes[2], func(r *Retained) {
		r.hold = hold.hook
		r.targeted = func(seq uint64) {
			select {
			case targeted <- seq:
			default:
			}
		}
	})
	// Registered after n3's, so run before it: a test failing while the
	// mirror is held lets it go, and n3 stops.
	t.Cleanup(func() { close(hold.stop) })
	clustertest.Eventually(t, n3.r.Caught, func() string { return "node 3's mirror never read the stream" })

	t.Run("waits for the mirror", func(t *testing.T) {
		hold.armed.Store(true)
		n1.retain(t, "race/x", "before")
		<-hold.held // node 3's mirror has it and holds it
		s, c := n3.open(t, "race-sub")
		subscribed := make(chan error, 1)
		go func() { subscribed <- n3.subscribeRetained(s, c, "race/#") }()
		// The SUBSCRIBE knows how far the stream is: now let the mirror go.
		<-targeted
		hold.armed.Store(false)
		hold.release <- struct{}{}
		if err := <-subscribed; err != nil {
			t.Fatalf("subscribe: %v", err)
		}
		expect(t, c, "race/x", "before", true)
		// Published after the SUBSCRIBE: live, once.
		clustertest.WaitInterest(t, nc.Servers[0], "emq.t.race.x")
		nodes[0].publish(t, "pub", &mqtt.Publish{Topic: "race/x", Payload: []byte("after")})
		nodes[0].publish(t, "pub", &mqtt.Publish{Topic: "race/end", Payload: []byte("end")})
		expect(t, c, "race/x", "after", false)
		expect(t, c, "race/end", "end", false)
	})

	t.Run("refused past the bound", func(t *testing.T) {
		n3.r.wait = 200 * time.Millisecond // read by the waits only
		defer func() { n3.r.wait = mirroredWait }()
		hold.armed.Store(true)
		n1.retain(t, "race/x", "second")
		<-hold.held
		s, c := n3.open(t, "race-late")
		err := n3.subscribeRetained(s, c, "race/#")
		var me *mqtt.Error
		if !errors.As(err, &me) || me.Code != mqtt.ServerBusy {
			t.Fatalf("subscribe with the mirror held: %v, want Server busy", err)
		}
		if got := n3.r.Stats().Refused; got != 1 {
			t.Errorf("refused %d, want 1", got)
		}
		hold.armed.Store(false)
		hold.release <- struct{}{}
		if err := n3.subscribeRetained(s, c, "race/#"); err != nil {
			t.Fatalf("subscribe after the mirror moved: %v", err)
		}
		expect(t, c, "race/x", "second", true)
		nodes[0].publish(t, "pub", &mqtt.Publish{Topic: "race/end", Payload: []byte("fence")})
		expect(t, c, "race/end", "fence", false)
	})
}

// BenchmarkWaitMirrored is what a SUBSCRIBE pays for the retained
// mirror when it is caught up: the stream's state read (shared by the
// SUBSCRIBEs waiting at once, as in the parallel run).
func BenchmarkWaitMirrored(b *testing.B) {
	_, nodes := startNodes(b, 3)
	keepAlive(b, nodes)
	n1 := withRetained(b, nodes[0], nil)
	n3 := withRetained(b, nodes[2], nil)
	n1.retain(b, "bench/x", "v")
	clustertest.Eventually(b, func() bool { return n3.b.RetainedLookup("bench/x") != nil }, func() string { return "never mirrored" })
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			ctx, cancel := context.WithTimeout(context.Background(), clustertest.Timeout)
			if err := n3.r.WaitMirrored(ctx); err != nil {
				b.Error(err)
			}
			cancel()
		}
	})
}
