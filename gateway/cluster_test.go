package gateway

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"edgemq/configs"
	"edgemq/gateway/cluster"
	"edgemq/gateway/cluster/clustertest"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

// testCluster is a cluster of edgemq servers for one test: a NATS cluster
// of embedded servers (clustertest) and one edgemq server per NATS
// server, each a node connected to its own NATS server as to an
// external one.
type testCluster struct {
	nats  *clustertest.Cluster
	nodes []*testServer
}

// clusterConfig returns testConfig as node name of a cluster of
// replicas NATS servers, whose NATS server is at url.
func clusterConfig(tb testing.TB, name, url string, replicas int) *configs.Config {
	tb.Helper()
	cfg := testConfig(tb)
	cfg.Cluster.Node = name
	cfg.Cluster.NATS.URLs = []string{url}
	cfg.Cluster.Replicas = replicas
	return cfg
}

// startCluster starts n NATS servers and n edgemq nodes e1..en on them,
// with every stream and bucket on all n, the nodes started side by side
// (each waits for the JetStream layout). setup, when not nil, changes
// each node's configuration first. They stop when the test ends, the
// edgemq servers first.
func startCluster(tb testing.TB, n int, setup func(i int, cfg *configs.Config)) *testCluster {
	tb.Helper()
	c := &testCluster{nats: clustertest.Start(tb, n), nodes: make([]*testServer, n)}
	var wg sync.WaitGroup
	errs := make([]error, n)
	srvs := make([]*Server, n)
	cfgs := make([]*configs.Config, n)
	for i := range n {
		cfgs[i] = clusterConfig(tb, fmt.Sprintf("e%d", i+1), c.nats.Servers[i].ClientURL(), n)
		if setup != nil {
			setup(i, cfgs[i])
		}
		if err := cfgs[i].Validate(); err != nil {
			tb.Fatalf("invalid cluster config: %v", err)
		}
		wg.Go(func() { srvs[i], errs[i] = New(cfgs[i], testLogger(tb, fmt.Sprintf("e%d", i+1))) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			for _, s := range srvs {
				if s != nil {
					s.closeCluster()
				}
			}
			tb.Fatalf("starting node e%d: %v", i+1, err)
		}
	}
	for i, s := range srvs {
		c.nodes[i] = runServer(tb, s)
	}
	return c
}

// waitInterest waits until every NATS server of the cluster has interest
// in the live subject of topic: a message published to it on any node
// now reaches the subscriber.
func (c *testCluster) waitInterest(tb testing.TB, topic string) {
	tb.Helper()
	for _, s := range c.nats.Servers {
		clustertest.WaitInterest(tb, s, cluster.TopicSubject(topic))
	}
}

// TestClusterPubSubAcrossNodes: a message published on one node reaches
// a subscriber on another, at the granted QoS, for MQTT 3.1.1 and 5.0
// publishers and subscribers (paho.mqtt.golang, paho.golang).
func TestClusterPubSubAcrossNodes(t *testing.T) {
	c := startCluster(t, 3, nil)
	clients := map[string]func(ts *testServer, id string) msgClient{
		"3.1.1": func(ts *testServer, id string) msgClient { return v3Msg{connectV3(t, ts, id, nil)} },
		"5.0":   func(ts *testServer, id string) msgClient { return v5Msg{connectV5(t, ts, v5Connect(id))} },
	}
	for _, pv := range []string{"3.1.1", "5.0"} {
		for _, sv := range []string{"3.1.1", "5.0"} {
			t.Run(pv+" to "+sv, func(t *testing.T) {
				topic := "across/" + pv + "/" + sv
				sub := clients[sv](c.nodes[1], "sub-"+pv+"-"+sv)
				sub.sub(t, topic, 2)
				c.waitInterest(t, topic)
				pub := clients[pv](c.nodes[0], "pub-"+pv+"-"+sv)
				for qos := range byte(3) {
					payload := fmt.Sprintf("qos %d", qos)
					pub.pub(t, topic, qos, payload)
					gotTopic, gotPayload, gotQoS, _ := sub.next(t)
					if gotTopic != topic || gotPayload != payload || gotQoS != qos {
						t.Fatalf("got %q on %q at qos %d, want %q on %q at qos %d", gotPayload, gotTopic, gotQoS, payload, topic, qos)
					}
				}
			})
		}
	}
}

// testLogger is a test's logger at warning level, named.
func testLogger(tb testing.TB, name string) *zap.Logger {
	return zaptest.NewLogger(tb, zaptest.Level(zap.WarnLevel)).Named(name)
}

// runServer runs srv until the test ends, failing the test if the
// shutdown is not clean (as startServerLog does for a server it builds).
func runServer(tb testing.TB, srv *Server) *testServer {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ts := &testServer{Server: srv, cancel: cancel, done: make(chan error, 1)}
	go func() { ts.done <- srv.Run(ctx) }()
	tb.Cleanup(func() {
		cancel()
		select {
		case err := <-ts.done:
			if err != nil {
				tb.Errorf("gateway run: %v", err)
			}
		case <-time.After(2 * clusterCloseTimeout):
			tb.Errorf("gateway did not stop")
		}
	})
	return ts
}
