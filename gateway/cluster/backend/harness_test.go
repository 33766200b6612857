package backend

// The backend's test harness: a real NATS cluster (clustertest) and, on
// each of its servers, a node (cluster.StartNode) with a broker built
// around the backend's Interest, the backend running; sessions are
// opened on the brokers with a recording client. The full-server tests,
// with real MQTT clients, are the root package's (gateway/cluster_test.go).

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"edgemq/configs"
	"edgemq/gateway/broker"
	"edgemq/gateway/cluster"
	"edgemq/gateway/cluster/clustertest"
	"edgemq/gateway/stats"
	"edgemq/gateway/store"
	"edgemq/mqtt"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

// testNode is one node of a backend test.
type testNode struct {
	node *cluster.Node
	b    *broker.Broker
	be   *Backend
}

// nodeConfig is the cluster section of node name on the NATS server at
// url, with replicas copies of every stream and bucket.
func nodeConfig(name, url string, replicas int) configs.Cluster {
	return configs.Cluster{
		Node:              name,
		NATS:              configs.ClusterNATS{URLs: []string{url}, PingInterval: time.Second},
		Replicas:          replicas,
		SyncInterval:      configs.SyncAlways,
		HeartbeatInterval: time.Second,
		LivenessTTL:       3 * time.Second,
	}
}

// startNodes starts a NATS cluster of n servers and a node b1..bn on
// each, side by side (each waits for the JetStream layout), its backend
// running until the test ends.
func startNodes(tb testing.TB, n int) (*clustertest.Cluster, []*testNode) {
	tb.Helper()
	nc := clustertest.Start(tb, n)
	nodes := make([]*testNode, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), clustertest.Timeout)
			defer cancel()
			name := fmt.Sprintf("b%d", i+1)
			log := zaptest.NewLogger(tb, zaptest.Level(zap.WarnLevel)).Named(name)
			node, err := cluster.StartNode(ctx, nodeConfig(name, nc.Servers[i].ClientURL(), n), "", log, cluster.NodeHooks{})
			if err != nil {
				errs[i] = err
				return
			}
			st := &stats.Counters{}
			be := New(node, st, log)
			b := broker.New(broker.Config{MaxPending: 1000, Interest: be.Interest()}, st, allowReads{}, log)
			if err := be.Attach(b); err != nil {
				errs[i] = err
				return
			}
			nodes[i] = &testNode{node: node, b: b, be: be}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			tb.Fatalf("starting node b%d: %v", i+1, err)
		}
	}
	for _, tn := range nodes {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- tn.be.Run(ctx) }()
		tb.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				tb.Errorf("backend run: %v", err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), clustertest.Timeout)
			defer cancel()
			if err := tn.be.Close(ctx); err != nil {
				tb.Errorf("closing the backend: %v", err)
			}
			if err := tn.node.Close(ctx); err != nil {
				tb.Errorf("closing the node: %v", err)
			}
		})
	}
	return nc, nodes
}

// allowReads lets every owner read everything.
type allowReads struct{}

func (allowReads) MayRead(*broker.Policy, *broker.Owner, string, byte) bool { return true }
func (allowReads) RestoredView(string, *store.Owner) any                    { return nil }

// testClient is a connection holding a session: it records what is
// delivered to it.
type testClient struct {
	got chan *broker.Delivery
}

func newTestClient() *testClient { return &testClient{got: make(chan *broker.Delivery, 1024)} }

func (c *testClient) Link() broker.Link {
	return broker.Link{Out: c, Window: 100, Version: mqtt.V5}
}
func (c *testClient) Deliver(d *broker.Delivery) bool {
	select {
	case c.got <- d:
		return true
	default:
		return false
	}
}
func (c *testClient) Pubrel(uint16, mqtt.ReasonCode) bool { return true }
func (c *testClient) Room() broker.QueueRoom              { return broker.QueueRoom{Items: 1000} }
func (c *testClient) SetRefill(func())                    {}
func (c *testClient) AfterStoredOut(fn func())            { fn() }
func (c *testClient) OutWaiting() bool                    { return false }
func (c *testClient) Kick(mqtt.ReasonCode)                {}

// next returns the next delivery, as the client would receive its
// PUBLISH (MQTT 5.0).
func (c *testClient) next(tb testing.TB) *mqtt.Publish {
	tb.Helper()
	select {
	case d := <-c.got:
		var p mqtt.Publish
		broker.PublishFor(&p, d, mqtt.V5, time.Now())
		return &p
	case <-time.After(clustertest.Timeout):
		tb.Fatal("no delivery")
		return nil
	}
}

// open opens a clean session for id on n's broker, held by a new
// testClient.
func (n *testNode) open(tb testing.TB, id string) (*broker.Session, *testClient) {
	tb.Helper()
	c := newTestClient()
	s, _, err := n.be.Sessions().Open(broker.OpenRequest{ClientID: id, Clean: true, Client: c, Owner: &broker.Owner{Identity: id}},
		func(*broker.Session, bool) {})
	if err != nil {
		tb.Fatalf("opening session %q: %v", id, err)
	}
	return s, c
}

// subscribe subscribes s to filter at QoS 1 with Subscription
// Identifier id (0: none) as a SUBSCRIBE does: through Subscribing, and
// reading RetainedSeq, which waits for the interest to reach the node's
// NATS server.
func (n *testNode) subscribe(tb testing.TB, s *broker.Session, filter string, id uint32) {
	tb.Helper()
	subs := n.be.Subscriptions()
	err := subs.Subscribing(func() error {
		if _, full := subs.Subscribe(s, broker.NewSubscription(broker.SubOptions{Filter: filter, QoS: 1, ID: id})); full {
			return fmt.Errorf("subscription to %q refused", filter)
		}
		subs.RetainedSeq()
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
}

// publish routes a message of client from through n's Publisher, as an
// inbound PUBLISH, and waits for its acknowledgement (QoS 1 and 2).
func (n *testNode) publish(tb testing.TB, from string, p *mqtt.Publish) int {
	tb.Helper()
	pub := n.be.Publisher()
	end := pub.Begin()
	var buf []broker.Match
	now := time.Now()
	sent := pub.RouteAt(broker.NewMessage(p, from, now), &buf, now)
	acked := make(chan error, 1)
	if p.QoS > 0 && pub.Durable() {
		pub.AfterCommit(from, func(err error) { acked <- err })
	} else {
		acked <- nil
	}
	end()
	select {
	case err := <-acked:
		if err != nil {
			tb.Fatalf("publish to %q not acknowledged: %v", p.Topic, err)
		}
	case <-time.After(clustertest.Timeout):
		tb.Fatalf("publish to %q: no acknowledgement", p.Topic)
	}
	return sent
}
