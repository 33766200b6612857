package backend_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"edgemq/gateway/broker"
	"edgemq/gateway/cluster"
	"edgemq/gateway/cluster/backend"
	"edgemq/gateway/cluster/clustertest"
	"edgemq/mqtt"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

// healthNode is a node's link (through a proxy to server 0 of a cluster),
// its liveness record and its Health, with the hooks' calls recorded.
type healthNode struct {
	proxy  *clustertest.Proxy
	link   *cluster.Link
	live   *cluster.Liveness
	health *backend.Health
	nodes  jetstream.KeyValue // the nodes bucket, read through server 1

	mu       sync.Mutex
	closes   int
	rechecks []bool
}

func (n *healthNode) calls() (closes int, rechecks []bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.closes, append([]bool(nil), n.rechecks...)
}

const (
	testPing      = 100 * time.Millisecond
	testHeartbeat = 200 * time.Millisecond
	testTTL       = time.Second
	// longTTL outlasts a short cut and its healing on a loaded machine.
	longTTL = 5 * time.Second
)

// startHealthNode starts a 3-server cluster with the layout, and a node
// "node-a" linked to server 0 through a proxy, serving, its record
// lapsing ttl after its last renewal.
func startHealthNode(t *testing.T, ttl time.Duration) *healthNode {
	t.Helper()
	c := clustertest.Start(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), clustertest.Timeout)
	defer cancel()
	log := zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel))
	n := &healthNode{proxy: clustertest.NewProxy(t, strings.TrimPrefix(c.Servers[0].ClientURL(), "nats://"))}
	// The link's callbacks reach Health once it exists.
	var hp struct {
		sync.Mutex
		h *backend.Health
	}
	event := func(up bool) func() {
		return func() {
			hp.Lock()
			h := hp.h
			hp.Unlock()
			switch {
			case h == nil:
			case up:
				h.LinkUp()
			default:
				h.LinkDown()
			}
		}
	}
	link, err := cluster.Connect(ctx, cluster.LinkOptions{URLs: []string{n.proxy.URL()}, Name: "node-a", PingInterval: testPing,
		OnlyURLs: true, OnUp: event(true), OnDown: event(false)}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { link.Close(context.Background()) })
	n.link = link
	js, err := jetstream.New(link.Conn())
	if err != nil {
		t.Fatal(err)
	}
	l, err := cluster.EnsureLayout(ctx, js, cluster.LayoutOptions{Replicas: 3})
	if err != nil {
		t.Fatal(err)
	}
	n.live = cluster.NewLiveness(js, l.Nodes, "node-a", testHeartbeat, ttl, log)
	if err := n.live.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	other, err := jetstream.New(c.Connect(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	if n.nodes, err = other.KeyValue(ctx, cluster.NodesBucket); err != nil {
		t.Fatal(err)
	}
	n.health = backend.NewHealth(n.live, backend.HealthHooks{
		CloseClients: func() { n.mu.Lock(); n.closes++; n.mu.Unlock() },
		Recheck: func(_ context.Context, fenced bool) error {
			n.mu.Lock()
			n.rechecks = append(n.rechecks, fenced)
			n.mu.Unlock()
			return nil
		},
	}, log)
	hp.Lock()
	hp.h = n.health
	hp.Unlock()
	runCtx, stop := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- n.health.Run(runCtx) }()
	t.Cleanup(func() {
		stop()
		if err := <-ran; err != nil {
			t.Errorf("Health.Run: %v", err)
		}
	})
	return n
}

func waitState(t *testing.T, h *backend.Health, want backend.HealthState) {
	t.Helper()
	clustertest.Eventually(t, func() bool { return h.State() == want },
		func() string { return "node state " + h.State().String() + ", want " + want.String() })
}

// guards checks what the seams answer in the node's state: CONNECT
// refused with 0x88 (return code 3 for 3.x) and completions failed while
// not serving, passed through while serving.
func guards(t *testing.T, h *backend.Health, serving bool) {
	t.Helper()
	b := broker.New(broker.Config{}, nil, nil, zap.NewNop())
	var done error = errors.New("not called")
	pub := backend.GuardPublisher(b, h)
	if !pub.Durable() || !pub.AfterCommit("", func(e error) { done = e }) {
		t.Error("the guarded publisher does not wait for its completions")
	}
	if serving {
		if done != nil {
			t.Errorf("completion while serving: %v", done)
		}
		return
	}
	// [MQTT-3.2.2-6] CONNACK with a non-zero code, then close: 0x88 Server
	// unavailable, return code 3 for 3.x. (While serving, Open goes to
	// the broker: the end-to-end tests connect real clients.)
	_, _, err := backend.GuardSessions(b, h).Open(broker.OpenRequest{ClientID: "c"}, func(*broker.Session, bool) {})
	if code := mqtt.CodeOf(err); code != mqtt.ServerUnavailable {
		t.Errorf("Open while not serving: %v (code %#x), want 0x88", err, byte(code))
	}
	if !errors.Is(done, backend.ErrNotServing) {
		t.Errorf("completion while not serving: %v, want ErrNotServing", done)
	}
}

// TestHealthCutAndHeal: a node whose link is cut (silently: only the pings
// notice) stops serving within seconds and closes its clients once; after
// healing within the TTL it rechecks (its record is still its own) and
// serves again.
func TestHealthCutAndHeal(t *testing.T) {
	n := startHealthNode(t, longTTL)
	waitState(t, n.health, backend.Serving)
	guards(t, n.health, true)
	rev := n.live.Revision()
	clustertest.Eventually(t, func() bool { return n.live.Revision() > rev },
		func() string { return "the record is not renewed" })

	n.proxy.Cut()
	start := time.Now()
	waitState(t, n.health, backend.Down)
	t.Logf("the cut was noticed after %v (ping %v)", time.Since(start), testPing)
	guards(t, n.health, false)
	clustertest.Eventually(t, func() bool { c, _ := n.calls(); return c == 1 },
		func() string { c, _ := n.calls(); return fmt.Sprintf("clients closed %d times, want 1", c) })

	n.proxy.Heal()
	healed := time.Now()
	waitState(t, n.health, backend.Serving)
	t.Logf("serving again %v after healing", time.Since(healed))
	guards(t, n.health, true)
	closes, rechecks := n.calls()
	if closes != 1 || len(rechecks) != 1 || rechecks[0] {
		t.Errorf("after healing: %d closes, rechecks %v; want 1 close and one recheck, not fenced", closes, rechecks)
	}
	if s := n.health.Stats(); s.LinkDowns != 1 || s.Closings != 1 || s.Fenced != 0 || !s.LinkUp {
		t.Errorf("stats %+v", s)
	}
}

// TestHealthReacquiresAfterALapse: a cut longer than the TTL lets the
// record lapse (the other nodes would take the sessions over); after
// healing the node acquires a new record and tells Recheck it was
// fenced before serving again.
func TestHealthReacquiresAfterALapse(t *testing.T) {
	n := startHealthNode(t, testTTL)
	waitState(t, n.health, backend.Serving)
	n.proxy.Cut()
	waitState(t, n.health, backend.Down)
	ctx, cancel := context.WithTimeout(context.Background(), clustertest.Timeout)
	defer cancel()
	if err := cluster.WaitLapse(ctx, n.nodes, "node-a"); err != nil {
		t.Fatal(err)
	}
	if n.health.Serving() {
		t.Fatal("serving while the record lapsed")
	}
	n.proxy.Heal()
	waitState(t, n.health, backend.Serving)
	closes, rechecks := n.calls()
	if closes != 1 || len(rechecks) != 1 || !rechecks[0] {
		t.Errorf("after healing: %d closes, rechecks %v; want 1 close and one fenced recheck", closes, rechecks)
	}
	clustertest.Eventually(t, func() bool {
		_, err := n.nodes.Get(ctx, cluster.NodeKey("node-a"))
		return err == nil
	}, func() string { return "no new record after healing" })
	if s := n.health.Stats(); s.Fenced != 1 {
		t.Errorf("stats %+v, want one fencing", s)
	}
}

// TestHealthStopsWhenJetStreamIsLost: the link to the node's own server
// stays up but the other two servers are gone (no JetStream quorum, as
// when NATS itself is partitioned): renewals fail, and the node stops
// serving and closes its clients before the record's TTL runs out.
func TestHealthStopsWhenJetStreamIsLost(t *testing.T) {
	c := clustertest.Start(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), clustertest.Timeout)
	defer cancel()
	log := zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel))
	js, err := jetstream.New(c.Connect(t, 0))
	if err != nil {
		t.Fatal(err)
	}
	l, err := cluster.EnsureLayout(ctx, js, cluster.LayoutOptions{Replicas: 3})
	if err != nil {
		t.Fatal(err)
	}
	live := cluster.NewLiveness(js, l.Nodes, "node-q", testHeartbeat, testTTL, log)
	if err := live.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	closed := make(chan struct{}, 4)
	h := backend.NewHealth(live, backend.HealthHooks{CloseClients: func() { closed <- struct{}{} }}, log)
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	go func() { _ = h.Run(runCtx) }()
	rev := live.Revision()
	clustertest.Eventually(t, func() bool { return live.Revision() > rev }, func() string { return "no renewal" })

	for _, s := range c.Servers[1:] {
		if err := s.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
	}
	lost := time.Now()
	select {
	case <-closed:
		if h.Serving() {
			t.Error("serving after closing its clients")
		}
	case <-time.After(clustertest.Timeout):
		t.Fatalf("the node kept serving %v after JetStream lost its quorum (state %v, stats %+v)", time.Since(lost), h.State(), h.Stats())
	}
}
