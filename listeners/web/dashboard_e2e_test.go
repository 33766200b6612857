package web_test

// End-to-end tests of the operator dashboard on the admin listener: its
// files and the overview endpoint over HTTP from Go (TestDashboardOnAdmin),
// and the page in headless Chromium (TestBrowserDashboard, which needs
// node, npm ci in build/ and /usr/bin/chromium like TestBrowserPage).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"edgemq/configs"
	"edgemq/gateway"
	"edgemq/listeners/web"

	mqtt3 "github.com/eclipse/paho.mqtt.golang"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

const adminToken = "dashboard-test-token"

// startAdminGateway runs a gateway with an anonymous tcp listener named
// "plain" and the admin listener, both on 127.0.0.1:0.
func startAdminGateway(t *testing.T) *gateway.Server {
	t.Helper()
	cfg, err := configs.Default()
	if err != nil {
		t.Fatal(err)
	}
	yes := true
	cfg.Ops.Address = ""
	cfg.DataDir = t.TempDir()
	cfg.ShutdownTimeout = 5 * time.Second
	cfg.Drain.Period = 0
	cfg.Admin = configs.Admin{Address: "127.0.0.1:0", Token: adminToken}
	cfg.Listeners = []configs.Listener{{Name: "plain", Type: "tcp", Address: "127.0.0.1:0", AllowAnonymous: &yes}}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("invalid test config: %v", err)
	}
	srv, err := gateway.New(cfg, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)), gateway.WithPage(web.Handler()))
	if err != nil {
		t.Fatalf("starting gateway: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("gateway run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("gateway did not stop")
		}
	})
	return srv
}

// publishingClient connects an MQTT 3.1.1 client with id to the
// listener at addr, subscribes it to its own topic and publishes to it
// every 50 ms until the connection is lost or the test ends. The
// returned channel is closed when the connection is lost.
func publishingClient(t *testing.T, addr, id string) <-chan struct{} {
	t.Helper()
	lost := make(chan struct{})
	opts := mqtt3.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(id).SetProtocolVersion(4).
		SetAutoReconnect(false).SetConnectRetry(false).SetConnectTimeout(10 * time.Second).
		SetConnectionLostHandler(func(mqtt3.Client, error) { close(lost) })
	c := mqtt3.NewClient(opts)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connecting %s: %v", id, tok.Error())
	}
	topic := "dashboard/" + id
	if tok := c.Subscribe(topic, 0, func(mqtt3.Client, mqtt3.Message) {}); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribing %s: %v", id, tok.Error())
	}
	stop := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-lost:
				return
			case <-tick.C:
				c.Publish(topic, 0, false, "payload from the dashboard test")
			}
		}
	}()
	t.Cleanup(func() {
		close(stop)
		<-finished
		c.Disconnect(100)
	})
	return lost
}

// refusedConnect sends an MQTT 3.1.1 CONNECT with an empty client id and
// Clean Session 0 to the listener at addr and checks that it is refused
// with return code 0x02, identifier rejected [MQTT-3.1.3-8] (counted as
// 0x85 Client Identifier not valid in edgemq_connack_total).
func refusedConnect(t *testing.T, addr string) {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	connect := []byte{0x10, 12, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x00, 0, 60, 0, 0}
	if _, err := nc.Write(connect); err != nil {
		t.Fatal(err)
	}
	connack := make([]byte, 4)
	if _, err := io.ReadFull(nc, connack); err != nil {
		t.Fatalf("reading CONNACK: %v", err)
	}
	if want := []byte{0x20, 2, 0, 2}; !bytes.Equal(connack, want) {
		t.Fatalf("CONNACK % x, want % x", connack, want)
	}
}

// adminGet does GET path on the admin listener with token ("" for none).
func adminGet(t *testing.T, srv *gateway.Server, path, token string) (*http.Response, []byte) {
	t.Helper()
	return adminDo(t, srv, path, token)
}

// adminDo does the request "[METHOD ]path" (GET by default) on the admin
// listener with token ("" for none), and returns the answer and its body.
func adminDo(t *testing.T, srv *gateway.Server, request, token string) (*http.Response, []byte) {
	t.Helper()
	method, path, ok := strings.Cut(request, " ")
	if !ok {
		method, path = http.MethodGet, request
	}
	req, err := http.NewRequest(method, "http://"+srv.AdminAddr().String()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	client := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, body
}

// TestDashboardOnAdmin checks, without a browser, that the admin listener
// serves the dashboard's files without the token and the overview only
// with it, and that the overview reports a connected client.
func TestDashboardOnAdmin(t *testing.T) {
	srv := startAdminGateway(t)
	publishingClient(t, srv.Addr("plain").String(), "overview-client")
	refusedConnect(t, srv.Addr("plain").String())

	for _, tc := range []struct {
		path, token string
		status      int
		contentType string
	}{
		{"/dashboard/", "", http.StatusOK, "text/html; charset=utf-8"},
		{"/dashboard/dashboard.js", "", http.StatusOK, "text/javascript; charset=utf-8"},
		{"/dashboard/uplot.min.js", "", http.StatusOK, "text/javascript; charset=utf-8"},
		{"/dashboard/uplot.min.css", "", http.StatusOK, "text/css; charset=utf-8"},
		{"/dashboard/nope", "", http.StatusNotFound, ""},
		{"/", "", http.StatusFound, ""},
		{"/api/v1/overview", "", http.StatusUnauthorized, "application/json"},
		{"/api/v1/overview", adminToken + "x", http.StatusUnauthorized, "application/json"},
		{"/api/v1/clients", "", http.StatusUnauthorized, "application/json"},
		{"/api/v1/overview", adminToken, http.StatusOK, "application/json"},
		{"POST /api/v1/overview", adminToken, http.StatusMethodNotAllowed, "application/json"},
		{"POST /api/v1/overview", "", http.StatusUnauthorized, "application/json"},
		{"POST /dashboard/", "", http.StatusUnauthorized, "application/json"},
	} {
		res, _ := adminDo(t, srv, tc.path, tc.token)
		if res.StatusCode != tc.status {
			t.Errorf("GET %s (token %q): status %d, want %d", tc.path, tc.token, res.StatusCode, tc.status)
		}
		if tc.contentType != "" && res.Header.Get("Content-Type") != tc.contentType {
			t.Errorf("GET %s: Content-Type %q, want %q", tc.path, res.Header.Get("Content-Type"), tc.contentType)
		}
		if tc.path == "/dashboard/" && !strings.Contains(res.Header.Get("Content-Security-Policy"), "connect-src 'self'") {
			t.Errorf("GET /dashboard/: Content-Security-Policy %q does not keep connections to the origin", res.Header.Get("Content-Security-Policy"))
		}
		if tc.path == "/" && res.Header.Get("Location") != "/dashboard/" {
			t.Errorf("GET /: Location %q, want /dashboard/", res.Header.Get("Location"))
		}
	}

	// The overview counts the client's connection and its traffic; poll,
	// since the first messages may still be in flight.
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, body := adminGet(t, srv, "/api/v1/overview", adminToken)
		var ov struct {
			Listeners []struct{ Name, Type, URL string } `json:"listeners"`
			Metrics   []struct {
				Name   string            `json:"name"`
				Labels map[string]string `json:"labels"`
				Value  float64           `json:"value"`
			} `json:"metrics"`
			TopClients []struct {
				ClientID string `json:"client_id"`
				Listener string `json:"listener"`
				BytesOut int64  `json:"bytes_out"`
			} `json:"top_clients"`
		}
		if err := json.Unmarshal(body, &ov); err != nil {
			t.Fatalf("decoding overview: %v; body %s", err, body)
		}
		conns, refused := 0.0, 0.0
		for _, m := range ov.Metrics {
			if m.Name == "edgemq_connections" && m.Labels["listener"] == "plain" && m.Labels["protocol_version"] == "3.1.1" {
				conns += m.Value
			}
			if m.Name == "edgemq_connack_total" && m.Labels["reason_code"] == "0x85" {
				refused += m.Value
			}
		}
		want := "mqtt://" + srv.Addr("plain").String()
		ok := conns == 1 && refused == 1 && len(ov.Listeners) == 1 && ov.Listeners[0].URL == want &&
			len(ov.TopClients) == 1 && ov.TopClients[0].ClientID == "overview-client" && ov.TopClients[0].Listener == "plain" && ov.TopClients[0].BytesOut > 0
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("overview never showed the client on listener plain and the refusal (connections %v, 0x85 refusals %v, want listener URL %s): %s", conns, refused, want, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestBrowserDashboard drives the dashboard in headless Chromium
// (test/dashboard.mjs): a wrong token is refused; with the right one the
// client this test connects appears with its listener and protocol, a
// refused CONNECT with its reason code, the
// message rate chart rises while it publishes, its detail view opens, and
// the kick button disconnects it — which the client sees.
func TestBrowserDashboard(t *testing.T) {
	node := requireTools(t, true)
	srv := startAdminGateway(t)
	const id = "dashboard-e2e-client"
	lost := publishingClient(t, srv.Addr("plain").String(), id)
	refusedConnect(t, srv.Addr("plain").String())
	shot := filepath.Join(os.TempDir(), fmt.Sprintf("edgemq-dashboard-%d.png", os.Getpid()))
	runScript(t, node, "dashboard.mjs",
		"EDGEMQ_DASHBOARD_URL=http://"+srv.AdminAddr().String()+"/dashboard/",
		"EDGEMQ_ADMIN_TOKEN="+adminToken,
		"EDGEMQ_CLIENT_ID="+id,
		"EDGEMQ_LISTENER=plain",
		"EDGEMQ_PROTOCOL=3.1.1",
		"EDGEMQ_TOPIC=dashboard/"+id,
		"CHROMIUM="+chromiumPath,
		"EDGEMQ_SCREENSHOT="+shot,
	)
	if st, err := os.Stat(shot); err != nil || st.Size() == 0 {
		t.Errorf("no screenshot at %s: %v", shot, err)
	} else {
		t.Logf("screenshot: %s", shot)
	}
	select {
	case <-lost:
	case <-time.After(10 * time.Second):
		t.Fatal("the kick button did not disconnect the client")
	}
	// The gateway no longer lists it.
	_, body := adminGet(t, srv, "/api/v1/clients?client_id="+url.QueryEscape(id), adminToken)
	if strings.Contains(string(body), id) {
		t.Errorf("after the kick the admin API still lists %s: %s", id, body)
	}
}
