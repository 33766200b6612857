package cluster_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"edgemq/configs"
	"edgemq/gateway/cluster"
	"edgemq/gateway/cluster/clustertest"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"
)

// TestLinkNoticesCutAndHeal connects a node's link through a proxy,
// cuts the proxy silently (no FIN: only the pings can notice) and heals
// it: the link reports down, then up, and carries messages again.
func TestLinkNoticesCutAndHeal(t *testing.T) {
	c := clustertest.Start(t, 1)
	proxy := clustertest.NewProxy(t, strings.TrimPrefix(c.Servers[0].ClientURL(), "nats://"))
	ups, downs := make(chan struct{}, 8), make(chan struct{}, 8)
	ctx, cancel := context.WithTimeout(context.Background(), clustertest.Timeout)
	defer cancel()
	link, err := cluster.Connect(ctx, cluster.LinkOptions{
		URLs:         []string{proxy.URL()},
		Name:         "edgemq test",
		PingInterval: 100 * time.Millisecond,
		OnlyURLs:     true,
		OnUp:         func() { ups <- struct{}{} },
		OnDown:       func() { downs <- struct{}{} },
	}, zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel)))
	if err != nil {
		t.Fatal(err)
	}
	defer link.Close(ctx)
	wait := func(ch chan struct{}, what string) {
		t.Helper()
		select {
		case <-ch:
		case <-ctx.Done():
			t.Fatalf("the link did not report %s", what)
		}
	}
	wait(ups, "up at connect")
	if !link.Up() {
		t.Fatal("Up false after connect")
	}

	proxy.Cut()
	wait(downs, "down after the cut")
	if link.Up() {
		t.Error("Up true while cut")
	}
	proxy.Heal()
	wait(ups, "up after healing")
	if !link.Up() {
		t.Error("Up false after healing")
	}
	// The healed link carries messages (a request to the server itself).
	if err := link.Conn().FlushWithContext(ctx); err != nil {
		t.Errorf("flush after healing: %v", err)
	}
}

// TestConnectHonoursContext: with no server to reach, Connect returns
// ctx's error instead of retrying for ever.
func TestConnectHonoursContext(t *testing.T) {
	c := clustertest.Start(t, 1)
	proxy := clustertest.NewProxy(t, strings.TrimPrefix(c.Servers[0].ClientURL(), "nats://"))
	proxy.Cut()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := cluster.Connect(ctx, cluster.LinkOptions{URLs: []string{proxy.URL()}, PingInterval: time.Second, OnlyURLs: true}, zap.NewNop())
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Connect through a cut link: %v, want the deadline", err)
	}
}

// TestEmbeddedLogsThroughZap: the server's log lines reach the injected
// logger, and a server that cannot start (its store dir is a file)
// returns the error instead of hanging.
func TestEmbeddedLogsThroughZap(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	ctx, cancel := context.WithTimeout(context.Background(), clustertest.Timeout)
	defer cancel()
	e, err := cluster.StartEmbedded(ctx, cluster.EmbeddedOptions{
		Name: "solo", ClientListen: "127.0.0.1:0", StoreDir: t.TempDir(), SyncAlways: true,
	}, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	// Acknowledged means on disk: every write is synced.
	if js := e.Server().JetStreamConfig(); js == nil || !js.SyncAlways {
		t.Errorf("JetStream config %+v, want sync always", js)
	}
	if err := e.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if n := logs.FilterMessage("nats server").Len(); n == 0 {
		t.Error("no nats server log line reached zap")
	}

	file := filepath.Join(t.TempDir(), "not-a-dir")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = cluster.StartEmbedded(ctx, cluster.EmbeddedOptions{
		Name: "broken", ClientListen: "127.0.0.1:0", StoreDir: file,
	}, zap.NewNop())
	if err == nil {
		t.Fatal("started with a file as its store dir")
	}
}

// The options built from a configuration: embedded routes and store under
// data_dir; the link goes to the embedded server only.
func TestOptionsFromConfig(t *testing.T) {
	cfg, err := configs.Parse("t.yaml", []byte(`
data_dir: /d
cluster:
  node: n1
  nats:
    ping_interval: 1s
    embedded:
      client_listen: 127.0.0.1:4231
      cluster_listen: 127.0.0.1:6231
      routes: [127.0.0.1:6232, 127.0.0.1:6233]
`))
	if err != nil {
		t.Fatal(err)
	}
	eo := cluster.EmbeddedOptionsFrom(cfg.Cluster, cfg.DataDir)
	if eo.Name != "n1" || eo.StoreDir != filepath.Join("/d", "nats") || !eo.SyncAlways || len(eo.Routes) != 2 || eo.ClusterListen != "127.0.0.1:6231" {
		t.Errorf("embedded options %+v", eo)
	}
	lo := cluster.LinkOptionsFrom(cfg.Cluster, "nats://127.0.0.1:4231")
	if len(lo.URLs) != 1 || lo.URLs[0] != "nats://127.0.0.1:4231" || !lo.OnlyURLs || lo.PingInterval != time.Second {
		t.Errorf("link options %+v", lo)
	}
}
