package listeners

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// startWS runs a ws listener (wss when cfg.TLS is set) with the echo
// handler.
func startWS(tb testing.TB, cfg Config) (*WSListener, <-chan accepted) {
	tb.Helper()
	ln, err := ListenWS(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return ln, serveEcho(tb, ln)
}

func wsURL(ln *WSListener, path string) string {
	scheme := "ws"
	if ln.transport == WSS {
		scheme = "wss"
	}
	return scheme + "://" + ln.Addr().String() + path
}

// dialWS dials with header; it returns the connection or the HTTP status
// of a refusal.
func dialWS(tb testing.TB, d *websocket.Dialer, url string, header http.Header) (*websocket.Conn, int) {
	tb.Helper()
	if d == nil {
		d = &websocket.Dialer{}
	}
	d.HandshakeTimeout = waitTimeout
	ws, resp, err := d.Dial(url, header)
	if err != nil {
		if resp == nil {
			tb.Fatalf("dialing %s: %v", url, err)
		}
		return nil, resp.StatusCode
	}
	tb.Cleanup(func() { ws.Close() })
	return ws, http.StatusSwitchingProtocols
}

// readBinary reads binary messages until n bytes arrived.
func readBinary(tb testing.TB, ws *websocket.Conn, n int) []byte {
	tb.Helper()
	ws.SetReadDeadline(time.Now().Add(waitTimeout))
	var buf []byte
	for len(buf) < n {
		typ, p, err := ws.ReadMessage()
		if err != nil {
			tb.Fatalf("reading: %v (after %q)", err, buf)
		}
		if typ != websocket.BinaryMessage {
			tb.Fatalf("message type %d, want binary", typ)
		}
		buf = append(buf, p...)
	}
	return buf
}

// expectCloseCode reads until the server's close frame and checks its
// code.
func expectCloseCode(tb testing.TB, ws *websocket.Conn, code int) {
	tb.Helper()
	ws.SetReadDeadline(time.Now().Add(waitTimeout))
	for {
		_, _, err := ws.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != code {
			tb.Fatalf("read error %v, want close code %d", err, code)
		}
		return
	}
}

func TestWSSubprotocols(t *testing.T) {
	tests := []struct {
		name       string
		configured []string
		require    bool
		offered    []string // one Sec-WebSocket-Protocol header each
		want       string
		status     int
	}{
		{"list with mqtt", nil, false, []string{"foo, mqtt"}, "mqtt", 101},
		{"server preference wins", nil, false, []string{"mqttv3.1,mqtt"}, "mqtt", 101},
		{"several headers", nil, false, []string{"foo", " mqttv3.1 "}, "mqttv3.1", 101},
		{"configured list", []string{"mqttv5", "mqtt"}, false, []string{"mqtt, mqttv5"}, "mqttv5", 101},
		{"names are case sensitive", nil, false, []string{"MQTT"}, "", 101},
		{"none offered", nil, false, nil, "", 101},
		{"none known", nil, false, []string{"foo, bar"}, "", 101},
		{"required, none offered", nil, true, nil, "", 400},
		{"required, none known", nil, true, []string{"foo"}, "", 400},
		{"required, offered", nil, true, []string{"foo, mqtt"}, "mqtt", 101},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t)
			cfg.WebSocket = WSConfig{Subprotocols: tt.configured, RequireSubprotocol: tt.require, CheckOrigin: true}
			ln, got := startWS(t, cfg)
			h := http.Header{}
			for _, o := range tt.offered {
				h.Add("Sec-WebSocket-Protocol", o)
			}
			ws, status := dialWS(t, nil, wsURL(ln, "/mqtt"), h)
			if status != tt.status {
				t.Fatalf("status = %d, want %d", status, tt.status)
			}
			if ws == nil {
				expectNone(t, got)
				return
			}
			if ws.Subprotocol() != tt.want {
				t.Errorf("subprotocol = %q, want %q", ws.Subprotocol(), tt.want)
			}
			next(t, got)
		})
	}
}

func TestWSOrigin(t *testing.T) {
	tests := []struct {
		name    string
		check   bool
		allowed []string
		origin  func(addr string) string
		status  int
	}{
		{"no origin", true, nil, func(string) string { return "" }, 101},
		{"same origin", true, nil, func(addr string) string { return "http://" + addr }, 101},
		{"same origin, other scheme", true, nil, func(addr string) string { return "https://" + addr }, 403},
		{"foreign origin", true, nil, func(string) string { return "http://evil.example" }, 403},
		{"allowed origin", true, []string{"https://app.example.com"}, func(string) string { return "https://app.example.com" }, 101},
		{"allowed origin with slash", true, []string{"https://App.example.com/"}, func(string) string { return "https://app.example.com" }, 101},
		{"check off", false, nil, func(string) string { return "http://evil.example" }, 101},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t)
			cfg.WebSocket = WSConfig{CheckOrigin: tt.check, AllowedOrigins: tt.allowed}
			ln, got := startWS(t, cfg)
			h := http.Header{}
			if o := tt.origin(ln.Addr().String()); o != "" {
				h.Set("Origin", o)
			}
			ws, status := dialWS(t, nil, wsURL(ln, "/mqtt"), h)
			if status != tt.status {
				t.Fatalf("status = %d, want %d", status, tt.status)
			}
			if ws == nil {
				expectNone(t, got)
				return
			}
			next(t, got)
		})
	}
}

func TestWSByteStream(t *testing.T) {
	cfg := testConfig(t)
	cfg.WebSocket = WSConfig{CheckOrigin: true}
	ln, got := startWS(t, cfg)
	h := http.Header{"Cookie": {"session=abc"}, "X-Device": {"d1"}}
	ws, _ := dialWS(t, nil, wsURL(ln, "/mqtt?token=t1"), h)
	// One packet split over two messages, then two packets in one, then
	// a message far larger than the connection's read buffer.
	large := strings.Repeat("0123456789abcdef", 1<<10)
	for _, m := range []string{"\x10\x02", "ab", "\xc0\x00\xc0\x00", large} {
		if err := ws.WriteMessage(websocket.BinaryMessage, []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	if got := readBinary(t, ws, 8+len(large)); string(got) != "\x10\x02ab\xc0\x00\xc0\x00"+large {
		t.Errorf("echoed %d bytes, want the %d sent", len(got), 8+len(large))
	}
	a := next(t, got)
	m := a.meta
	if m.Transport != WS || m.TLS != nil || m.Request == nil {
		t.Fatalf("meta = %+v, want ws with the request", m)
	}
	if got := m.Request.Query("token"); got != "t1" {
		t.Errorf("query token = %q, want t1", got)
	}
	if got := m.Request.Cookie("session"); got != "abc" {
		t.Errorf("cookie session = %q; want abc", got)
	}
	if got := m.Request.Header("x-device"); got != "d1" {
		t.Errorf("request: X-Device %q, want d1", got)
	}
	// Only what authentication reads is kept: not the handshake's own
	// headers.
	if got := m.Request.Header("Sec-WebSocket-Key"); got != "" {
		t.Errorf("Sec-WebSocket-Key kept: %q", got)
	}
	if m.RemoteAddr.String() != ws.LocalAddr().String() || a.conn.RemoteAddr().String() != m.RemoteAddr.String() {
		t.Errorf("RemoteAddr = %v (conn %v), want %v", m.RemoteAddr, a.conn.RemoteAddr(), ws.LocalAddr())
	}
}

func TestWSClosesWith(t *testing.T) {
	tests := []struct {
		name string
		send func(*websocket.Conn) error
		code int
	}{
		// RFC 6455 7.4.1: 1003, a data type the endpoint cannot accept.
		{"text message", func(ws *websocket.Conn) error { return ws.WriteMessage(websocket.TextMessage, []byte("\x10\x00")) }, websocket.CloseUnsupportedData},
		// RFC 6455 7.4.1: 1009, a message too big to process.
		{"oversize message", func(ws *websocket.Conn) error {
			return ws.WriteMessage(websocket.BinaryMessage, make([]byte, 16+wsReadSlack+1))
		}, websocket.CloseMessageTooBig},
		{"oversize over two frames", func(ws *websocket.Conn) error {
			w, err := ws.NextWriter(websocket.BinaryMessage)
			if err != nil {
				return err
			}
			w.Write(make([]byte, wsReadSlack))
			w.Write(make([]byte, wsReadSlack))
			return w.Close()
		}, websocket.CloseMessageTooBig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t)
			cfg.WebSocket = WSConfig{MaxPacketSize: 16}
			ln, got := startWS(t, cfg)
			ws, _ := dialWS(t, nil, wsURL(ln, "/mqtt"), nil)
			// The server may close before the whole message is written.
			tt.send(ws)
			expectCloseCode(t, ws, tt.code)
			next(t, got)
		})
	}
}

func TestWSS(t *testing.T) {
	pki := newPKI(t)
	cfg := testConfig(t)
	cfg.TLS = pki.serverConfig(false)
	cfg.WebSocket = WSConfig{CheckOrigin: true}
	ln, got := startWS(t, cfg)
	d := &websocket.Dialer{TLSClientConfig: pki.clientConfig(), Subprotocols: []string{"mqtt"}}
	h := http.Header{"Origin": {"https://" + ln.Addr().String()}}
	ws, status := dialWS(t, d, wsURL(ln, "/mqtt"), h)
	if status != 101 {
		t.Fatalf("status = %d", status)
	}
	ws.WriteMessage(websocket.BinaryMessage, []byte("\xc0\x00"))
	readBinary(t, ws, 2)
	m := next(t, got).meta
	if m.Transport != WSS || m.TLS == nil || m.TLS.ServerName != "localhost" {
		t.Errorf("meta = %+v (tls %+v), want wss with the tls state", m, m.TLS)
	}
}

func TestWSPathAndPage(t *testing.T) {
	cfg := testConfig(t)
	cfg.WebSocket = WSConfig{Path: "/ws", Page: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "page")
	})}
	ln, got := startWS(t, cfg)
	if _, status := dialWS(t, nil, wsURL(ln, "/mqtt"), nil); status != http.StatusOK {
		// /mqtt falls to the page handler, which is not an upgrade.
		t.Errorf("upgrade on /mqtt: status %d, want 200 from the page", status)
	}
	resp, err := http.Get("http://" + ln.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "page" {
		t.Errorf("GET / = %q, want the page", body)
	}
	if _, status := dialWS(t, nil, wsURL(ln, "/ws"), nil); status != 101 {
		t.Errorf("upgrade on /ws: status %d", status)
	}
	next(t, got)
}

func TestWSForwardedFor(t *testing.T) {
	tests := []struct {
		name    string
		trusted []string
		use     ProxyHeader
		header  http.Header
		want    string // "peer": the socket's address
	}{
		{"trusted peer", []string{"127.0.0.0/8"}, "", http.Header{"X-Forwarded-For": {"203.0.113.7"}}, "203.0.113.7:0"},
		{"right-most untrusted", []string{"127.0.0.0/8", "10.0.0.0/8"}, "", http.Header{"X-Forwarded-For": {"198.51.100.9, 203.0.113.7, 10.1.2.3"}}, "203.0.113.7:0"},
		{"several headers", []string{"127.0.0.0/8", "10.0.0.0/8"}, "", http.Header{"X-Forwarded-For": {"198.51.100.9", "203.0.113.7:4711, 10.1.2.3"}}, "203.0.113.7:4711"},
		{"all trusted", []string{"127.0.0.0/8", "10.0.0.0/8"}, "", http.Header{"X-Forwarded-For": {"10.0.0.5, 10.1.2.3"}}, "10.0.0.5:0"},
		{"forwarded", []string{"127.0.0.1"}, Forwarded, http.Header{"Forwarded": {`for=198.51.100.9, For="[2001:db8::1]:4711";proto=https`}}, "[2001:db8::1]:4711"},
		{"forwarded configured: x-forwarded-for ignored", []string{"127.0.0.1"}, Forwarded, http.Header{"Forwarded": {"for=203.0.113.7"}, "X-Forwarded-For": {"198.51.100.9"}}, "203.0.113.7:0"},
		{"unknown node", []string{"127.0.0.0/8"}, Forwarded, http.Header{"Forwarded": {"for=unknown"}}, "peer"},
		{"untrusted peer", []string{"10.0.0.0/8"}, "", http.Header{"X-Forwarded-For": {"203.0.113.7"}}, "peer"},
		{"no trusted proxies", nil, "", http.Header{"X-Forwarded-For": {"203.0.113.7"}, "Forwarded": {"for=203.0.113.8"}}, "peer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t)
			var ps []string
			for _, p := range tt.trusted {
				if !strings.Contains(p, "/") {
					p += "/32"
				}
				ps = append(ps, p)
			}
			cfg.WebSocket = WSConfig{TrustedProxies: prefixes(t, ps...), ProxyHeader: tt.use}
			ln, got := startWS(t, cfg)
			ws, _ := dialWS(t, nil, wsURL(ln, "/mqtt"), tt.header)
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

func TestWSProxyProtocol(t *testing.T) {
	tests := []struct {
		name    string
		trusted string
		ok      bool
	}{
		{"trusted", "127.0.0.0/8", true},
		{"untrusted", "10.0.0.0/8", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t)
			cfg.Proxy = ProxyConfig{Trusted: prefixes(t, tt.trusted)}
			ln, got := startWS(t, cfg)
			d := &websocket.Dialer{NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
				if err != nil {
					return nil, err
				}
				var buf bytes.Buffer
				proxyHeader(t, 1).WriteTo(&buf)
				_, err = c.Write(buf.Bytes())
				return c, err
			}, HandshakeTimeout: waitTimeout}
			ws, _, err := d.Dial(wsURL(ln, "/mqtt"), nil)
			if !tt.ok {
				if err == nil {
					ws.Close()
					t.Fatal("upgrade after an untrusted PROXY header succeeded")
				}
				expectNone(t, got)
				return
			}
			if err != nil {
				t.Fatalf("dialing: %v", err)
			}
			defer ws.Close()
			if a := next(t, got); a.meta.RemoteAddr.String() != "203.0.113.7:4711" {
				t.Errorf("RemoteAddr = %v, want the header's", a.meta.RemoteAddr)
			}
		})
	}
}

// TestWSSPlainHTTP: a client that speaks plain HTTP to a wss listener is
// told so (400), as net/http tells it on TLS connections.
func TestWSSPlainHTTP(t *testing.T) {
	pki := newPKI(t)
	cfg := testConfig(t)
	cfg.TLS = pki.serverConfig(false)
	ln, _ := startWS(t, cfg)
	c := dialTCP(t, ln.Addr().String())
	c.SetDeadline(time.Now().Add(waitTimeout))
	if _, err := io.WriteString(c, "GET /mqtt HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(c)
	if !strings.HasPrefix(string(got), "HTTP/1.0 400 ") {
		t.Errorf("answer %q, want a 400", got)
	}
}
