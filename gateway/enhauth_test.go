package gateway

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"edgemq/configs"
	"edgemq/gateway/auth"
	"edgemq/gateway/auth/scram"
	"edgemq/mqtt"

	"github.com/eclipse/paho.golang/paho"
	xscram "github.com/xdg-go/scram"
)

// scramAuther is the client side of SCRAM for paho.golang's AUTH support.
type scramAuther struct {
	method string
	client *xscram.Client

	mu   sync.Mutex
	conv *xscram.ClientConversation
}

func newSCRAMAuther(tb testing.TB, method, user, password string) *scramAuther {
	tb.Helper()
	h := xscram.SHA256
	if method == scram.MethodSHA512 {
		h = xscram.SHA512
	}
	c, err := h.NewClient(user, password, "")
	if err != nil {
		tb.Fatal(err)
	}
	return &scramAuther{method: method, client: c}
}

// begin starts a conversation and returns the client-first message.
func (a *scramAuther) begin(tb testing.TB) []byte {
	tb.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	a.conv = a.client.NewConversation()
	first, err := a.conv.Step("")
	if err != nil {
		tb.Fatal(err)
	}
	return []byte(first)
}

// Authenticate answers the server-first message.
func (a *scramAuther) Authenticate(in *paho.Auth) *paho.Auth {
	a.mu.Lock()
	defer a.mu.Unlock()
	var data []byte
	if in.Properties != nil {
		data = in.Properties.AuthData
	}
	out, _ := a.conv.Step(string(data))
	return &paho.Auth{ReasonCode: byte(mqtt.ContinueAuthentication), Properties: &paho.AuthProperties{AuthMethod: a.method, AuthData: []byte(out)}}
}

func (a *scramAuther) Authenticated() {}

// verify checks the server-final message: the server knew the password.
func (a *scramAuther) verify(tb testing.TB, serverFinal []byte) {
	tb.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, err := a.conv.Step(string(serverFinal)); err != nil || !a.conv.Valid() {
		tb.Fatalf("server-final %q not valid: %v", serverFinal, err)
	}
}

func withAuther(a paho.Auther) clientOpt { return func(o *clientOpts) { o.auther = a } }

// writeSCRAMFile writes a password file with SCRAM entries of both
// methods for each user, and an unrelated bcrypt line.
func writeSCRAMFile(tb testing.TB, users map[string]string) string {
	tb.Helper()
	var b strings.Builder
	b.WriteString("# test users\nother:$2a$10$Bda/bkmatfHP2OQaIELnVuc3aYPTQcofV3vNUBvMlUVagSbBFwfke\n")
	for u, pw := range users {
		for _, m := range []string{scram.MethodSHA256, scram.MethodSHA512} {
			e, err := scram.Entry(m, pw, 4096)
			if err != nil {
				tb.Fatal(err)
			}
			b.WriteString(u + ":" + e + "\n")
		}
	}
	path := filepath.Join(tb.TempDir(), "passwd")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

func scramConfig(tb testing.TB) *configs.Config {
	cfg := testConfig(tb)
	cfg.Auth.SCRAM.File = writeSCRAMFile(tb, map[string]string{"alice": "wonderland", "bob": "builder"})
	cfg.Auth.BruteForce.InitialDelay = 10 * time.Millisecond
	return cfg
}

func scramConnect(tb testing.TB, clientID string, a *scramAuther) *paho.Connect {
	cp := v5Connect(clientID)
	cp.Properties = &paho.ConnectProperties{AuthMethod: a.method, AuthData: a.begin(tb)}
	return cp
}

// TestSCRAM: SCRAM-SHA-256 and SCRAM-SHA-512 through paho.golang's AUTH
// support: the right password connects (and the server proves it knew
// it), a wrong one or an unknown user gets 0x86, a method not built in
// 0x8C; the authenticated user is %u for the ACL.
func TestSCRAM(t *testing.T) {
	cfg := scramConfig(t)
	cfg.ACL = configs.ACL{Default: "deny", Rules: []configs.ACLRule{{Permission: "allow", Action: "all", Topic: "home/%u/#"}}}
	ts := startServer(t, cfg)
	for _, method := range []string{scram.MethodSHA256, scram.MethodSHA512} {
		t.Run(method, func(t *testing.T) {
			a := newSCRAMAuther(t, method, "alice", "wonderland")
			c, ack, err := dialV5(t, ts, scramConnect(t, "ok-"+method, a), withAuther(a))
			if err != nil {
				t.Fatalf("connect: %v (connack %+v)", err, ack)
			}
			if ack.Properties == nil || ack.Properties.AuthMethod != method {
				t.Fatalf("CONNACK authentication method %+v, want %s", ack.Properties, method)
			}
			a.verify(t, ack.Properties.AuthData)
			c.subscribe(t, "home/alice/#", 1)
			if codes := c.subscribeWithCodes(t, "home/bob/#"); len(codes) != 1 || codes[0] != byte(mqtt.NotAuthorized) {
				t.Errorf("subscribe to home/bob/#: %v, want not authorized (the user name is alice)", codes)
			}

			for _, tt := range []struct {
				name, user, password string
			}{
				{"wrong password", "alice", "looking-glass"},
				{"unknown user", "mallory", "wonderland"},
			} {
				a := newSCRAMAuther(t, method, tt.user, tt.password)
				_, ack, err := dialV5(t, ts, scramConnect(t, "bad-"+method, a), withAuther(a))
				if err == nil || ack == nil || mqtt.ReasonCode(ack.ReasonCode) != mqtt.BadUserNameOrPassword {
					t.Errorf("%s: connect %v, connack %+v; want 0x86", tt.name, err, ack)
				}
			}
		})
	}
	t.Run("unsupported method", func(t *testing.T) {
		cp := v5Connect("kerberos")
		cp.Properties = &paho.ConnectProperties{AuthMethod: "GS2-KRB5", AuthData: []byte("x")}
		_, ack, err := dialV5(t, ts, cp, withAuther(&scramAuther{}))
		if err == nil || ack == nil || mqtt.ReasonCode(ack.ReasonCode) != mqtt.BadAuthenticationMethod {
			t.Errorf("connect %v, connack %+v; want 0x8C", err, ack)
		}
	})
	if n := ts.eng.Stats().Auth.Failures(auth.FailCredentials); n < 4 {
		t.Errorf("bad_credentials failures counted: %d, want at least 4", n)
	}
}

// TestSCRAMWithoutFile: SCRAM is not offered without auth.scram.file.
func TestSCRAMWithoutFile(t *testing.T) {
	ts := startServer(t, testConfig(t))
	a := newSCRAMAuther(t, scram.MethodSHA256, "alice", "wonderland")
	_, ack, err := dialV5(t, ts, scramConnect(t, "nofile", a), withAuther(a))
	if err == nil || ack == nil || mqtt.ReasonCode(ack.ReasonCode) != mqtt.BadAuthenticationMethod {
		t.Errorf("connect %v, connack %+v; want 0x8C", err, ack)
	}
}

func reauth(tb testing.TB, c *v5Client, a *scramAuther) (*paho.AuthResponse, error) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
	defer cancel()
	return c.Authenticate(ctx, &paho.Auth{ReasonCode: byte(mqtt.ReAuthenticate),
		Properties: &paho.AuthProperties{AuthMethod: a.method, AuthData: a.begin(tb)}})
}

// TestSCRAMReauthentication: AUTH 0x19 mid-session with the same method
// and credentials succeeds with AUTH 0x00 and keeps the session (the
// subscription still delivers); a wrong password ends the connection
// with DISCONNECT 0x87.
func TestSCRAMReauthentication(t *testing.T) {
	ts := startServer(t, scramConfig(t))
	a := newSCRAMAuther(t, scram.MethodSHA256, "alice", "wonderland")
	c := connectV5(t, ts, scramConnect(t, "reauth", a), withAuther(a))
	c.subscribe(t, "news", 1)
	pub := connectV5(t, ts, v5Connect("pub"))

	for i := range 2 {
		resp, err := reauth(t, c, a)
		if err != nil || !resp.Success {
			t.Fatalf("re-authentication %d: %v, %+v", i, err, resp)
		}
		// paho.golang does not pass on the data of AUTH 0x00: read it
		// off the wire.
		auths := tapped[*mqtt.Auth](t, c.tap)
		if len(auths) == 0 || auths[len(auths)-1].ReasonCode != mqtt.Success {
			t.Fatalf("no AUTH 0x00 on the wire: %+v", auths)
		}
		last := auths[len(auths)-1]
		if last.Properties.AuthenticationMethod != scram.MethodSHA256 {
			t.Errorf("AUTH 0x00 method %q", last.Properties.AuthenticationMethod)
		}
		a.verify(t, last.Properties.AuthenticationData)
		pub.publish(t, &paho.Publish{Topic: "news", QoS: 1, Payload: []byte("still here")})
		if m := c.expectMessage(t); string(m.Payload) != "still here" {
			t.Fatalf("after re-authentication: got %q", m.Payload)
		}
	}

	// Wrong password: DISCONNECT 0x87.
	a.client, _ = xscram.SHA256.NewClient("alice", "guess", "")
	reauth(t, c, a)
	if d := c.expectServerDisconnect(t); mqtt.ReasonCode(d.ReasonCode) != mqtt.NotAuthorized {
		t.Fatalf("failed re-authentication: DISCONNECT %v, want 0x87", d.ReasonCode)
	}
}

// TestReauthenticationOtherMethod: a re-authentication with another
// method is a protocol error [MQTT-4.12.1-1]; so is AUTH from a client
// that did not use enhanced authentication [MQTT-4.12.0-2].
func TestReauthenticationOtherMethod(t *testing.T) {
	ts := startServer(t, scramConfig(t))
	a := newSCRAMAuther(t, scram.MethodSHA256, "bob", "builder")
	c := connectV5(t, ts, scramConnect(t, "other-method", a), withAuther(a))
	b := newSCRAMAuther(t, scram.MethodSHA512, "bob", "builder")
	reauth(t, c, b)
	if d := c.expectServerDisconnect(t); mqtt.ReasonCode(d.ReasonCode) != mqtt.ProtocolError {
		t.Fatalf("re-authentication with another method: DISCONNECT %v, want 0x82", d.ReasonCode)
	}

	plain := connectV5(t, ts, v5Connect("plain"))
	reauth(t, plain, a)
	if d := plain.expectServerDisconnect(t); mqtt.ReasonCode(d.ReasonCode) != mqtt.ProtocolError {
		t.Fatalf("AUTH without enhanced authentication: DISCONNECT %v, want 0x82", d.ReasonCode)
	}
}

// TestEnhancedAuthRawExchange drives the exchange on a raw socket: the
// server's AUTH 0x18 carries the method and server-first; a packet other
// than AUTH before CONNACK gets CONNACK 0x82; AUTH with another method
// too; silence ends at the connect deadline.
func TestEnhancedAuthRawExchange(t *testing.T) {
	cfg := scramConfig(t)
	cfg.MQTT.ConnectTimeout = 500 * time.Millisecond
	ts := startServer(t, cfg)
	start := func(t *testing.T) (net.Conn, *scramAuther) {
		t.Helper()
		nc := dial(t, ts, "tcp")
		a := newSCRAMAuther(t, scram.MethodSHA256, "alice", "wonderland")
		c := &mqtt.Connect{Version: mqtt.V5, ClientID: "raw", CleanStart: true, KeepAlive: 30, ProtocolName: "MQTT"}
		c.Properties.SetString(mqtt.PropAuthenticationMethod, a.method)
		c.Properties.SetBinary(mqtt.PropAuthenticationData, a.begin(t))
		if err := mqtt.WritePacket(nc, c, mqtt.V5); err != nil {
			t.Fatal(err)
		}
		nc.SetReadDeadline(time.Now().Add(eventTimeout))
		p, err := mqtt.ReadPacket(nc, mqtt.V5, 0)
		au, ok := p.(*mqtt.Auth)
		if err != nil || !ok || au.ReasonCode != mqtt.ContinueAuthentication || au.Properties.AuthenticationMethod != a.method ||
			!strings.HasPrefix(string(au.Properties.AuthenticationData), "r=") {
			t.Fatalf("first answer %#v, %v; want AUTH 0x18 with server-first", p, err)
		}
		return nc, a
	}
	expectConnack := func(t *testing.T, nc net.Conn, want mqtt.ReasonCode) {
		t.Helper()
		p, err := mqtt.ReadPacket(nc, mqtt.V5, 0)
		if ack, ok := p.(*mqtt.Connack); err != nil || !ok || ack.ReasonCode != want {
			t.Fatalf("got %#v, %v; want CONNACK %v", p, err, want)
		}
	}
	t.Run("pingreq", func(t *testing.T) {
		nc, _ := start(t)
		mqtt.WritePacket(nc, &mqtt.Pingreq{}, mqtt.V5)
		expectConnack(t, nc, mqtt.ProtocolError)
	})
	t.Run("other method", func(t *testing.T) {
		nc, _ := start(t)
		au := &mqtt.Auth{ReasonCode: mqtt.ContinueAuthentication}
		au.Properties.SetString(mqtt.PropAuthenticationMethod, scram.MethodSHA512)
		mqtt.WritePacket(nc, au, mqtt.V5)
		expectConnack(t, nc, mqtt.ProtocolError)
	})
	t.Run("silence", func(t *testing.T) {
		nc, _ := start(t)
		if _, err := mqtt.ReadPacket(nc, mqtt.V5, 0); err == nil {
			t.Fatal("the server answered a silent client")
		}
	})
}
