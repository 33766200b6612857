package backend

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"edgemq/gateway/broker"
	"edgemq/gateway/cluster"
	"edgemq/gateway/cluster/clustertest"
	"edgemq/gateway/stats"
	"edgemq/mqtt"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

// runningNode is a node of startNodesOn; kill stops it as kill -9
// would: no more answers or renewals, its NATS connection closed, its
// liveness record left to lapse.
type runningNode struct {
	*testNode
	kill func()
}

// startNodesOn starts a node b1, b2, ... on each of the servers of nc
// named by on (indices), each linked to its own server only, with
// replicas copies of every stream and bucket, its backend running and its
// liveness renewed until the test ends (or it is killed).
func startNodesOn(tb testing.TB, nc *clustertest.Cluster, on []int, replicas int) []runningNode {
	tb.Helper()
	return startNodesOnWith(tb, nc, on, replicas, nil)
}

// startNodesOnWith is startNodesOn with tune, when not nil, changing
// each node's backend (its k-th, in the order of on) before it runs.
func startNodesOnWith(tb testing.TB, nc *clustertest.Cluster, on []int, replicas int, tune func(k int, be *Backend)) []runningNode {
	tb.Helper()
	var nodes []runningNode
	for _, i := range on {
		ctx, cancel := context.WithTimeout(context.Background(), clustertest.Timeout)
		name := fmt.Sprintf("b%d", i+1)
		log := zaptest.NewLogger(tb, zaptest.Level(zap.ErrorLevel)).Named(name)
		node, err := cluster.StartNode(ctx, nodeConfig(name, nc.Servers[i].ClientURL(), replicas), "", log, cluster.NodeHooks{})
		cancel()
		if err != nil {
			tb.Fatalf("starting node %s: %v", name, err)
		}
		st := &stats.Counters{}
		be := New(node, st, log)
		b := broker.New(broker.Config{MaxPending: 100000, Interest: be.Interest()}, st, allowReads{}, log)
		if err := be.Attach(b); err != nil {
			tb.Fatal(err)
		}
		if tune != nil {
			tune(len(nodes), be)
		}
		tn := &testNode{node: node, b: b, be: be}
		runCtx, stop := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Go(func() { _ = be.Run(runCtx) })
		wg.Go(func() { _ = node.Run(runCtx) })
		halt := sync.OnceFunc(func() {
			stop()
			wg.Wait()
		})
		tb.Cleanup(func() {
			halt()
			ctx, cancel := context.WithTimeout(context.Background(), clustertest.Timeout)
			defer cancel()
			_ = be.Close(ctx)
			_ = node.Close(ctx)
		})
		nodes = append(nodes, runningNode{testNode: tn, kill: func() {
			halt()
			node.Link().Conn().Close()
		}})
	}
	return nodes
}

// ackingClient holds a session and acknowledges every QoS 1 delivery,
// recording each payload it was sent (counting repeats).
type ackingClient struct {
	mu   sync.Mutex
	got  map[string]int
	sess atomic.Pointer[broker.Session]
	ch   chan *broker.Delivery
}

func newAckingClient() *ackingClient {
	return &ackingClient{got: map[string]int{}, ch: make(chan *broker.Delivery, 1<<16)}
}

func (c *ackingClient) Link() broker.Link {
	return broker.Link{Out: c, Window: 1000, Version: mqtt.V5}
}
func (c *ackingClient) Deliver(d *broker.Delivery) bool     { c.ch <- d; return true }
func (c *ackingClient) Pubrel(uint16, mqtt.ReasonCode) bool { return true }
func (c *ackingClient) Room() broker.QueueRoom              { return broker.QueueRoom{Items: 1 << 16} }
func (c *ackingClient) SetRefill(func())                    {}
func (c *ackingClient) AfterStoredOut(fn func())            { fn() }
func (c *ackingClient) OutWaiting() bool                    { return false }
func (c *ackingClient) Kick(mqtt.ReasonCode)                {}

// run records and acknowledges deliveries until ctx ends.
func (c *ackingClient) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case d := <-c.ch:
			var p mqtt.Publish
			broker.PublishFor(&p, d, mqtt.V5, time.Now())
			c.mu.Lock()
			c.got[string(p.Payload)]++
			c.mu.Unlock()
			if p.QoS == 1 {
				c.sess.Load().Acked(mqtt.PUBACK, p.PacketID, mqtt.Success, c)
			}
		}
	}
}

// missing returns the payloads of acked not received.
func (c *ackingClient) missing(acked []string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, p := range acked {
		if c.got[p] == 0 {
			out = append(out, p)
		}
	}
	return out
}

// TestNATSServerKilledUnderLoad: one of three NATS servers, the messages
// stream's leader (a replica of every stream and bucket with it), is
// killed while publishers on the nodes of the two others send QoS 1
// messages: every message whose PUBLISH
// was acknowledged reaches a persistent subscriber on another node, at
// least once. Publishes may fail while the stream elects a new leader:
// those are not acknowledged, and not counted.
func TestNATSServerKilledUnderLoad(t *testing.T) {
	nc := clustertest.Start(t, 3)
	all3 := startNodesOn(t, nc, []int{0, 1, 2}, 3)
	// The server to kill leads the messages stream: the publishes fail
	// over to a new leader.
	js, err := jetstream.New(nc.Connect(t, 0))
	if err != nil {
		t.Fatal(err)
	}
	st, err := js.Stream(t.Context(), cluster.MessagesStream)
	if err != nil {
		t.Fatal(err)
	}
	victim := -1
	for i, s := range nc.Servers {
		if ci := st.CachedInfo().Cluster; ci != nil && ci.Leader == s.Name() {
			victim = i
		}
	}
	if victim < 0 {
		t.Fatalf("no leader of the messages stream among the servers: %+v", st.CachedInfo().Cluster)
	}
	var nodes []runningNode
	for i, n := range all3 {
		if i != victim {
			nodes = append(nodes, n)
		}
	}
	subNode := nodes[1]
	c := newAckingClient()
	sess, _, err := subNode.be.Sessions().Open(broker.OpenRequest{ClientID: "load-sub", Expiry: 300, Client: c,
		Owner: &broker.Owner{Identity: "load-sub"}}, func(*broker.Session, bool) {})
	if err != nil {
		t.Fatal(err)
	}
	c.sess.Store(sess)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go c.run(ctx)
	subNode.subscribe(t, sess, "load/#", 0)
	for _, s := range nc.Servers {
		clustertest.WaitInterest(t, s, cluster.TopicSubject("load/x"))
	}

	var mu sync.Mutex
	var acked []string
	var failed atomic.Int64
	counts := make([]atomic.Int64, len(nodes))
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for i, n := range nodes {
		wg.Go(func() {
			pub := n.be.Publisher()
			for k := 0; ; k++ {
				select {
				case <-stop:
					return
				default:
				}
				p := fmt.Sprintf("p%d-%05d", i, k)
				end := pub.Begin()
				now := time.Now()
				var buf []broker.Match
				pub.RouteAt(broker.NewMessage(&mqtt.Publish{QoS: 1, PacketID: uint16(k%65535 + 1), Topic: "load/x", Payload: []byte(p)},
					fmt.Sprintf("pub%d", i), now), &buf, now)
				done := make(chan error, 1)
				pub.AfterCommit(fmt.Sprintf("pub%d", i), func(err error) { done <- err })
				end()
				if err := <-done; err != nil {
					failed.Add(1)
					continue
				}
				mu.Lock()
				acked = append(acked, p)
				mu.Unlock()
				counts[i].Add(1)
			}
		})
	}
	waitCounts := func(n int64) {
		t.Helper()
		clustertest.Eventually(t, func() bool { return counts[0].Load() >= n && counts[1].Load() >= n },
			func() string {
				return fmt.Sprintf("acknowledged %d and %d, want %d each", counts[0].Load(), counts[1].Load(), n)
			})
	}
	waitCounts(100)
	kctx, kcancel := context.WithTimeout(context.Background(), clustertest.Timeout)
	if err := nc.Servers[victim].Shutdown(kctx); err != nil {
		t.Fatal(err)
	}
	kcancel()
	before0, before1 := counts[0].Load(), counts[1].Load()
	clustertest.Eventually(t, func() bool { return counts[0].Load() >= before0+150 && counts[1].Load() >= before1+150 },
		func() string {
			return fmt.Sprintf("acknowledged %d and %d after the kill", counts[0].Load(), counts[1].Load())
		})
	close(stop)
	wg.Wait()

	mu.Lock()
	all := append([]string(nil), acked...)
	mu.Unlock()
	clustertest.Eventually(t, func() bool { return len(c.missing(all)) == 0 }, func() string {
		m := c.missing(all)
		return fmt.Sprintf("%d of %d acknowledged messages never reached the subscriber (%d publishes failed), e.g. %q",
			len(m), len(all), failed.Load(), m[:min(len(m), 5)])
	})
	t.Logf("%d acknowledged, %d failed during the failover", len(all), failed.Load())
}
