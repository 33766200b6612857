package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"edgemq/configs"
	"edgemq/gateway"

	"go.uber.org/zap"
)

// startGateway runs an in-process gateway with a tcp and a ws listener on
// loopback and returns their addresses by listener type.
func startGateway(tb testing.TB) map[string]string {
	tb.Helper()
	cfg, err := configs.Default()
	if err != nil {
		tb.Fatalf("loading default config: %v", err)
	}
	cfg.Listeners = []configs.Listener{
		{Name: "tcp", Type: "tcp", Address: "127.0.0.1:0"},
		{Name: "ws", Type: "ws", Address: "127.0.0.1:0"},
	}
	cfg.DataDir = tb.TempDir()
	cfg.Store.Durability = "memory"
	cfg.ShutdownTimeout = 5 * time.Second
	cfg.Drain.Period = 0
	cfg.Auth.BruteForce.Enabled = false
	cfg.Limits.Rate = configs.AdmissionRate{}
	cfg.Ops.Address = ""
	if err := cfg.Validate(); err != nil {
		tb.Fatalf("invalid config: %v", err)
	}
	srv, err := gateway.New(cfg, zap.NewNop())
	if err != nil {
		tb.Fatalf("starting gateway: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	tb.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				tb.Errorf("gateway run: %v", err)
			}
		case <-time.After(10 * time.Second):
			tb.Errorf("gateway did not stop")
		}
	})
	addrs := map[string]string{}
	for _, l := range cfg.Listeners {
		a := srv.Addr(l.Name)
		if a == nil {
			tb.Fatalf("no listener %q", l.Name)
		}
		addrs[l.Type] = a.String()
	}
	return addrs
}

// testOptions are the flags of a short run against addr.
func testOptions(transport, addr string) options {
	return options{addr: addr, transport: transport, path: "/mqtt", c: 8, version: 5, idPrefix: "test",
		size: 32, p: 3, k: 4, window: 50, duration: 300 * time.Millisecond, warmup: 50 * time.Millisecond,
		jsonOut: true}
}

// flowKeys are the JSON keys scripts rely on.
var flowKeys = []string{"scenario", "transport", "version", "qos", "size", "publishers", "subscribers", "rate",
	"window", "seconds", "sent", "expected", "received", "lost", "loss_pct", "sent_per_sec", "throughput",
	"latency_count", "latency_p50_us", "latency_p90_us", "latency_p99_us", "latency_p999_us", "latency_max_us",
	"latency_mean_us", "ack_count", "ack_p50_us", "ack_p99_us", "ack_max_us", "pub_addr", "sub_addr", "broker_cpu_pct", "broker_rss_kb", "tool_wake_p99_us", "tool_wake_max_us", "tool_wakes", "stalls", "unacked", "gaps", "foreign", "errors", "first_error"}

func TestFlowScenarios(t *testing.T) {
	addrs := startGateway(t)
	for _, transport := range []string{"tcp", "ws"} {
		for _, scenario := range []string{"fanin", "fanout", "pairs"} {
			for qos := range 3 {
				t.Run(fmt.Sprintf("%s/%s/qos%d", transport, scenario, qos), func(t *testing.T) {
					o := testOptions(transport, addrs[transport])
					o.qos = qos
					if scenario == "fanout" {
						o.version = 4 // both protocol versions get a turn
					}
					var out bytes.Buffer
					res, err := runFlow(t.Context(), o, scenario, &out)
					if err != nil {
						t.Fatalf("running %s: %v", scenario, err)
					}
					checkFlow(t, res, qos)
					checkJSON(t, out.String(), scenario)
				})
			}
		}
	}
}

// checkFlow asserts what every run must show.
func checkFlow(tb testing.TB, res *flowResult, qos int) {
	tb.Helper()
	if res.Sent == 0 {
		tb.Fatalf("nothing sent: %+v", res)
	}
	if res.Expected != res.Sent*int64(expectedFan(res)) {
		tb.Errorf("expected %d, want sent %d × fan %d", res.Expected, res.Sent, expectedFan(res))
	}
	if qos > 0 && res.Received != res.Expected {
		tb.Errorf("qos %d: received %d of %d expected (errors %d: %s)", qos, res.Received, res.Expected, res.Errors, res.FirstError)
	}
	if res.Received > res.Expected {
		tb.Errorf("received %d, more than the %d expected", res.Received, res.Expected)
	}
	if res.LatencyCount != res.Received {
		tb.Errorf("histogram holds %d values, want one per delivery (%d)", res.LatencyCount, res.Received)
	}
	if qos > 0 && res.Gaps != 0 {
		tb.Errorf("qos %d: %d sequence numbers skipped", qos, res.Gaps)
	}
	if res.Unacked != 0 {
		tb.Errorf("%d publishes never acknowledged", res.Unacked)
	}
	if res.ToolWakes < 1 {
		tb.Errorf("the load tool's wake-up probe sampled nothing")
	}
	if res.Errors != 0 || res.Foreign != 0 {
		tb.Errorf("errors %d (%s), foreign deliveries %d", res.Errors, res.FirstError, res.Foreign)
	}
	if res.LatencyP50 > res.LatencyP99 || res.LatencyP99 > res.LatencyMax {
		tb.Errorf("latency quantiles out of order: p50 %v p99 %v max %v", res.LatencyP50, res.LatencyP99, res.LatencyMax)
	}
}

func expectedFan(res *flowResult) int {
	if res.Scenario == "fanout" {
		return res.Subscribers
	}
	return 1
}

// checkJSON asserts that out is one JSON line with every key.
func checkJSON(tb testing.TB, out, scenario string) {
	tb.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 1 {
		tb.Fatalf("want one JSON line, got %d: %q", len(lines), out)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &m); err != nil {
		tb.Fatalf("parsing %q: %v", lines[0], err)
	}
	for _, k := range flowKeys {
		if _, ok := m[k]; !ok {
			tb.Errorf("JSON line lacks %q: %s", k, lines[0])
		}
	}
	if len(m) != len(flowKeys) {
		tb.Errorf("JSON line has %d keys, want %d: %s", len(m), len(flowKeys), lines[0])
	}
	if m["scenario"] != scenario {
		tb.Errorf("scenario = %v, want %s", m["scenario"], scenario)
	}
}

func TestPacedRate(t *testing.T) {
	addrs := startGateway(t)
	o := testOptions("tcp", addrs["tcp"])
	o.qos, o.rate = 1, 2000
	res, err := runFlow(t.Context(), o, "fanin", &bytes.Buffer{})
	if err != nil {
		t.Fatalf("running fanin: %v", err)
	}
	checkFlow(t, res, 1)
	// 2000/s over 300 ms from 3 publishers starting together with the
	// window: the pacer offers exactly what is due (± one per publisher).
	if want := int64(600); res.Sent < want-3 || res.Sent > want+3 {
		t.Errorf("sent %d at 2000/s for 300 ms, want %d ± 3", res.Sent, want)
	}
}

func TestConnectScenario(t *testing.T) {
	addrs := startGateway(t)
	for _, transport := range []string{"tcp", "ws"} {
		t.Run(transport, func(t *testing.T) {
			o := testOptions(transport, addrs[transport])
			o.n = 20
			// Client ids of their own per transport: a session is bound
			// to "anonymous on this listener", so the tcp run's sessions,
			// perhaps not yet ended, are not the ws run's to take over.
			o.idPrefix = "test-" + transport
			var out bytes.Buffer
			if err := runConnect(t.Context(), o, &out, io.Discard); err != nil {
				t.Fatalf("running connect: %v", err)
			}
			var res connectResult
			if err := json.Unmarshal(out.Bytes(), &res); err != nil {
				t.Fatalf("parsing %q: %v", out.String(), err)
			}
			if res.Connections != 20 || res.Failed != 0 {
				t.Errorf("connections %d, failed %d; want 20 and 0", res.Connections, res.Failed)
			}
		})
	}
}

func TestCheckFlowOptions(t *testing.T) {
	good := testOptions("tcp", "127.0.0.1:1")
	tests := []struct {
		name  string
		tweak func(*options)
	}{
		{"qos", func(o *options) { o.qos = 3 }},
		{"size", func(o *options) { o.size = headerSize - 1 }},
		{"window", func(o *options) { o.window = 0 }},
		{"duration", func(o *options) { o.duration = 0 }},
		{"rate", func(o *options) { o.rate = -1 }},
		{"version", func(o *options) { o.version = 6 }},
	}
	if err := checkFlowOptions(good); err != nil {
		t.Fatalf("good options refused: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := good
			tt.tweak(&o)
			if err := checkFlowOptions(o); err == nil {
				t.Errorf("options with a bad %s accepted", tt.name)
			}
		})
	}
}
