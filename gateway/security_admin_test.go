package gateway

// The security battery, continued: the admin API and client addresses
// claimed by peers that are not trusted proxies.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"edgemq/configs"
	"edgemq/gateway/admin"
	"edgemq/gateway/limits"
	"edgemq/listeners"

	"github.com/gorilla/websocket"
)

// adminRaw sends one request to the admin API without following
// redirects and returns the status, the Allow header and the body.
func adminRaw(tb testing.TB, a *adminClient, method, path string, header http.Header, body io.Reader) (int, string, []byte) {
	tb.Helper()
	req, err := http.NewRequest(method, a.base+path, body)
	if err != nil {
		tb.Fatalf("request %s %s: %v", method, path, err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	hc := &http.Client{Timeout: eventTimeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	defer hc.CloseIdleConnections()
	resp, err := hc.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Allow"), b
}

// onlyReader hides a reader's length, so that the request is sent
// chunked, without a Content-Length.
type onlyReader struct{ io.Reader }

// TestSecurityAdminAPI: every row answers with its status and a JSON
// error, and none reaches a handler it should not.
func TestSecurityAdminAPI(t *testing.T) {
	ts := startAdminServer(t, adminConfig(t))
	a := newAdminClient(t, ts)
	connectV5(t, ts, v5Connect("a/b"))
	bearer := http.Header{"Authorization": {"Bearer " + adminTestToken}}
	// CONNACK is written before the server lists the connection as a
	// connected client: wait for the listing.
	deadline := time.Now().Add(eventTimeout)
	for {
		if code, _, _ := adminRaw(t, a, "GET", "/api/v1/clients/a%2Fb", bearer, nil); code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("client a/b was never listed")
		}
		time.Sleep(time.Millisecond)
	}
	big := func() []byte {
		b, _ := json.Marshal(admin.PublishRequest{Topic: "big", Payload: strings.Repeat("x", admin.MaxBody)})
		return b
	}
	rows := []struct {
		name, method, path string
		header             http.Header
		body               func() io.Reader
		want               int
		allow              string
	}{
		{"no token", "GET", "/api/v1/clients", nil, nil, http.StatusUnauthorized, ""},
		{"wrong token", "GET", "/api/v1/clients", http.Header{"Authorization": {"Bearer nope"}}, nil, http.StatusUnauthorized, ""},
		{"token in the query only", "GET", "/api/v1/clients?access_token=" + adminTestToken, nil, nil, http.StatusBadRequest, ""},
		{"token in the query and the header", "GET", "/api/v1/clients?access_token=" + adminTestToken, bearer, nil, http.StatusBadRequest, ""},
		{"token parameter", "GET", "/api/v1/clients?token=" + adminTestToken, bearer, nil, http.StatusBadRequest, ""},
		{"good token", "GET", "/api/v1/clients", bearer, nil, http.StatusOK, ""},
		{"dot-dot to another route", "GET", "/api/v1/clients/../sessions", bearer, nil, http.StatusBadRequest, ""},
		{"dot-dot delete", "DELETE", "/api/v1/sessions/../clients/a%2Fb", bearer, nil, http.StatusBadRequest, ""},
		{"dot segment", "GET", "/api/v1/./clients", bearer, nil, http.StatusBadRequest, ""},
		{"encoded dot-dot is an id", "GET", "/api/v1/clients/%2E%2E", bearer, nil, http.StatusNotFound, ""},
		{"encoded dot-dot path is an id", "GET", "/api/v1/clients/%2E%2E%2Fsessions", bearer, nil, http.StatusNotFound, ""},
		{"encoded slash is part of the id", "GET", "/api/v1/clients/a%2Fb", bearer, nil, http.StatusOK, ""},
		{"encoded slash makes no route", "GET", "/api/v1%2Fclients", bearer, nil, http.StatusNotFound, ""},
		{"TRACE", "TRACE", "/api/v1/clients", bearer, nil, http.StatusMethodNotAllowed, "GET, HEAD"},
		{"OPTIONS", "OPTIONS", "/api/v1/clients", bearer, nil, http.StatusMethodNotAllowed, "GET, HEAD"},
		{"PATCH", "PATCH", "/api/v1/clients/a%2Fb", bearer, nil, http.StatusMethodNotAllowed, "DELETE, GET, HEAD"},
		{"PUT", "PUT", "/api/v1/publish", bearer, nil, http.StatusMethodNotAllowed, "POST"},
		{"GET on a POST route", "GET", "/api/v1/drain", bearer, nil, http.StatusMethodNotAllowed, "POST"},
		{"body over the limit", "POST", "/api/v1/publish", bearer, func() io.Reader { return bytes.NewReader(big()) }, http.StatusRequestEntityTooLarge, ""},
		{"chunked body over the limit", "POST", "/api/v1/publish", bearer, func() io.Reader { return onlyReader{bytes.NewReader(big())} }, http.StatusRequestEntityTooLarge, ""},
		{"body over the limit, no token", "POST", "/api/v1/publish", nil, func() io.Reader { return bytes.NewReader(big()) }, http.StatusUnauthorized, ""},
	}
	for _, tt := range rows {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader
			if tt.body != nil {
				body = tt.body()
			}
			status, allow, b := adminRaw(t, a, tt.method, tt.path, tt.header, body)
			if status != tt.want || allow != tt.allow {
				t.Fatalf("%s %s: %d (Allow %q) %s; want %d (Allow %q)", tt.method, tt.path, status, allow, b, tt.want, tt.allow)
			}
			if status != http.StatusOK {
				var e admin.ErrorBody
				if err := json.Unmarshal(b, &e); err != nil || e.Error == "" {
					t.Errorf("body %s is not a JSON error", b)
				}
			}
		})
	}
	// Nothing above kicked or published: the client is still there.
	adminDo[admin.ClientItem](t, a, "GET", "/api/v1/clients/a%2Fb", nil, http.StatusOK)
}

// TestSecurityUntrustedProxyHeaders: X-Forwarded-For, Forwarded and PROXY
// headers from a peer outside the trusted CIDRs are ignored; the peer's
// real address is the client's, and the per-IP connection limit counts
// it, whatever address each connection claims.
func TestSecurityUntrustedProxyHeaders(t *testing.T) {
	cfg := testConfig(t)
	limit := &configs.ListenerAdmission{PerIPConnections: refOf(2)}
	cfg.Listeners = []configs.Listener{
		{Name: "tcp", Type: "tcp", Address: "127.0.0.1:0", Limits: limit,
			ProxyProtocol: configs.ProxyProtocol{Trusted: []string{"10.0.0.0/8"}}},
		{Name: "ws", Type: "ws", Address: "127.0.0.1:0", Limits: limit, TrustedProxies: []string{"10.0.0.0/8"}},
		{Name: "ws-forwarded", Type: "ws", Address: "127.0.0.1:0", Limits: limit, TrustedProxies: []string{"10.0.0.0/8"}, TrustedProxyHeader: "forwarded"},
	}
	ts := startServer(t, cfg)
	remoteAddrs := func(listener string) []string {
		ts.mu.Lock()
		defer ts.mu.Unlock()
		var out []string
		for c := range ts.conns {
			if c.Channel().Meta().Listener == listener {
				out = append(out, c.Channel().Meta().RemoteAddr.String())
			}
		}
		return out
	}
	for _, ln := range []string{"ws", "ws-forwarded"} {
		t.Run(ln, func(t *testing.T) {
			var accepted int
			for i := range 3 {
				h := http.Header{
					"X-Forwarded-For": {fmt.Sprintf("203.0.113.%d", i+1)},
					"Forwarded":       {fmt.Sprintf("for=198.51.100.%d", i+1)},
				}
				d := &websocket.Dialer{Subprotocols: []string{"mqtt"}, HandshakeTimeout: eventTimeout}
				ws, _, err := d.Dial("ws://"+ts.addr(t, ln)+"/mqtt", h)
				if err != nil {
					continue // refused at accept: the per-IP limit
				}
				nc := listeners.NewWSConn(ws, nil)
				t.Cleanup(func() { nc.Close() })
				if rawConnect(t, nc, false, fmt.Sprintf("%s-%d", ln, i)) == 0 {
					accepted++
				}
			}
			if accepted != 2 {
				t.Errorf("%d of 3 connections claiming 3 addresses accepted, want the per-IP limit of 2", accepted)
			}
			eventually(t, "two clients counted", func() bool { return len(remoteAddrs(ln)) == 2 })
			for _, a := range remoteAddrs(ln) {
				if host, _, _ := net.SplitHostPort(a); host != "127.0.0.1" {
					t.Errorf("client address %s, want the peer's, 127.0.0.1", a)
				}
			}
		})
	}
	t.Run("tcp PROXY header", func(t *testing.T) {
		// An untrusted peer's PROXY header is refused, not believed.
		nc := dialSrc(t, "127.0.0.1", ts.addr(t, "tcp"))
		t.Cleanup(func() { nc.Close() })
		nc.Write([]byte("PROXY TCP4 203.0.113.9 127.0.0.1 40000 1883\r\n"))
		if rc := rawConnect(t, nc, false, "proxied"); rc != closedNoAnswer {
			t.Fatalf("connect after an untrusted PROXY header: return code %d, want the socket closed", rc)
		}
		// Two plain connections fill the limit of 127.0.0.1; a third
		// claiming another address is still counted as 127.0.0.1.
		for i := range 2 {
			c := dialSrc(t, "127.0.0.1", ts.addr(t, "tcp"))
			t.Cleanup(func() { c.Close() })
			if rc := rawConnect(t, c, false, fmt.Sprintf("plain-%d", i)); rc != 0 {
				t.Fatalf("plain connection %d: return code %d", i, rc)
			}
		}
		before := ts.Stats().AdmissionRefused[limits.RefusedPerIP]
		c := dialSrc(t, "127.0.0.1", ts.addr(t, "tcp"))
		t.Cleanup(func() { c.Close() })
		c.Write([]byte("PROXY TCP4 203.0.113.10 127.0.0.1 40000 1883\r\n"))
		if rc := rawConnect(t, c, false, "proxied-2"); rc != closedNoAnswer {
			t.Fatalf("third connection: return code %d, want the socket closed", rc)
		}
		if n := ts.Stats().AdmissionRefused[limits.RefusedPerIP]; n != before+1 {
			t.Errorf("per_ip_connections refusals %d → %d, want one more", before, n)
		}
		for _, a := range remoteAddrs("tcp") {
			if host, _, _ := net.SplitHostPort(a); host != "127.0.0.1" {
				t.Errorf("client address %s, want 127.0.0.1", a)
			}
		}
	})
}
