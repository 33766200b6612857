package gateway

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"edgemq/configs"
	"edgemq/listeners/web"

	mqtt3 "github.com/eclipse/paho.mqtt.golang"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// waitLogged returns the entries with message msg once there are n of
// them, failing the test after a deadline.
func waitLogged(tb testing.TB, logs *observer.ObservedLogs, msg string, n int) []observer.LoggedEntry {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := logs.FilterMessage(msg).All()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%d %q log lines, want %d", len(got), msg, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestStartupURLs starts a gateway with a listener of each type, the ops
// and the admin listener, and uses the URLs its start-up lines give as
// written: an MQTT client connects to each listener URL (trusting the
// cafile the tls and wss lines name), the page, ops and dashboard URLs
// answer 200.
func TestStartupURLs(t *testing.T) {
	cfg := testConfig(t)
	yes := true
	cfg.TLS = map[string]configs.TLSSource{"dev": {Source: "self_signed"}}
	cfg.Listeners = []configs.Listener{
		{Name: "tcp", Type: "tcp", Address: "127.0.0.1:0", AllowAnonymous: &yes},
		{Name: "tls", Type: "tls", Address: "127.0.0.1:0", AllowAnonymous: &yes, TLS: "dev"},
		{Name: "ws", Type: "ws", Address: "127.0.0.1:0", AllowAnonymous: &yes, WebSocket: configs.WebSocket{Page: true}},
		// A wildcard address is reached over loopback.
		{Name: "wss", Type: "wss", Address: "0.0.0.0:0", AllowAnonymous: &yes, TLS: "dev", WebSocket: configs.WebSocket{Page: true, Path: "/custom"}},
	}
	cfg.Ops.Address = "127.0.0.1:0"
	cfg.Admin = configs.Admin{Address: "127.0.0.1:0", Token: "startup-token"}
	core, logs := observer.New(zapcore.InfoLevel)
	startServerLog(t, cfg, zap.New(core), func(*Server) {}, WithPage(web.Handler()))

	type want struct{ scheme, suffix, page string }
	wants := map[string]want{
		"tcp": {"mqtt://", "", ""},
		"tls": {"mqtts://", "", ""},
		"ws":  {"ws://", "/mqtt", "http://"},
		"wss": {"wss://", "/custom", "https://"},
	}
	var pool *x509.CertPool
	lines := waitLogged(t, logs, "listening", len(wants))
	for _, e := range lines {
		f := e.ContextMap()
		name, _ := f["listener"].(string)
		w, ok := wants[name]
		if !ok {
			t.Fatalf("listening line for unknown listener %q", name)
		}
		url, _ := f["url"].(string)
		if !strings.HasPrefix(url, w.scheme+"127.0.0.1:") || !strings.HasSuffix(url, w.suffix) {
			t.Errorf("listener %s: url %q, want %s127.0.0.1:PORT%s", name, url, w.scheme, w.suffix)
		}
		page, _ := f["page_url"].(string)
		if (w.page == "") != (page == "") || !strings.HasPrefix(page, w.page) {
			t.Errorf("listener %s: page_url %q, want one starting %q", name, page, w.page)
		}
		ca, _ := f["cafile"].(string)
		if secure := w.scheme == "mqtts://" || w.scheme == "wss://"; secure != (ca != "") {
			t.Errorf("listener %s: cafile %q", name, ca)
		}
		if ca != "" && pool == nil {
			pem, err := os.ReadFile(ca)
			if err != nil {
				t.Fatalf("listener %s: cafile: %v", name, err)
			}
			pool = x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				t.Fatalf("no certificate in cafile %s", ca)
			}
		}
	}
	if pool == nil {
		t.Fatal("no listening line named a cafile")
	}
	httpc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer httpc.CloseIdleConnections()
	get := func(u string) {
		t.Helper()
		res, err := httpc.Get(u)
		if err != nil {
			t.Errorf("GET %s: %v", u, err)
			return
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Errorf("GET %s: status %d, want 200", u, res.StatusCode)
		}
	}
	for _, e := range lines {
		f := e.ContextMap()
		url := f["url"].(string)
		opts := mqtt3.NewClientOptions().AddBroker(url).SetClientID("startup-" + f["listener"].(string)).
			SetAutoReconnect(false).SetConnectTimeout(10 * time.Second).SetTLSConfig(&tls.Config{RootCAs: pool})
		c := mqtt3.NewClient(opts)
		if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Errorf("connecting to %s as logged: %v", url, tok.Error())
			continue
		}
		c.Disconnect(100)
		if page, ok := f["page_url"].(string); ok {
			get(page)
		}
	}

	ops := waitLogged(t, logs, "ops listening", 1)[0].ContextMap()
	for _, k := range []string{"metrics_url", "healthz_url", "readyz_url"} {
		u, _ := ops[k].(string)
		if !strings.HasPrefix(u, "http://127.0.0.1:") {
			t.Errorf("ops line: %s %q", k, u)
			continue
		}
		get(u)
	}
	admin := waitLogged(t, logs, "admin api listening", 1)[0].ContextMap()
	dash, _ := admin["dashboard_url"].(string)
	if !strings.HasSuffix(dash, "/dashboard/") {
		t.Errorf("admin line: dashboard_url %q", dash)
	} else {
		get(dash)
	}
}

// TestDialHost checks the address a start-up URL names for a bound one.
func TestDialHost(t *testing.T) {
	for _, tc := range []struct {
		configured string
		addr       net.Addr
		want       string
	}{
		{"127.0.0.1:1883", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1883}, "127.0.0.1:1883"},
		{"0.0.0.0:1883", &net.TCPAddr{IP: net.IPv4zero, Port: 1883}, "127.0.0.1:1883"},
		// Go reports 0.0.0.0 bound dual stack as [::].
		{"0.0.0.0:1883", &net.TCPAddr{IP: net.IPv6unspecified, Port: 1883}, "127.0.0.1:1883"},
		{":1883", &net.TCPAddr{IP: net.IPv6unspecified, Port: 1883}, "127.0.0.1:1883"},
		{"[::]:8883", &net.TCPAddr{IP: net.IPv6unspecified, Port: 8883}, "[::1]:8883"},
		{"192.0.2.7:8083", &net.TCPAddr{IP: net.ParseIP("192.0.2.7"), Port: 8083}, "192.0.2.7:8083"},
		{"[2001:db8::1]:8084", &net.TCPAddr{IP: net.ParseIP("2001:db8::1"), Port: 8084}, "[2001:db8::1]:8084"},
	} {
		if got := dialHost(tc.configured, tc.addr); got != tc.want {
			t.Errorf("dialHost(%q, %v) = %q, want %q", tc.configured, tc.addr, got, tc.want)
		}
	}
}
