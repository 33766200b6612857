package listeners

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestWSOriginRule is the WebSocket Origin battery (origin.go has the
// rule): each row opens a real upgrade with the Host and Origin headers
// a browser (or an attacker's page) would send.
func TestWSOriginRule(t *testing.T) {
	type row struct {
		name   string
		host   string // Host header; "" is the listener's address; PORT is its port
		origin []string
		status int
	}
	groups := []struct {
		name    string
		allowed []string
		names   []string
		rows    []row
	}{
		{"no list", nil, nil, []row{
			{"missing origin", "", nil, 101},
			{"same origin", "", []string{"http://127.0.0.1:PORT"}, 101},
			{"same origin by name", "localhost:PORT", []string{"http://localhost:PORT"}, 101},
			{"case-changed same origin", "localhost:PORT", []string{"http://LocalHost:PORT"}, 101},
			{"dns rebinding", "evil.com:PORT", []string{"http://evil.com:PORT"}, 403},
			{"dns rebinding, default port", "evil.com", []string{"http://evil.com"}, 403},
			{"trailing dot", "localhost.:PORT", []string{"http://localhost.:PORT"}, 403},
			{"port changed", "", []string{"http://127.0.0.1:1"}, 403},
			{"scheme changed", "", []string{"https://127.0.0.1:PORT"}, 403},
			{"null", "", []string{"null"}, 403},
			{"two origins", "", []string{"http://127.0.0.1:PORT", "http://evil.com"}, 403},
		}},
		{"server names", nil, []string{"mqtt.example.com"}, []row{
			{"listed name", "mqtt.example.com:PORT", []string{"http://mqtt.example.com:PORT"}, 101},
			{"listed name, case-changed", "MQTT.example.com:PORT", []string{"http://mqtt.EXAMPLE.com:PORT"}, 101},
			{"loopback name", "", []string{"http://127.0.0.1:PORT"}, 101},
			{"other name", "other.example.com:PORT", []string{"http://other.example.com:PORT"}, 403},
			{"dns rebinding", "evil.com:PORT", []string{"http://evil.com:PORT"}, 403},
			{"missing origin", "", nil, 101},
		}},
		{"allowed origins", []string{"https://app.example.com"}, nil, []row{
			{"listed", "", []string{"https://app.example.com"}, 101},
			{"case-changed", "", []string{"HTTPS://App.Example.COM"}, 101},
			{"default port written out", "", []string{"https://app.example.com:443"}, 101},
			{"trailing dot", "", []string{"https://app.example.com."}, 403},
			{"port changed", "", []string{"https://app.example.com:8443"}, 403},
			{"scheme changed", "", []string{"http://app.example.com"}, 403},
			{"suffix", "", []string{"https://app.example.com.evil.com"}, 403},
			{"user info", "", []string{"https://x@app.example.com"}, 403},
			{"same origin is not in the list", "", []string{"http://127.0.0.1:PORT"}, 403},
			{"dns rebinding", "evil.com:PORT", []string{"http://evil.com:PORT"}, 403},
			{"null", "", []string{"null"}, 403},
			{"missing origin", "", nil, 101},
		}},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			cfg := testConfig(t)
			cfg.WebSocket = WSConfig{CheckOrigin: true, AllowedOrigins: g.allowed, ServerNames: g.names}
			ln, got := startWS(t, cfg)
			_, port, _ := net.SplitHostPort(ln.Addr().String())
			for _, tt := range g.rows {
				t.Run(tt.name, func(t *testing.T) {
					h := http.Header{}
					if tt.host != "" {
						h.Set("Host", strings.ReplaceAll(tt.host, "PORT", port))
					}
					for _, o := range tt.origin {
						h.Add("Origin", strings.ReplaceAll(o, "PORT", port))
					}
					ws, status := dialWS(t, nil, wsURL(ln, "/mqtt"), h)
					if status != tt.status {
						if ws != nil {
							next(t, got) // the next row must not see it
						}
						t.Fatalf("Host %q Origin %q: status %d, want %d", h.Get("Host"), h.Values("Origin"), status, tt.status)
					}
					if ws == nil {
						expectNone(t, got)
						return
					}
					next(t, got)
				})
			}
		})
	}
}

// TestOriginRuleNames: with no list, the same origin passes for the
// loopback names and server_names only, IPv6 included; the rule does not
// depend on the address the listener is bound to (a wildcard bind cannot
// be made in a loopback-only test, so the rule is checked on requests).
func TestOriginRuleNames(t *testing.T) {
	rule := newOriginRule(nil, []string{"MQTT.example.com", "[2001:db8::7]"})
	for host, want := range map[string]bool{
		"localhost:8083": true, "127.0.0.1:8083": true, "[::1]:8083": true,
		"mqtt.example.com:8083": true, "[2001:db8::7]:8083": true,
		"evil.com:8083": false, "mqtt.example.com.evil.com": false, "[2001:db8::8]:8083": false, "127.0.0.2:8083": false,
	} {
		r := httptest.NewRequest("GET", "http://"+host+"/mqtt", nil)
		r.Header.Set("Origin", "http://"+host)
		if got := rule.allows(r); got != want {
			t.Errorf("Host %s, same origin: allowed %v, want %v", host, got, want)
		}
	}
	r := httptest.NewRequest("GET", "http://evil.com:8083/mqtt", nil)
	if !rule.allows(r) {
		t.Error("no Origin: refused, want allowed (not a browser)")
	}
}

// TestWSProxyHeaderRule: a listener believes one header from its trusted
// proxies, the one configured; the other is the client's own and is
// ignored. The address is the right-most one not in the trusted CIDRs;
// an untrusted peer's headers are all ignored.
func TestWSProxyHeaderRule(t *testing.T) {
	tests := []struct {
		name    string
		trusted []string
		use     ProxyHeader
		header  http.Header
		want    string // "peer": the socket's address
	}{
		{"default: a client's Forwarded does not override X-Forwarded-For", []string{"127.0.0.0/8"}, "",
			http.Header{"Forwarded": {"for=198.51.100.66"}, "X-Forwarded-For": {"203.0.113.7"}}, "203.0.113.7:0"},
		{"default: a client's Forwarded alone is ignored", []string{"127.0.0.0/8"}, "",
			http.Header{"Forwarded": {"for=198.51.100.66"}}, "peer"},
		{"x-forwarded-for: right-most untrusted", []string{"127.0.0.0/8", "10.0.0.0/8"}, XForwardedFor,
			http.Header{"X-Forwarded-For": {"198.51.100.66, 203.0.113.7, 10.0.0.2"}, "Forwarded": {"for=10.0.0.9"}}, "203.0.113.7:0"},
		{"forwarded: X-Forwarded-For ignored", []string{"127.0.0.0/8"}, Forwarded,
			http.Header{"Forwarded": {"for=203.0.113.7"}, "X-Forwarded-For": {"198.51.100.66"}}, "203.0.113.7:0"},
		{"forwarded: X-Forwarded-For alone is ignored", []string{"127.0.0.0/8"}, Forwarded,
			http.Header{"X-Forwarded-For": {"198.51.100.66"}}, "peer"},
		{"forwarded: right-most untrusted", []string{"127.0.0.0/8", "10.0.0.0/8"}, Forwarded,
			http.Header{"Forwarded": {`for=198.51.100.66, for="203.0.113.7:4711";proto=https, for=10.0.0.2`}}, "203.0.113.7:4711"},
		{"untrusted peer: both ignored", []string{"10.0.0.0/8"}, XForwardedFor,
			http.Header{"Forwarded": {"for=198.51.100.66"}, "X-Forwarded-For": {"203.0.113.7"}}, "peer"},
		{"untrusted peer, forwarded: both ignored", []string{"10.0.0.0/8"}, Forwarded,
			http.Header{"Forwarded": {"for=198.51.100.66"}, "X-Forwarded-For": {"203.0.113.7"}}, "peer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t)
			cfg.WebSocket = WSConfig{TrustedProxies: prefixes(t, tt.trusted...), ProxyHeader: tt.use}
			ln, got := startWS(t, cfg)
			ws, status := dialWS(t, nil, wsURL(ln, "/mqtt"), tt.header)
			if ws == nil {
				t.Fatalf("upgrade refused: %d", status)
			}
			want := tt.want
			if want == "peer" {
				want = ws.LocalAddr().String()
			}
			if a := next(t, got); a.meta.RemoteAddr.String() != want || a.conn.RemoteAddr().String() != want {
				t.Errorf("RemoteAddr = %v (conn %v), want %s", a.meta.RemoteAddr, a.conn.RemoteAddr(), want)
			}
		})
	}
}

func TestParseProxyHeader(t *testing.T) {
	for in, want := range map[string]ProxyHeader{"": XForwardedFor, "x-forwarded-for": XForwardedFor, "X-Forwarded-For": XForwardedFor, "forwarded": Forwarded} {
		if got, err := ParseProxyHeader(in); err != nil || got != want {
			t.Errorf("ParseProxyHeader(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseProxyHeader("x-real-ip"); err == nil {
		t.Error("x-real-ip accepted")
	}
}
