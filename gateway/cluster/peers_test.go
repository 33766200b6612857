package cluster_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"edgemq/gateway/cluster"
	"edgemq/gateway/cluster/clustertest"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

// TestPeers: a node learns the other live nodes' advertised MQTT
// addresses from their liveness records (not its own, not a node that
// advertises none), hands them out in turn, and forgets a node whose
// record goes.
func TestPeers(t *testing.T) {
	c := clustertest.Start(t, 3)
	l, jss := layout(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), clustertest.Timeout)
	defer cancel()
	log := zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	records := map[string]*cluster.Liveness{}
	for i, node := range []string{"n1", "n2", "n3", "quiet"} {
		lv := cluster.NewLiveness(jss[i%3], l.Nodes, node, time.Second, 10*time.Second, log)
		if node != "quiet" {
			lv.SetAdvertise(fmt.Sprintf("mqtt-%s:1883", node))
		}
		if err := lv.Acquire(ctx); err != nil {
			t.Fatal(err)
		}
		records[node] = lv
	}
	nodes2, err := jss[1].KeyValue(ctx, cluster.NodesBucket)
	if err != nil {
		t.Fatal(err)
	}
	p := cluster.NewPeers(nodes2, "n1", log)
	runCtx, stop := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() { ran <- p.Run(runCtx) }()
	defer func() {
		stop()
		if err := <-ran; err != nil {
			t.Errorf("Peers.Run: %v", err)
		}
	}()

	want := []string{"mqtt-n2:1883", "mqtt-n3:1883"}
	clustertest.Eventually(t, func() bool { return slices.Equal(p.Addrs(), want) },
		func() string { return fmt.Sprintf("peers %q, want %q", p.Addrs(), want) })
	got := []string{p.Reference(), p.Reference(), p.Reference(), p.Reference()}
	if got[0] == got[1] || got[0] != got[2] || got[1] != got[3] || !slices.Contains(want, got[0]) || !slices.Contains(want, got[1]) {
		t.Errorf("references %q: want the two peers in turn", got)
	}

	if err := records["n2"].Release(ctx); err != nil {
		t.Fatal(err)
	}
	clustertest.Eventually(t, func() bool { return slices.Equal(p.Addrs(), []string{"mqtt-n3:1883"}) },
		func() string { return fmt.Sprintf("after n2 left: peers %q", p.Addrs()) })
	if err := records["n3"].Release(ctx); err != nil {
		t.Fatal(err)
	}
	clustertest.Eventually(t, func() bool { return p.Reference() == "" },
		func() string { return fmt.Sprintf("after n3 left: peers %q", p.Addrs()) })
}
