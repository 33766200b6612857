package gateway

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"edgemq/configs"
	"edgemq/listeners"
	"edgemq/mqtt"

	"github.com/eclipse/paho.golang/paho"
	"github.com/gorilla/websocket"
)

// transportConfig is testConfig with a tls, a ws and a wss listener too,
// all on ephemeral ports, with the self-signed development source "dev"
// generated into a temporary data directory.
func transportConfig(tb testing.TB) *configs.Config {
	tb.Helper()
	cfg := testConfig(tb)
	cfg.DataDir = tb.TempDir()
	cfg.TLS = map[string]configs.TLSSource{"dev": {Source: "self_signed"}}
	cfg.Listeners = append(cfg.Listeners,
		configs.Listener{Name: "tls", Type: "tls", Address: "127.0.0.1:0", TLS: "dev"},
		configs.Listener{Name: "ws", Type: "ws", Address: "127.0.0.1:0"},
		configs.Listener{Name: "wss", Type: "wss", Address: "127.0.0.1:0", TLS: "dev"},
	)
	return cfg
}

// devCA is the PEM file of the self-signed development certificate.
func devCA(cfg *configs.Config) string {
	return filepath.Join(cfg.DataDir, "certs", "selfsigned.crt")
}

// clientTLS trusts the PEM certificates in caFile, for localhost, and
// presents cert when it is not nil.
func clientTLS(tb testing.TB, caFile string, cert *tls.Certificate) *tls.Config {
	tb.Helper()
	data, err := os.ReadFile(caFile)
	if err != nil {
		tb.Fatalf("reading ca: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		tb.Fatalf("no certificate in %s", caFile)
	}
	c := &tls.Config{RootCAs: pool, ServerName: "localhost"}
	if cert != nil {
		c.Certificates = []tls.Certificate{*cert}
	}
	return c
}

// tlsDialer dials MQTT over TLS.
func tlsDialer(cc *tls.Config) func(testing.TB, string) net.Conn {
	return func(tb testing.TB, addr string) net.Conn {
		tb.Helper()
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: eventTimeout}, "tcp", addr, cc)
		if err != nil {
			tb.Fatalf("dialing tls: %v", err)
		}
		return c
	}
}

// wsDialer dials MQTT over WebSocket (wss with cc) and adapts the
// connection with the listeners' own adapter.
func wsDialer(cc *tls.Config) func(testing.TB, string) net.Conn {
	return func(tb testing.TB, addr string) net.Conn {
		tb.Helper()
		return listeners.NewWSConn(dialWSRaw(tb, addr, cc), nil)
	}
}

func dialWSRaw(tb testing.TB, addr string, cc *tls.Config) *websocket.Conn {
	tb.Helper()
	url := "ws://" + addr + "/mqtt"
	if cc != nil {
		url = "wss://" + addr + "/mqtt"
	}
	d := &websocket.Dialer{TLSClientConfig: cc, Subprotocols: []string{"mqtt"}, HandshakeTimeout: eventTimeout}
	ws, _, err := d.Dial(url, nil)
	if err != nil {
		tb.Fatalf("dialing %s: %v", url, err)
	}
	if ws.Subprotocol() != "mqtt" {
		tb.Errorf("subprotocol = %q, want mqtt", ws.Subprotocol())
	}
	return ws
}

func TestTransports(t *testing.T) {
	cfg := transportConfig(t)
	ts := startServer(t, cfg)
	cc := clientTLS(t, devCA(cfg), nil)
	tests := []struct {
		listener string
		dial     func(testing.TB, string) net.Conn
	}{
		{"tcp", nil},
		{"tls", tlsDialer(cc)},
		{"ws", wsDialer(nil)},
		{"wss", wsDialer(cc)},
	}
	sub := connectV5(t, ts, v5Connect("watcher"))
	sub.subscribe(t, "via/#", 1)
	for _, tt := range tests {
		t.Run(tt.listener, func(t *testing.T) {
			opts := []clientOpt{viaListener(tt.listener)}
			if tt.dial != nil {
				opts = append(opts, dialingWith(tt.dial))
			}
			c := connectV5(t, ts, v5Connect("client-"+tt.listener), opts...)
			c.subscribe(t, "echo/"+tt.listener, 1)
			// A payload larger than one TLS record and one socket read.
			payload := strings.Repeat("x", 100<<10)
			c.publish(t, &paho.Publish{Topic: "echo/" + tt.listener, QoS: 1, Payload: []byte(payload)})
			if m := c.expectMessage(t); string(m.Payload) != payload {
				t.Errorf("echo payload of %d bytes, want %d", len(m.Payload), len(payload))
			}
			c.publish(t, &paho.Publish{Topic: "via/" + tt.listener, QoS: 1, Payload: []byte(tt.listener)})
			if m := sub.expectMessage(t); m.Topic != "via/"+tt.listener {
				t.Errorf("tcp subscriber got %q, want via/%s", m.Topic, tt.listener)
			}
		})
	}
}

// TestWSFraming writes raw WebSocket frames: a CONNECT split across two
// messages, then two packets in one message.
func TestWSFraming(t *testing.T) {
	cfg := transportConfig(t)
	ts := startServer(t, cfg)
	ws := dialWSRaw(t, ts.addr(t, "ws"), nil)
	defer ws.Close()
	connect := []byte{0x10, 14, 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 60, 0, 2, 'w', 's'}
	for _, m := range [][]byte{connect[:5], connect[5:], {0xc0, 0, 0xc0, 0}} {
		if err := ws.WriteMessage(websocket.BinaryMessage, m); err != nil {
			t.Fatal(err)
		}
	}
	want := []byte{0x20, 2, 0, 0, 0xd0, 0, 0xd0, 0}
	var got []byte
	ws.SetReadDeadline(time.Now().Add(eventTimeout))
	for len(got) < len(want) {
		typ, p, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("reading: %v (after % x)", err, got)
		}
		if typ != websocket.BinaryMessage {
			t.Fatalf("message type %d, want binary", typ)
		}
		got = append(got, p...)
	}
	if string(got) != string(want) {
		t.Errorf("got % x, want % x (CONNACK, PINGRESP, PINGRESP)", got, want)
	}
	// A text message ends the connection with 1003 [RFC 6455 7.4.1].
	ws.WriteMessage(websocket.TextMessage, []byte{0xc0, 0})
	for {
		_, _, err := ws.ReadMessage()
		if err == nil {
			continue
		}
		if !websocket.IsCloseError(err, websocket.CloseUnsupportedData) {
			t.Errorf("read error %v, want close 1003", err)
		}
		break
	}
}

// TestMosquittoOverTLS checks interoperability: mosquitto_sub trusting
// the development certificate with --cafile gets a retained message.
func TestMosquittoOverTLS(t *testing.T) {
	bin, err := exec.LookPath("mosquitto_sub")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("mosquitto_sub is required in CI: %v", err)
		}
		t.Skip("mosquitto_sub not installed")
	}
	cfg := transportConfig(t)
	ts := startServer(t, cfg)
	pub := connectV5(t, ts, v5Connect("pub"))
	pub.publish(t, &paho.Publish{Topic: "tls/hello", QoS: 1, Retain: true, Payload: []byte("over tls")})
	_, port, _ := net.SplitHostPort(ts.addr(t, "tls"))
	ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "-h", "localhost", "-p", port, "--cafile", devCA(cfg),
		"-t", "tls/hello", "-C", "1", "-W", strconv.Itoa(int(eventTimeout/time.Second))).CombinedOutput()
	if err != nil {
		t.Fatalf("mosquitto_sub: %v: %s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != "over tls" {
		t.Errorf("mosquitto_sub printed %q, want %q", got, "over tls")
	}
}

// TestCertIdentityAsUsername: with client_auth.identity_as username, the
// client certificate's CN replaces the CONNECT user name: a listed user
// needs no password, the ACL's %u is the CN, an unlisted CN is refused.
func TestCertIdentityAsUsername(t *testing.T) {
	ca := newTestCA(t)
	cfg := transportConfig(t)
	cfg.TLS["mtls"] = configs.TLSSource{Source: "self_signed", ClientAuth: configs.ClientAuth{
		Mode: "required", CAFile: ca.write(t), Identity: "cn", IdentityAs: "username",
	}}
	cfg.Listeners = append(cfg.Listeners, configs.Listener{Name: "mtls", Type: "tls", Address: "127.0.0.1:0", TLS: "mtls", AllowAnonymous: refOf(false)})
	cfg.Auth.Users = []configs.User{{Username: "sensor-7", PasswordHash: bcryptHash(t, "unused")}}
	cfg.ACL = configs.ACL{Default: "deny", Rules: []configs.ACLRule{{Permission: "allow", Action: "all", Topic: "devices/%u/#"}}}
	ts := startServer(t, cfg)

	tests := []struct {
		name     string
		cn       string
		username string
		want     mqtt.ReasonCode
	}{
		{"listed cn", "sensor-7", "", mqtt.Success},
		{"listed cn, other user name sent", "sensor-7", "admin", mqtt.Success},
		{"unlisted cn", "stranger", "", mqtt.BadUserNameOrPassword},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cert := ca.issue(t, tt.cn)
			cp := v5Connect("c-" + strings.ReplaceAll(tt.name, " ", "-"))
			if tt.username != "" {
				cp.UsernameFlag, cp.Username = true, tt.username
			}
			c, ack, err := dialV5(t, ts, cp, viaListener("mtls"), dialingWith(tlsDialer(clientTLS(t, devCA(cfg), &cert))))
			if tt.want != mqtt.Success {
				if err == nil || ack == nil || mqtt.ReasonCode(ack.ReasonCode) != tt.want {
					t.Fatalf("connect: %v, connack %v; want %v", err, ack, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("connect: %v (connack %v)", err, ack)
			}
			// The ACL grants devices/<cn>/# only.
			c.subscribe(t, "devices/"+tt.cn+"/cmd", 1)
			sa := c.subscribeWithCodes(t, "devices/admin/cmd")
			if len(sa) != 1 || sa[0] != byte(mqtt.NotAuthorized) {
				t.Errorf("subscribe to another user's topic: reason codes %v, want not authorized", sa)
			}
		})
	}
}

// subscribeWithCodes subscribes to filter and returns the SUBACK reason
// codes, granted or not.
func (c *v5Client) subscribeWithCodes(tb testing.TB, filter string) []byte {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
	defer cancel()
	sa, err := c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: filter, QoS: 1}}})
	if sa == nil {
		tb.Fatalf("subscribe: %v", err)
	}
	return sa.Reasons
}

// TestWSOriginAndProxyHeaders covers the gateway's wiring of the
// websocket and proxy settings: a foreign origin is refused with 403, a
// trusted proxy's X-Forwarded-For becomes the client address.
func TestWSOriginAndProxyHeaders(t *testing.T) {
	cfg := transportConfig(t)
	for i := range cfg.Listeners {
		if cfg.Listeners[i].Name == "ws" {
			cfg.Listeners[i].TrustedProxies = []string{"127.0.0.1"}
			cfg.Listeners[i].WebSocket.AllowedOrigins = []string{"https://app.example.com"}
		}
	}
	ts := startServer(t, cfg)
	url := "ws://" + ts.addr(t, "ws") + "/mqtt"
	d := &websocket.Dialer{HandshakeTimeout: eventTimeout}
	_, resp, err := d.Dial(url, http.Header{"Origin": {"https://evil.example"}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("foreign origin: err %v, response %v; want 403", err, resp)
	}
	ws, _, err := d.Dial(url, http.Header{"Origin": {"https://app.example.com"}, "X-Forwarded-For": {"203.0.113.7"}})
	if err != nil {
		t.Fatalf("allowed origin: %v", err)
	}
	defer ws.Close()
	nc := listeners.NewWSConn(ws, nil)
	nc.Write([]byte{0x10, 14, 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 60, 0, 2, 'x', 'f'})
	expectAcceptedFrom(t, ts, nc, "203.0.113.7:0")
}

// testCA issues client certificates.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newTestCA(tb testing.TB) *testCA {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "client ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key}
}

// write stores the CA certificate as PEM and returns the file.
func (ca *testCA) write(tb testing.TB) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "client-ca.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw}), 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

func (ca *testCA) issue(tb testing.TB, cn string) tls.Certificate {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		tb.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// TestProxyProtocolWiring: a tcp listener with proxy_protocol.trusted
// takes the client address from a trusted peer's PROXY v2 header.
func TestProxyProtocolWiring(t *testing.T) {
	cfg := testConfig(t)
	cfg.Listeners[0].ProxyProtocol = configs.ProxyProtocol{Trusted: []string{"127.0.0.0/8"}}
	ts := startServer(t, cfg)
	nc := dial(t, ts, "tcp")
	defer nc.Close()
	// PROXY v2, PROXY command, TCP over IPv4: 203.0.113.7:4711 ->
	// 192.0.2.1:1883 (PROXY protocol spec section 2.2).
	hdr := []byte("\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c")
	hdr = append(hdr, 203, 0, 113, 7, 192, 0, 2, 1, 0x12, 0x67, 0x07, 0x5b)
	nc.Write(append(hdr, 0x10, 14, 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 60, 0, 2, 'p', 'p'))
	expectAcceptedFrom(t, ts, nc, "203.0.113.7:4711")
}

// TestWSSBrowserALPN: a browser offers ALPN h2 and http/1.1, not mqtt;
// the wss listener must still complete the handshake (RFC 7301 3.2 would
// otherwise refuse it) and speak HTTP/1.1.
func TestWSSBrowserALPN(t *testing.T) {
	cfg := transportConfig(t)
	ts := startServer(t, cfg)
	cc := clientTLS(t, devCA(cfg), nil)
	cc.NextProtos = []string{"h2", "http/1.1"}
	d := &websocket.Dialer{TLSClientConfig: cc, HandshakeTimeout: eventTimeout}
	ws, _, err := d.Dial("wss://"+ts.addr(t, "wss")+"/mqtt", nil)
	if err != nil {
		t.Fatalf("dialing: %v", err)
	}
	defer ws.Close()
	if tc, ok := ws.NetConn().(*tls.Conn); !ok || tc.ConnectionState().NegotiatedProtocol != "http/1.1" {
		t.Errorf("negotiated protocol is not http/1.1")
	}
}

// TestTLSForeignALPN: ALPN "mqtt" is chosen when offered but never a
// reason to refuse an MQTT client: tls and wss listeners serve clients
// offering other ALPN ids (AWS IoT SDKs offer x-amzn-mqtt-ca) without
// ALPN, and wss still negotiates http/1.1 for browsers.
func TestTLSForeignALPN(t *testing.T) {
	cfg := transportConfig(t)
	ts := startServer(t, cfg)
	tests := []struct {
		listener string
		offer    []string
		want     string
	}{
		{"tls", []string{"x-amzn-mqtt-ca"}, ""},
		{"tls", []string{"mqttv3.1", "http/1.1"}, ""},
		{"tls", []string{"mqtt"}, "mqtt"},
		{"tls", nil, ""},
		{"wss", []string{"h2", "http/1.1"}, "http/1.1"},
		{"wss", []string{"h2"}, ""},
		{"wss", []string{"x-amzn-mqtt-ca"}, ""},
	}
	for i, tt := range tests {
		t.Run(fmt.Sprintf("%s/%q", tt.listener, tt.offer), func(t *testing.T) {
			cc := clientTLS(t, devCA(cfg), nil)
			cc.NextProtos = tt.offer
			var negotiated string
			dialer := func(tb testing.TB, addr string) net.Conn {
				tb.Helper()
				if tt.listener == "wss" {
					ws := dialWSRaw(tb, addr, cc)
					negotiated = ws.NetConn().(*tls.Conn).ConnectionState().NegotiatedProtocol
					return listeners.NewWSConn(ws, nil)
				}
				c := tlsDialer(cc)(tb, addr)
				negotiated = c.(*tls.Conn).ConnectionState().NegotiatedProtocol
				return c
			}
			c := connectV5(t, ts, v5Connect(fmt.Sprintf("alpn-%d", i)), viaListener(tt.listener), dialingWith(dialer))
			c.subscribe(t, "alpn/echo", 1)
			if negotiated != tt.want {
				t.Errorf("negotiated %q, want %q", negotiated, tt.want)
			}
		})
	}
}

// expectAcceptedFrom reads a successful 3.1.1 CONNACK on nc and checks the
// server's only connection has the client address want.
func expectAcceptedFrom(tb testing.TB, ts *testServer, nc net.Conn, want string) {
	tb.Helper()
	nc.SetReadDeadline(time.Now().Add(eventTimeout))
	ack := make([]byte, 4)
	if _, err := io.ReadFull(nc, ack); err != nil || ack[0] != 0x20 || ack[3] != 0 {
		tb.Fatalf("connack % x, %v", ack, err)
	}
	ts.mu.Lock()
	var addrs []string
	for c := range ts.conns {
		addrs = append(addrs, c.Channel().Meta().RemoteAddr.String())
	}
	ts.mu.Unlock()
	if len(addrs) != 1 || addrs[0] != want {
		tb.Errorf("client addresses %v, want [%s]", addrs, want)
	}
}
