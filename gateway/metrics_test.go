package gateway

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"edgemq/gateway/ops"

	"github.com/eclipse/paho.golang/paho"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

// scrape fetches /metrics of ts and parses the text format.
func scrape(tb testing.TB, ts *testServer) map[string]*dto.MetricFamily {
	tb.Helper()
	resp, err := http.Get("http://" + ts.OpsAddr().String() + "/metrics")
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("/metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		tb.Fatalf("parsing /metrics: %v", err)
	}
	return mfs
}

// metricValue returns the value of the series of family name whose
// labels include labels (name=value pairs); -1 when there is none.
func metricValue(mfs map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	mf := mfs[name]
	if mf == nil {
		return -1
	}
next:
	for _, m := range mf.Metric {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, lp := range m.Label {
				if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return -1
}

func httpGet(tb testing.TB, url string) (int, string) {
	tb.Helper()
	resp, err := http.Get(url)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitFor polls cond until it holds or the event timeout passes.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(eventTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestMetricsAfterTraffic runs real traffic, then scrapes /metrics and
// checks the counters and gauges; /healthz and /readyz answer 200.
func TestMetricsAfterTraffic(t *testing.T) {
	cfg := authConfig(t)
	cfg.Ops.Address = "127.0.0.1:0"
	cfg.Sys.Interval = 0
	ts := startServer(t, cfg)
	base := "http://" + ts.OpsAddr().String()

	if code, body := httpGet(t, base+"/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz: %d %s", code, body)
	}
	waitFor(t, "/readyz 200", func() bool { code, _ := httpGet(t, base+"/readyz"); return code == http.StatusOK })
	_, body := httpGet(t, base+"/readyz")
	var rd ops.Readiness
	if err := json.Unmarshal([]byte(body), &rd); err != nil || !rd.Ready {
		t.Fatalf("/readyz body %q (%v)", body, err)
	}

	// A refused client: bad credentials on the listener without
	// anonymous access (0x86).
	_, ack, err := dialV5(t, ts, &paho.Connect{ClientID: "bad", CleanStart: true, KeepAlive: 60,
		UsernameFlag: true, Username: "alice", PasswordFlag: true, Password: []byte("wrong")}, viaListener("closed"))
	if err == nil || ack == nil || ack.ReasonCode != 0x86 {
		t.Fatalf("bad credentials: ack %v err %v", ack, err)
	}

	// A persistent session that goes offline: its QoS 0 message is
	// dropped (offline).
	expiry := uint32(300)
	off := connectV5(t, ts, &paho.Connect{ClientID: "off", KeepAlive: 60, Properties: &paho.ConnectProperties{SessionExpiryInterval: &expiry}})
	off.subscribe(t, "d/#", 0)
	sub := connectV5(t, ts, v5Connect("sub"))
	sub.subscribe(t, "m/#", 1)
	pub := connectV5(t, ts, v5Connect("pub"))
	if err := off.Disconnect(&paho.Disconnect{ReasonCode: 0}); err != nil {
		t.Fatal(err)
	}
	// Its session offline: the connection count alone could settle at
	// 2 before off's close was handled, while pub's connection was not
	// counted yet (waitConnections).
	waitOffline(t, ts.Server, "off")

	pub.publish(t, &paho.Publish{Topic: "m/a", QoS: 0, Payload: []byte("hello")})
	pub.publish(t, &paho.Publish{Topic: "m/b", QoS: 1, Payload: []byte("world!")})
	for range 2 {
		sub.expectMessage(t)
	}
	pub.publish(t, &paho.Publish{Topic: "d/x", QoS: 0, Payload: []byte("lost")})
	waitFor(t, "the offline drop", func() bool { return ts.Stats().Dropped["offline"] == 1 })
	// The PUBACK of sub reaches the server before the scrape.
	waitFor(t, "sub's PUBACK", func() bool {
		return metricValue(scrape(t, ts), "edgemq_packets_received_total", "type", "PUBACK") == 1
	})

	mfs := scrape(t, ts)
	want := []struct {
		name   string
		labels []string
		value  float64
	}{
		{"edgemq_connections", []string{"listener", "tcp", "transport", "tcp", "protocol_version", "5"}, 2},
		{"edgemq_connack_total", []string{"reason_code", "0x00"}, 3},
		{"edgemq_connack_total", []string{"reason_code", "0x86"}, 1},
		{"edgemq_auth_failures_total", []string{"reason", "bad_credentials"}, 1},
		{"edgemq_auth_failures_total", []string{"reason", "not_authorized"}, 0},
		{"edgemq_packets_received_total", []string{"type", "CONNECT"}, 4},
		{"edgemq_packets_received_total", []string{"type", "SUBSCRIBE"}, 2},
		{"edgemq_packets_received_total", []string{"type", "PUBLISH"}, 3},
		{"edgemq_packets_received_total", []string{"type", "PUBACK"}, 1},
		{"edgemq_packets_received_total", []string{"type", "DISCONNECT"}, 1},
		{"edgemq_packets_sent_total", []string{"type", "CONNACK"}, 4},
		{"edgemq_packets_sent_total", []string{"type", "SUBACK"}, 2},
		{"edgemq_packets_sent_total", []string{"type", "PUBLISH"}, 2},
		{"edgemq_packets_sent_total", []string{"type", "PUBACK"}, 1},
		{"edgemq_received_payload_bytes_total", nil, float64(len("hello") + len("world!") + len("lost"))},
		{"edgemq_messages_received_total", nil, 3},
		{"edgemq_messages_routed_total", nil, 3}, // incl. the copy then dropped offline
		{"edgemq_messages_dropped_total", []string{"reason", "offline"}, 1},
		{"edgemq_messages_dropped_total", []string{"reason", "queue_full"}, 0},
		{"edgemq_sessions", nil, 3},
		{"edgemq_subscriptions", nil, 2},
		{"edgemq_inflight_messages", nil, 0},
		{"edgemq_retained_messages", nil, 0},
		{"edgemq_connect_duration_seconds", []string{"listener", "tcp"}, 3},
		{"edgemq_connect_duration_seconds", []string{"listener", "closed"}, 1},
	}
	for _, w := range want {
		if got := metricValue(mfs, w.name, w.labels...); got != w.value {
			t.Errorf("%s%v = %v, want %v", w.name, w.labels, got, w.value)
		}
	}
	// Sent bytes: at least the payloads of the two PUBLISH delivered.
	if got := metricValue(mfs, "edgemq_sent_bytes_total", "type", "PUBLISH"); got < float64(len("hello")+len("world!")) {
		t.Errorf("edgemq_sent_bytes_total{PUBLISH} = %v", got)
	}
	// Go runtime and process collectors are registered.
	for _, name := range []string{"go_goroutines", "process_start_time_seconds"} {
		if mfs[name] == nil {
			t.Errorf("no %s", name)
		}
	}
	// No client id or topic leaks into labels.
	for name, mf := range mfs {
		for _, m := range mf.Metric {
			for _, lp := range m.Label {
				if v := lp.GetValue(); strings.Contains(v, "m/") || v == "pub" || v == "sub" || v == "off" {
					t.Errorf("%s has label %s=%q", name, lp.GetName(), v)
				}
			}
		}
	}
}

// TestReadyzNotReady checks the 503 body naming what is not ready, and
// that the ops listener stops with the server.
func TestReadyzNotReady(t *testing.T) {
	cfg := testConfig(t)
	cfg.Ops.Address = "127.0.0.1:0"
	s, err := New(cfg, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)))
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + s.OpsAddr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	// Before Run nothing serves; check the readiness of the server's health directly.
	if nr := ops.NotReady(opsSource{s}.Health()); len(nr) != 1 || nr[0] != "listener tcp" {
		t.Fatalf("NotReady before Run = %v", nr)
	}
	go func() { done <- s.Run(ctx) }()
	waitFor(t, "/readyz 200", func() bool {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if nr := ops.NotReady(opsSource{s}.Health()); fmt.Sprint(nr) != "[listener tcp shutting down store]" {
		t.Errorf("NotReady after Run = %v", nr)
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Errorf("ops listener still serving after Run returned")
	}
}

// TestMetricsTLS checks the TLS handshake histogram, the connection gauge
// by transport and the certificate expiry of the self-signed source.
func TestMetricsTLS(t *testing.T) {
	cfg := transportConfig(t)
	cfg.Ops.Address = "127.0.0.1:0"
	cfg.Sys.Interval = 0
	ts := startServer(t, cfg)
	cc := clientTLS(t, devCA(cfg), nil)
	connectV5(t, ts, v5Connect("tls-1"), viaListener("tls"), dialingWith(tlsDialer(cc)))
	connectV5(t, ts, v5Connect("tls-2"), viaListener("tls"), dialingWith(tlsDialer(cc)))
	mfs := scrape(t, ts)
	if got := metricValue(mfs, "edgemq_tls_handshake_duration_seconds", "listener", "tls"); got != 2 {
		t.Errorf("tls handshakes observed = %v, want 2", got)
	}
	if got := metricValue(mfs, "edgemq_connections", "listener", "tls", "transport", "tls", "protocol_version", "5"); got != 2 {
		t.Errorf("tls connections = %v, want 2", got)
	}
	leaf := firstCert(t, devCA(cfg))
	if got := metricValue(mfs, "edgemq_certificate_expiry_timestamp_seconds", "source", "dev"); got != float64(leaf.NotAfter.Unix()) {
		t.Errorf("certificate expiry = %v, want %v", got, leaf.NotAfter.Unix())
	}
	code, body := httpGet(t, "http://"+ts.OpsAddr().String()+"/readyz")
	if code != http.StatusOK {
		t.Errorf("/readyz: %d %s", code, body)
	}
}

// firstCert parses the first certificate of the PEM file at path.
func firstCert(tb testing.TB, path string) *x509.Certificate {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	for {
		var blk *pem.Block
		if blk, b = pem.Decode(b); blk == nil {
			tb.Fatalf("%s: no certificate", path)
		}
		if blk.Type == "CERTIFICATE" {
			c, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				tb.Fatalf("%s: %v", path, err)
			}
			return c
		}
	}
}
