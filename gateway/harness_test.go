package gateway

import (
	"context"
	"net"
	"testing"
	"time"

	"edgemq/configs"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

// testConfig returns the default configuration with one tcp listener on
// an ephemeral loopback port. Tests change it before startServer.
func testConfig(tb testing.TB) *configs.Config {
	tb.Helper()
	cfg, err := configs.Default()
	if err != nil {
		tb.Fatalf("loading default config: %v", err)
	}
	cfg.Listeners = []configs.Listener{{Name: "tcp", Type: "tcp", Address: "127.0.0.1:0"}}
	cfg.ShutdownTimeout = 5 * time.Second
	cfg.Drain.Period = 0 // disconnect at once: tests shut down fast
	// Each test has its own store (store.durability: sync by default).
	cfg.DataDir = tb.TempDir()
	// Tests refuse many clients from 127.0.0.1 on purpose: no brute-force
	// delay unless a test enables it (bruteforce_test.go).
	cfg.Auth.BruteForce.Enabled = false
	// ... nor connection-rate limits (admission_test.go sets its own).
	cfg.Limits.Rate = configs.AdmissionRate{}
	// No ops listener unless a test asks (metrics_test.go): the default
	// 127.0.0.1:9090 would be shared by parallel servers.
	cfg.Ops.Address = ""
	return cfg
}

// testServer is a running gateway for one test.
type testServer struct {
	*Server
	cancel context.CancelFunc
	done   chan error
}

// addr returns host:port of the named listener.
func (ts *testServer) addr(tb testing.TB, listener string) string {
	tb.Helper()
	a := ts.Addr(listener)
	if a == nil {
		tb.Fatalf("no listener %q", listener)
	}
	return a.String()
}

// startServer validates cfg, starts a gateway on it and stops it when the
// test ends, failing the test if the shutdown is not clean.
func startServer(tb testing.TB, cfg *configs.Config) *testServer {
	tb.Helper()
	return startServerWith(tb, cfg, func(*Server) {})
}

// startServerWith is startServer with setup run on the server before Run.
func startServerWith(tb testing.TB, cfg *configs.Config, setup func(*Server)) *testServer {
	tb.Helper()
	return startServerLog(tb, cfg, zaptest.NewLogger(tb, zaptest.Level(zap.WarnLevel)), setup)
}

// startServerLog validates cfg, builds a gateway on it with log and opts,
// runs setup on it, then runs it until the test ends, failing the test if
// the shutdown is not clean.
func startServerLog(tb testing.TB, cfg *configs.Config, log *zap.Logger, setup func(*Server), opts ...Option) *testServer {
	tb.Helper()
	if err := cfg.Validate(); err != nil {
		tb.Fatalf("invalid test config: %v", err)
	}
	srv, err := New(cfg, log, opts...)
	if err != nil {
		tb.Fatalf("starting gateway: %v", err)
	}
	setup(srv)
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
		case <-time.After(10 * time.Second):
			tb.Errorf("gateway did not stop")
		}
	})
	return ts
}

// dial opens a raw TCP connection to the named listener.
func dial(tb testing.TB, ts *testServer, listener string) net.Conn {
	tb.Helper()
	c, err := net.DialTimeout("tcp", ts.addr(tb, listener), 5*time.Second)
	if err != nil {
		tb.Fatalf("dialing: %v", err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}
