package gateway_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"edgemq/configs"
	"edgemq/gateway"
	"edgemq/gateway/store"
	"edgemq/listeners"
	"edgemq/mqtt"

	"github.com/eclipse/paho.golang/paho"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"golang.org/x/crypto/bcrypt"
)

// embedTimeout bounds every wait of these tests.
const embedTimeout = 10 * time.Second

// seenConn is what an Authenticator saw of one client.
type seenConn struct {
	listener  string
	transport listeners.Transport
	clientID  string
	live      bool // ctx was not done
}

// recordingAuth passes to next and records what each call saw.
type recordingAuth struct {
	next gateway.Authenticator
	mu   sync.Mutex
	seen map[string]seenConn // by user name
}

func (r *recordingAuth) Authenticate(ctx context.Context, c gateway.ConnInfo) error {
	r.mu.Lock()
	r.seen[c.Username()] = seenConn{listener: c.Listener(), transport: c.Transport(), clientID: c.ClientID(), live: ctx.Err() == nil}
	r.mu.Unlock()
	return r.next.Authenticate(ctx, c)
}

func (r *recordingAuth) saw(user string) (seenConn, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.seen[user]
	return s, ok
}

// embedded is a gateway built with New and options, run until the test
// ends or stop is called.
type embedded struct {
	*gateway.Server
	stop func()
}

// runEmbedded builds a gateway on cfg with opts and runs it.
func runEmbedded(tb testing.TB, cfg *configs.Config, opts ...gateway.Option) *embedded {
	tb.Helper()
	srv, err := gateway.New(cfg, zaptest.NewLogger(tb, zaptest.Level(zap.WarnLevel)), opts...)
	if err != nil {
		tb.Fatalf("new gateway: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	var once sync.Once
	e := &embedded{Server: srv}
	e.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					tb.Errorf("gateway run: %v", err)
				}
			case <-time.After(embedTimeout):
				tb.Errorf("gateway did not stop")
			}
		})
	}
	tb.Cleanup(e.stop)
	return e
}

// connect connects a paho.golang v5 client, closed when the test ends.
func (e *embedded) connect(tb testing.TB, clientID, user, password string, expiry uint32) (*paho.Client, *paho.Connack, error) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), embedTimeout)
	defer cancel()
	c, ack, err := connectDevice(ctx, e.Addr("mqtt").String(), clientID, user, password, expiry)
	if c != nil {
		tb.Cleanup(func() { _ = c.Disconnect(&paho.Disconnect{}) })
	}
	return c, ack, err
}

// mustConnect connects and fails the test when the server refuses.
func (e *embedded) mustConnect(tb testing.TB, clientID, user, password string, expiry uint32) (*paho.Client, *paho.Connack) {
	tb.Helper()
	c, ack, err := e.connect(tb, clientID, user, password, expiry)
	if err != nil {
		tb.Fatalf("connect %q: %v (connack %v)", clientID, err, ack)
	}
	return c, ack
}

// subackCode subscribes to filter at QoS 1 and returns the SUBACK code.
func subackCode(tb testing.TB, c *paho.Client, filter string) byte {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), embedTimeout)
	defer cancel()
	sa, err := c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: filter, QoS: 1}}})
	if sa == nil || len(sa.Reasons) != 1 {
		tb.Fatalf("subscribe %q: no SUBACK: %v", filter, err)
	}
	return sa.Reasons[0]
}

// pubackCode publishes at QoS 1 and returns the PUBACK code.
func pubackCode(tb testing.TB, c *paho.Client, topic string) byte {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), embedTimeout)
	defer cancel()
	pr, err := c.Publish(ctx, &paho.Publish{Topic: topic, QoS: 1, Payload: []byte("x")})
	if pr == nil {
		tb.Fatalf("publish to %q: no PUBACK: %v", topic, err)
	}
	return pr.ReasonCode
}

// testEmbeddedConfig is embeddedConfig with the users list after the
// plugin, no anonymous clients, and a configured ACL rule, so that every
// layer has something to decide.
func testEmbeddedConfig(tb testing.TB) *configs.Config {
	tb.Helper()
	cfg, err := embeddedConfig()
	if err != nil {
		tb.Fatalf("config: %v", err)
	}
	h, err := bcrypt.GenerateFromPassword([]byte("admin-pw"), bcrypt.MinCost)
	if err != nil {
		tb.Fatalf("bcrypt: %v", err)
	}
	no := false
	cfg.Listeners[0].Auth = []string{"devices", configs.UsersBackend}
	cfg.Listeners[0].AllowAnonymous = &no
	cfg.Auth.Users = []configs.User{{Username: "admin", PasswordHash: string(h)}}
	cfg.ACL = configs.ACL{Default: "allow", Rules: []configs.ACLRule{{Permission: "deny", Action: "all", Topic: "devices/+/secret"}}}
	cfg.DataDir = tb.TempDir() // the bbolt store of the tests without WithStore
	if err := cfg.Validate(); err != nil {
		tb.Fatalf("config: %v", err)
	}
	return cfg
}

func testTokens() deviceTokens {
	return deviceTokens{tokens: map[string]string{"pump-1": "t0k3n", "pump-9": "t0k3n"}, blocked: map[string]bool{"pump-9": true}}
}

// TestEmbeddedExtensions runs a gateway with the program's Authenticator,
// Authorizer and Store over real sockets and checks that their decisions
// are the ones clients get, chained with the configured ones.
func TestEmbeddedExtensions(t *testing.T) {
	cfg := testEmbeddedConfig(t)
	cfg.Ops.Address = "127.0.0.1:0" // metrics
	auth := &recordingAuth{next: testTokens(), seen: map[string]seenConn{}}
	st := newMemStore()
	e := runEmbedded(t, cfg, gateway.WithAuthenticator("devices", auth), gateway.WithAuthorizer(ownTopics{}), gateway.WithStore(st))

	// CONNACK: the plugin decides the devices it knows; the users list
	// decides the clients the plugin leaves (ErrNotMine); a client neither
	// knows is refused [MQTT-3.2.2-7] with the code of its case.
	connects := []struct {
		name, user, password string
		want                 mqtt.ReasonCode
	}{
		{"plugin refuses a wrong token", "pump-1", "wrong", mqtt.BadUserNameOrPassword},
		{"plugin refuses a blocked device", "pump-9", "t0k3n", mqtt.NotAuthorized},
		{"plugin allows a device", "pump-1", "t0k3n", mqtt.Success},
		{"plugin passes, users allows", "admin", "admin-pw", mqtt.Success},
		{"plugin passes, users refuses", "admin", "wrong", mqtt.BadUserNameOrPassword},
		{"nobody knows the user", "stranger", "x", mqtt.BadUserNameOrPassword},
		{"anonymous on a listener without anonymous clients", "", "", mqtt.NotAuthorized},
	}
	for i, tt := range connects {
		id := "c" + string(rune('a'+i))
		_, ack, err := e.connect(t, id, tt.user, tt.password, 0)
		if ack == nil {
			t.Fatalf("%s: no CONNACK: %v", tt.name, err)
		}
		if got := mqtt.ReasonCode(ack.ReasonCode); got != tt.want {
			t.Errorf("%s: CONNACK %#x, want %#x", tt.name, byte(got), byte(tt.want))
		}
	}
	// Its refusals are counted under backend "plugin".
	metrics := scrapeText(t, e.OpsAddr().String())
	for _, line := range []string{
		`edgemq_auth_backend_failures_total{backend="plugin",reason="bad_credentials"} 1`,
		`edgemq_auth_backend_failures_total{backend="plugin",reason="not_authorized"} 1`,
		`edgemq_auth_backend_failures_total{backend="static",reason="bad_credentials"} 1`,
	} {
		if !strings.Contains(metrics, line+"\n") {
			t.Errorf("/metrics has no line %s", line)
		}
	}
	// The plugin saw a read-only view of the client: its listener,
	// transport and client id, with a live context.
	if s, ok := auth.saw("pump-1"); !ok || s.listener != "mqtt" || s.transport != listeners.TCP || s.clientID == "" || !s.live {
		t.Errorf("authenticator saw %+v (seen %v), want listener mqtt, transport tcp, a client id, a live context", s, ok)
	}

	c, ack := e.mustConnect(t, "pump-1", "pump-1", "t0k3n", 3600)
	if ack.SessionPresent {
		t.Fatalf("new session: session present")
	}
	// SUBACK and PUBACK: a topic is allowed only when the configured ACL
	// (deny devices/+/secret) and the program's authorizer (own topics)
	// both allow it; a refusal is 0x87 [MQTT-3.9.3-1].
	subs := []struct {
		filter string
		want   byte
	}{
		{"devices/pump-1/cmd", byte(mqtt.GrantedQoS1)},
		{"devices/pump-2/cmd", byte(mqtt.NotAuthorized)},
		{"$share/g/devices/pump-2/#", byte(mqtt.NotAuthorized)},
		{"devices/pump-1/secret", byte(mqtt.NotAuthorized)},
	}
	for _, tt := range subs {
		if got := subackCode(t, c, tt.filter); got != tt.want {
			t.Errorf("SUBACK for %s: %#x, want %#x", tt.filter, got, tt.want)
		}
	}
	pubs := []struct {
		topic string
		want  byte
	}{
		{"devices/pump-1/cmd", byte(mqtt.Success)}, // its own subscription matches
		{"devices/pump-1/state", byte(mqtt.NoMatchingSubscribers)},
		{"devices/pump-2/cmd", byte(mqtt.NotAuthorized)},
		{"devices/pump-1/secret", byte(mqtt.NotAuthorized)},
	}
	for _, tt := range pubs {
		if got := pubackCode(t, c, tt.topic); got != tt.want {
			t.Errorf("PUBACK for %s: %#x, want %#x", tt.topic, got, tt.want)
		}
	}

	// The program's store received the session with its subscription.
	ctx, cancel := context.WithTimeout(context.Background(), embedTimeout)
	defer cancel()
	if !st.waitSubscribed(ctx, "pump-1", "devices/pump-1/cmd") {
		t.Fatalf("the store did not receive pump-1's session with devices/pump-1/cmd")
	}

	// A restarted program reopens its store: the session and its
	// subscription come back from it.
	_ = c.Disconnect(&paho.Disconnect{})
	e.stop()
	if !st.isClosed() {
		t.Errorf("store not closed when Run returned")
	}
	e2 := runEmbedded(t, cfg, gateway.WithAuthenticator("devices", auth), gateway.WithAuthorizer(ownTopics{}), gateway.WithStore(st.reopen()))
	c2, ack := e2.mustConnect(t, "pump-1", "pump-1", "t0k3n", 3600)
	if !ack.SessionPresent {
		t.Errorf("after the restart: session present false, want the session from the store [MQTT-3.2.2-2]")
	}
	if got := pubackCode(t, c2, "devices/pump-1/cmd"); got != byte(mqtt.Success) {
		t.Errorf("after the restart: PUBACK for devices/pump-1/cmd %#x, want 0 (the restored subscription matches)", got)
	}
}

// TestEmbeddedReload: a configuration reload replaces the configured ACL
// and rebuilds the listeners' authentication, and the program's
// authenticator and authorizer stay in force; a reload that names a
// plugin backend nobody supplied is refused.
func TestEmbeddedReload(t *testing.T) {
	cfg := testEmbeddedConfig(t)
	e := runEmbedded(t, cfg, gateway.WithAuthenticator("devices", testTokens()), gateway.WithAuthorizer(ownTopics{}))
	c, _ := e.mustConnect(t, "pump-1", "pump-1", "t0k3n", 0)
	if got := pubackCode(t, c, "devices/pump-1/cmd"); got != byte(mqtt.NoMatchingSubscribers) {
		t.Fatalf("before the reload: PUBACK for devices/pump-1/cmd %#x, want 0x10", got)
	}

	next := testEmbeddedConfig(t)
	next.DataDir = cfg.DataDir
	next.ACL.Rules = append(next.ACL.Rules, configs.ACLRule{Permission: "deny", Action: "publish", Topic: "devices/+/cmd"})
	next.Listeners[0].Auth = []string{configs.UsersBackend, "devices"}
	ctx, cancel := context.WithTimeout(context.Background(), embedTimeout)
	defer cancel()
	if _, err := e.Reload(ctx, next); err != nil {
		t.Fatalf("reload: %v", err)
	}
	pubs := []struct {
		topic string
		want  byte
	}{
		{"devices/pump-1/cmd", byte(mqtt.NotAuthorized)},           // the new configured rule
		{"devices/pump-2/state", byte(mqtt.NotAuthorized)},         // the program's authorizer, still
		{"devices/pump-1/state", byte(mqtt.NoMatchingSubscribers)}, // both allow
	}
	for _, tt := range pubs {
		if got := pubackCode(t, c, tt.topic); got != tt.want {
			t.Errorf("after the reload: PUBACK for %s: %#x, want %#x", tt.topic, got, tt.want)
		}
	}
	// The rebuilt chain still has the program's backend.
	if _, ack, _ := e.connect(t, "d2", "pump-1", "wrong", 0); ack == nil || mqtt.ReasonCode(ack.ReasonCode) != mqtt.BadUserNameOrPassword {
		t.Errorf("after the reload: CONNACK for a wrong token %v, want 0x86", ack)
	}
	if _, ack, err := e.connect(t, "d3", "pump-9", "t0k3n", 0); ack == nil || mqtt.ReasonCode(ack.ReasonCode) != mqtt.NotAuthorized {
		t.Errorf("after the reload: CONNACK for a blocked device %v (%v), want 0x87", ack, err)
	}

	bad := testEmbeddedConfig(t)
	bad.DataDir = cfg.DataDir
	bad.Auth.Backends["sso"] = configs.AuthBackend{Type: configs.BackendPlugin}
	bad.Listeners[0].Auth = append(bad.Listeners[0].Auth, "sso")
	if _, err := e.Reload(ctx, bad); err == nil || !strings.Contains(err.Error(), `"sso": type plugin: no authenticator supplied`) {
		t.Errorf("reload naming an unsupplied plugin backend: %v, want it refused", err)
	}
}

// TestEmbeddedOptionErrors: New refuses options that do not fit the
// configuration, and closes a store it was given when it fails.
func TestEmbeddedOptionErrors(t *testing.T) {
	tests := []struct {
		name   string
		config func(*configs.Config)
		opts   []gateway.Option
		want   string
	}{
		{"plugin backend not supplied", nil, nil, `auth backend "devices": type plugin: no authenticator supplied`},
		{"backend not declared", nil, []gateway.Option{gateway.WithAuthenticator("devices", testTokens()), gateway.WithAuthenticator("sso", testTokens())}, `WithAuthenticator("sso"): auth.backends has no entry "sso"`},
		{"backend of another type", func(c *configs.Config) {
			c.Auth.Backends["devices"] = configs.AuthBackend{Type: configs.BackendCert}
			c.Listeners[0].Auth = nil
		}, []gateway.Option{gateway.WithAuthenticator("devices", testTokens())}, `auth.backends.devices has type cert, want plugin`},
		{"supplied twice", nil, []gateway.Option{gateway.WithAuthenticator("devices", testTokens()), gateway.WithAuthenticator("devices", testTokens())}, "supplied twice"},
		{"nil authenticator", nil, []gateway.Option{gateway.WithAuthenticator("devices", nil)}, "the authenticator is nil"},
		{"nil authorizer", nil, []gateway.Option{gateway.WithAuthenticator("devices", testTokens()), gateway.WithAuthorizer(nil)}, "the authorizer is nil"},
		{"nil store", nil, []gateway.Option{gateway.WithAuthenticator("devices", testTokens()), gateway.WithStore(nil)}, "the store is nil"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testEmbeddedConfig(t)
			if tt.config != nil {
				tt.config(cfg)
				if err := cfg.Validate(); err != nil {
					t.Fatalf("config: %v", err)
				}
			}
			st := newMemStore()
			srv, err := gateway.New(cfg, zap.NewNop(), append(tt.opts, gateway.WithStore(st))...)
			if err == nil {
				t.Fatalf("New succeeded (%v), want %q", srv, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New: %v, want %q", err, tt.want)
			}
			if !st.isClosed() {
				t.Errorf("the store given to a failed New was not closed")
			}
		})
	}
}

// scrapeText returns the text of /metrics of the ops listener at addr.
func scrapeText(tb testing.TB, addr string) string {
	tb.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		tb.Fatalf("scraping metrics: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		tb.Fatalf("scraping metrics: %s, %v", resp.Status, err)
	}
	return string(b)
}

// isClosed reports whether Close was called.
func (s *memStore) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

var _ store.Store = (*memStore)(nil)

// revocable is a program's Authorizer over state the program changes:
// admin may do anything, a device its own topics, except the topics
// revoked for it. After a change the program calls RefreshAuthorizer.
type revocable struct {
	mu      sync.Mutex
	revoked map[string]bool // user + " " + topic or filter
}

func (r *revocable) Authorize(c gateway.ConnInfo, a gateway.Action, topic string, qos byte, retain bool) bool {
	if c.Username() == "admin" {
		return true
	}
	r.mu.Lock()
	revoked := r.revoked[c.Username()+" "+topic]
	r.mu.Unlock()
	return !revoked && ownTopics{}.Authorize(c, a, topic, qos, retain)
}

func (r *revocable) revoke(user, topic string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.revoked[user+" "+topic] = true
}

// connectReceiver connects a v5 client whose received messages arrive on
// the returned channel.
func (e *embedded) connectReceiver(tb testing.TB, clientID, user, password string) (*paho.Client, <-chan *paho.Publish) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), embedTimeout)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", e.Addr("mqtt").String())
	if err != nil {
		tb.Fatalf("dial: %v", err)
	}
	msgs := make(chan *paho.Publish, 16)
	c := paho.NewClient(paho.ClientConfig{Conn: conn, OnPublishReceived: []func(paho.PublishReceived) (bool, error){
		func(pr paho.PublishReceived) (bool, error) {
			select {
			case msgs <- pr.Packet:
			default: // the test fails on the messages it does see
			}
			return true, nil
		},
	}})
	cp := &paho.Connect{ClientID: clientID, CleanStart: true, KeepAlive: 60, Username: user, UsernameFlag: true, Password: []byte(password), PasswordFlag: true}
	if _, err := c.Connect(ctx, cp); err != nil {
		conn.Close()
		tb.Fatalf("connect %q: %v", clientID, err)
	}
	tb.Cleanup(func() { _ = c.Disconnect(&paho.Disconnect{}) })
	return c, msgs
}

// nextTopic returns the topic of the next message on msgs.
func nextTopic(tb testing.TB, msgs <-chan *paho.Publish) string {
	tb.Helper()
	select {
	case m := <-msgs:
		return m.Topic
	case <-time.After(embedTimeout):
		tb.Fatalf("no message")
		return ""
	}
}

// TestEmbeddedRefreshAuthorizer: after the program revokes a topic and
// calls RefreshAuthorizer, a granted subscription to it receives nothing
// more (the read decision is made again at delivery) and the client's
// cached publish decision for it is dropped (0x87).
func TestEmbeddedRefreshAuthorizer(t *testing.T) {
	cfg := testEmbeddedConfig(t)
	authz := &revocable{revoked: map[string]bool{}}
	e := runEmbedded(t, cfg, gateway.WithAuthenticator("devices", testTokens()), gateway.WithAuthorizer(authz))
	dev, msgs := e.connectReceiver(t, "pump-1", "pump-1", "t0k3n")
	admin, _ := e.mustConnect(t, "admin", "admin", "admin-pw", 0)
	for _, f := range []string{"devices/pump-1/cmd", "devices/pump-1/fence"} {
		if got := subackCode(t, dev, f); got != byte(mqtt.GrantedQoS1) {
			t.Fatalf("SUBACK for %s: %#x, want 0x01", f, got)
		}
	}
	if got := pubackCode(t, admin, "devices/pump-1/cmd"); got != byte(mqtt.Success) {
		t.Fatalf("PUBACK for devices/pump-1/cmd: %#x, want 0", got)
	}
	if got := nextTopic(t, msgs); got != "devices/pump-1/cmd" {
		t.Fatalf("pump-1 received %q, want devices/pump-1/cmd", got)
	}
	if got := pubackCode(t, dev, "devices/pump-1/cmd"); got != byte(mqtt.Success) {
		t.Fatalf("pump-1's own PUBACK for devices/pump-1/cmd: %#x, want 0", got)
	}
	if got := nextTopic(t, msgs); got != "devices/pump-1/cmd" {
		t.Fatalf("pump-1 received %q, want its own devices/pump-1/cmd", got)
	}

	authz.revoke("pump-1", "devices/pump-1/cmd")
	e.RefreshAuthorizer()
	pubackCode(t, admin, "devices/pump-1/cmd") // refused at delivery, not at publish
	pubackCode(t, admin, "devices/pump-1/fence")
	// Messages from one publisher keep their order [MQTT-4.6.0-5]: the
	// fence comes first only if the revoked message was not delivered.
	if got := nextTopic(t, msgs); got != "devices/pump-1/fence" {
		t.Errorf("after the revocation pump-1 received %q first, want the fence: the revoked subscription still delivers", got)
	}
	if got := pubackCode(t, dev, "devices/pump-1/cmd"); got != byte(mqtt.NotAuthorized) {
		t.Errorf("after the revocation pump-1's PUBACK for devices/pump-1/cmd: %#x, want 0x87 (the cached decision dropped)", got)
	}
}
