package cluster_test

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

// TestNodesStartFromConfig starts three nodes from their configurations,
// at once (each one's layout waits for the others' servers): each has
// its embedded server routed to the others and a live record; a node
// that closes deletes its record, the others stay live.
func TestNodesStartFromConfig(t *testing.T) {
	ports := clustertest.FreeAddrs(t, 6)
	clients, routes := ports[:3], ports[3:]
	dataDir := t.TempDir()
	cfgs := make([]configs.Cluster, 3)
	for i := range cfgs {
		src := fmt.Sprintf(`
data_dir: %s
cluster:
  node: node%d
  heartbeat_interval: 500ms
  liveness_ttl: 4s
  nats:
    ping_interval: 500ms
    embedded:
      client_listen: %s
      cluster_listen: %s
      routes: [%s, %s, %s]
      store_dir: nats-node%d
`, dataDir, i+1, clients[i], routes[i], routes[0], routes[1], routes[2], i+1)
		cfg, err := configs.Parse("node.yaml", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		cfgs[i] = cfg.Cluster
	}
	ctx, cancel := context.WithTimeout(context.Background(), clustertest.Timeout)
	defer cancel()
	// Each node renews until its stop; ran reports how Run ended.
	runCtxs := make([]context.Context, 3)
	stops := make([]context.CancelFunc, 3)
	ran := make([]chan error, 3)
	for i := range runCtxs {
		runCtxs[i], stops[i] = context.WithCancel(ctx)
		ran[i] = make(chan error, 1)
	}
	nodes := make([]*cluster.Node, 3)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range nodes {
		wg.Go(func() {
			log := zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)).Named(cfgs[i].Node)
			nodes[i], errs[i] = cluster.StartNode(ctx, cfgs[i], dataDir, log, cluster.NodeHooks{})
			if errs[i] == nil {
				// Renewals start at once: the record's TTL runs.
				go func() { ran[i] <- nodes[i].Run(runCtxs[i]) }()
			}
		})
	}
	wg.Wait()
	t.Logf("three nodes started in %v", time.Since(start))
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node%d: %v", i+1, err)
		}
	}
	for _, n := range nodes {
		if n.Embedded() == nil || !n.Link().Up() {
			t.Fatalf("%s: embedded %v, link up %v", n.Name(), n.Embedded(), n.Link().Up())
		}
	}
	// stop ends node i's renewals and checks they ended cleanly.
	stop := func(i int) {
		t.Helper()
		stops[i]()
		if err := <-ran[i]; err != nil {
			t.Errorf("%s: Run: %v", nodes[i].Name(), err)
		}
	}
	defer func() {
		// node1 leaves while node2's server keeps the quorum its record's
		// deletion needs; node2, the last, cannot delete its record then
		// (it would lapse) but still stops, within its deadline.
		stop(0)
		if err := nodes[0].Close(ctx); err != nil {
			t.Errorf("closing node1: %v", err)
		}
		stop(1)
		last, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if err := nodes[1].Close(last); err == nil {
			t.Error("node2 deleted its record with one of three servers up")
		}
		// The release took node2's deadline, so its server's shutdown
		// goes on in the background: wait for it before the store
		// directory is removed.
		if err := nodes[1].Embedded().Shutdown(ctx); err != nil {
			t.Errorf("node2's server did not shut down: %v", err)
		}
	}()
	for _, n := range nodes {
		if got := n.Embedded().Remotes(); got != 2 {
			t.Errorf("%s routes to %d servers, want 2", n.Name(), got)
		}
	}

	events, err := cluster.WatchNodes(ctx, nodes[0].Layout().Nodes)
	if err != nil {
		t.Fatal(err)
	}
	live := map[string]bool{}
	for len(live) < 3 {
		select {
		case ev := <-events:
			live[ev.Node] = ev.Live
		case <-ctx.Done():
			t.Fatalf("live nodes %v, want node1..3", live)
		}
	}
	stop(2)
	if err := nodes[2].Close(ctx); err != nil {
		t.Fatalf("closing node3: %v", err)
	}
	for live["node3"] {
		select {
		case ev := <-events:
			if !ev.Live && ev.Node != "node3" {
				t.Fatalf("%s lapsed while only node3 closed", ev.Node)
			}
			live[ev.Node] = ev.Live
		case <-ctx.Done():
			t.Fatal("node3's record stayed after its clean close")
		}
	}
}
