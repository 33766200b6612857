package backend_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"edgemq/gateway/broker"
	"edgemq/gateway/cluster"
	"edgemq/gateway/cluster/backend"
	"edgemq/gateway/cluster/clustertest"
	"edgemq/mqtt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

// startRetainedOn runs Retained for b, node name, over nc, its
// deletions kept in the stream for ttl.
func startRetainedOn(t *testing.T, nc *nats.Conn, name string, b *broker.Broker, ttl time.Duration) *retainedNode {
	t.Helper()
	r, err := backend.NewRetained(nc, name, b, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)))
	if err != nil {
		t.Fatal(err)
	}
	backend.SetDeleteTTL(r, ttl)
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

// TestRetainedDeletionsExpire: the empty message that deletes a topic
// leaves the retained stream after its TTL (the stream does not keep one
// per deleted topic for ever), after every node applied it; and a node
// that missed it, cut off from NATS (the deletion expired meanwhile) or
// stopped, drops the topic when it reads the stream again: after the
// link heals, and when it starts with the topic in its own store.
func TestRetainedDeletionsExpire(t *testing.T) {
	c := clustertest.Start(t, 3)
	ensureLayout(t, c)
	const ttl = time.Second
	n1 := startRetainedOn(t, c.Connect(t, 0), "n1", newBroker(), ttl)
	proxy := clustertest.NewProxy(t, c.Servers[2].ClientURL()[len("nats://"):])
	cut := startRetainedOn(t, clustertest.ConnectURL(t, proxy.URL(), nats.MaxReconnects(-1),
		nats.ReconnectWait(50*time.Millisecond), nats.PingInterval(200*time.Millisecond), nats.MaxPingsOutstanding(2)), "n3", newBroker(), ttl)
	js, err := jetstream.New(c.Connect(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), clustertest.Timeout)
	defer cancel()
	stream, err := js.Stream(ctx, cluster.RetainedStream)
	if err != nil {
		t.Fatal(err)
	}
	gone := func(topic string) func() bool {
		return func() bool {
			_, err := stream.GetLastMsgForSubject(ctx, cluster.RetainedSubject(topic))
			return errors.Is(err, jetstream.ErrMsgNotFound)
		}
	}

	n1.retain(t, "seen", "v")
	n1.retain(t, "missed", "v")
	n1.retain(t, "kept", "v")
	clustertest.Eventually(t, func() bool { return payloadOf(cut.b, "missed") == "v" && payloadOf(cut.b, "seen") == "v" },
		func() string { return "node 3 never mirrored the topics" })

	// Seen by every node, then gone from the stream.
	n1.retain(t, "seen", "")
	clustertest.Eventually(t, func() bool { return cut.b.RetainedLookup("seen") == nil }, func() string { return "node 3 kept a deleted topic" })
	clustertest.Eventually(t, gone("seen"), func() string { return "the deletion of seen is still in the stream" })

	// Missed by node 3, cut off until the deletion expired.
	proxy.Cut()
	n1.retain(t, "missed", "")
	clustertest.Eventually(t, gone("missed"), func() string { return "the deletion of missed is still in the stream" })
	if payloadOf(cut.b, "missed") != "v" {
		t.Fatal("node 3 heard of the deletion through a cut link")
	}
	proxy.Heal()
	clustertest.Eventually(t, func() bool { return cut.b.RetainedLookup("missed") == nil },
		func() string {
			return fmt.Sprintf("after the link healed node 3 still holds missed: %q", payloadOf(cut.b, "missed"))
		})
	if payloadOf(cut.b, "kept") != "v" {
		t.Errorf("node 3 lost a current topic on reading again: %q", payloadOf(cut.b, "kept"))
	}

	// Missed by a node that was stopped: its store still has the topic.
	b := newBroker()
	for _, topic := range []string{"missed", "kept"} {
		b.StoreRetained(broker.NewMessage(&mqtt.Publish{Topic: topic, Payload: []byte("v"), Retain: true}, "pub", time.Now()))
	}
	n2 := startRetainedOn(t, c.Connect(t, 1), "n2", b, ttl)
	clustertest.Eventually(t, func() bool { return n2.r.Caught() && b.RetainedLookup("missed") == nil && payloadOf(b, "kept") == "v" },
		func() string {
			return fmt.Sprintf("restarted node: missed %q, kept %q", payloadOf(b, "missed"), payloadOf(b, "kept"))
		})
	// The stream's last message is gone (an expired deletion): a
	// SUBSCRIBE's wait for the mirror still ends.
	n1.retain(t, "kept", "")
	clustertest.Eventually(t, gone("kept"), func() string { return "the deletion of kept is still in the stream" })
	wctx, wcancel := context.WithTimeout(context.Background(), clustertest.Timeout)
	defer wcancel()
	if err := n2.r.WaitMirrored(wctx); err != nil {
		t.Errorf("waiting for the mirror with the stream's last message gone: %v", err)
	}
	fresh := startRetainedOn(t, c.Connect(t, 0), "n4", newBroker(), ttl)
	clustertest.Eventually(t, fresh.r.Caught, func() string { return "a new node never read the stream" })
	if err := fresh.r.WaitMirrored(wctx); err != nil {
		t.Errorf("a new node waiting for the mirror with the stream's last message gone: %v", err)
	}
}
