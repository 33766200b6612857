package gateway

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"edgemq/gateway/internal/testclock"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"edgemq/configs"
	"edgemq/listeners"
	"edgemq/mqtt"

	"github.com/eclipse/paho.golang/paho"
	mqtt3 "github.com/eclipse/paho.mqtt.golang"
	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

// testKey is a signing key made in the test with its verification side.
type testKey struct {
	kid    string
	method jwt.SigningMethod
	priv   any // []byte for HS256
	pub    crypto.PublicKey
}

func newTestKey(tb testing.TB, alg, kid string) *testKey {
	tb.Helper()
	k := &testKey{kid: kid}
	switch alg {
	case "HS256":
		// Printable: the secret file is read with trailing line
		// endings trimmed, and random bytes may end in one.
		r := make([]byte, 32)
		rand.Read(r)
		s := []byte(hex.EncodeToString(r))
		k.method, k.priv, k.pub = jwt.SigningMethodHS256, s, s
	case "RS256":
		p, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			tb.Fatal(err)
		}
		k.method, k.priv, k.pub = jwt.SigningMethodRS256, p, &p.PublicKey
	case "ES256":
		p, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			tb.Fatal(err)
		}
		k.method, k.priv, k.pub = jwt.SigningMethodES256, p, &p.PublicKey
	case "EdDSA":
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			tb.Fatal(err)
		}
		k.method, k.priv, k.pub = jwt.SigningMethodEdDSA, priv, pub
	default:
		tb.Fatalf("alg %s", alg)
	}
	return k
}

// sign makes a token with claims; exp one hour ahead unless set.
func (k *testKey) sign(tb testing.TB, claims jwt.MapClaims) string {
	tb.Helper()
	if _, ok := claims["exp"]; !ok {
		claims["exp"] = time.Now().Add(time.Hour).Unix()
	}
	t := jwt.NewWithClaims(k.method, claims)
	if k.kid != "" {
		t.Header["kid"] = k.kid
	}
	s, err := t.SignedString(k.priv)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// keyFile writes the secret (HS256) or the PEM public key.
func (k *testKey) keyFile(tb testing.TB) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "key")
	var data []byte
	if s, ok := k.pub.([]byte); ok {
		data = append(append([]byte{}, s...), '\n')
	} else {
		der, err := x509.MarshalPKIXPublicKey(k.pub)
		if err != nil {
			tb.Fatal(err)
		}
		data = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

// jwk returns the key as a JSON Web Key.
func (k *testKey) jwk() map[string]string {
	b64 := base64.RawURLEncoding.EncodeToString
	m := map[string]string{"kid": k.kid, "alg": k.method.Alg(), "use": "sig"}
	switch p := k.pub.(type) {
	case []byte:
		m["kty"], m["k"] = "oct", b64(p)
	case *rsa.PublicKey:
		m["kty"], m["n"], m["e"] = "RSA", b64(p.N.Bytes()), b64(big.NewInt(int64(p.E)).Bytes())
	case *ecdsa.PublicKey:
		raw, _ := p.Bytes()
		m["kty"], m["crv"], m["x"], m["y"] = "EC", "P-256", b64(raw[1:33]), b64(raw[33:])
	case ed25519.PublicKey:
		m["kty"], m["crv"], m["x"] = "OKP", "Ed25519", b64(p)
	}
	return m
}

func jwksJSON(keys ...*testKey) []byte {
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	for _, k := range keys {
		set.Keys = append(set.Keys, k.jwk())
	}
	b, _ := json.Marshal(set)
	return b
}

// jwtConfig adds backend "jwt" to cfg with j, chained on every listener.
func jwtConfig(cfg *configs.Config, j configs.JWTAuth) {
	if j.UsernameClaim == "" {
		j.UsernameClaim = "sub"
	}
	cfg.Auth.Backends = map[string]configs.AuthBackend{"jwt": {Type: "jwt", JWT: j}}
	for i := range cfg.Listeners {
		cfg.Listeners[i].Auth = []string{"jwt"}
		cfg.Listeners[i].AllowAnonymous = refOf(false)
	}
}

// tokenConnect is a v5 CONNECT with the token as password.
func tokenConnect(clientID, token string) *paho.Connect {
	cp := v5Connect(clientID)
	cp.PasswordFlag, cp.Password = true, []byte(token)
	return cp
}

// expectRefused connects and checks the CONNACK reason code.
func expectRefused(t *testing.T, ts *testServer, cp *paho.Connect, want mqtt.ReasonCode, opts ...clientOpt) {
	t.Helper()
	_, ack, err := dialV5(t, ts, cp, opts...)
	if err == nil || ack == nil || mqtt.ReasonCode(ack.ReasonCode) != want {
		t.Fatalf("connect %q: err %v, connack %v; want %v", cp.ClientID, err, ack, want)
	}
}

// The four algorithms with keys from a file; the username claim becomes
// the user name the ACL sees (%u).
func TestJWTAlgorithms(t *testing.T) {
	for _, alg := range []string{"HS256", "RS256", "ES256", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			k := newTestKey(t, alg, "")
			cfg := testConfig(t)
			j := configs.JWTAuth{Token: configs.JWTTokenSource{Password: true}}
			if alg == "HS256" {
				j.SecretFile = k.keyFile(t)
			} else {
				j.PublicKeyFile = k.keyFile(t)
			}
			jwtConfig(cfg, j)
			cfg.ACL = configs.ACL{Default: "deny", Rules: []configs.ACLRule{{Permission: "allow", Action: "all", Topic: "users/%u/#"}}}
			ts := startServer(t, cfg)
			cp := tokenConnect("c-"+alg, k.sign(t, jwt.MapClaims{"sub": "dev-" + alg}))
			cp.UsernameFlag, cp.Username = true, "ignored"
			c := connectV5(t, ts, cp)
			c.subscribe(t, "users/dev-"+alg+"/in", 1)
			if sa := c.subscribeWithCodes(t, "users/ignored/in"); len(sa) != 1 || sa[0] != byte(mqtt.NotAuthorized) {
				t.Errorf("subscribe as the CONNECT user name: %v, want not authorized", sa)
			}
			// Another key of the same algorithm: bad signature.
			other := newTestKey(t, alg, "")
			expectRefused(t, ts, tokenConnect("forged", other.sign(t, jwt.MapClaims{"sub": "x"})), mqtt.BadUserNameOrPassword)
		})
	}
}

// exp, nbf, iss and aud failures: 0x87 (v5) and return code 5 (3.1.1);
// a bad signature 0x86 and 4.
func TestJWTClaimsRefused(t *testing.T) {
	k := newTestKey(t, "ES256", "")
	cfg := testConfig(t)
	jwtConfig(cfg, configs.JWTAuth{PublicKeyFile: k.keyFile(t), Issuer: "https://issuer.example", Audience: "edgemq",
		Leeway: time.Second, Token: configs.JWTTokenSource{Password: true}})
	ts := startServer(t, cfg)
	now := time.Now()
	good := jwt.MapClaims{"sub": "a", "iss": "https://issuer.example", "aud": "edgemq"}
	with := func(k2, v any) jwt.MapClaims {
		c := jwt.MapClaims{}
		for a, b := range good {
			c[a] = b
		}
		c[k2.(string)] = v
		return c
	}
	connectV5(t, ts, tokenConnect("good", k.sign(t, with("exp", now.Add(time.Minute).Unix()))))
	forged := newTestKey(t, "ES256", "").sign(t, good)
	tests := []struct {
		name  string
		token string
		want  mqtt.ReasonCode
		v3    byte
	}{
		{"expired", k.sign(t, with("exp", now.Add(-time.Minute).Unix())), mqtt.NotAuthorized, 5},
		{"not yet valid", k.sign(t, with("nbf", now.Add(time.Minute).Unix())), mqtt.NotAuthorized, 5},
		{"other issuer", k.sign(t, with("iss", "https://evil.example")), mqtt.NotAuthorized, 5},
		{"other audience", k.sign(t, with("aud", []string{"other"})), mqtt.NotAuthorized, 5},
		{"no username claim", k.sign(t, with("sub", "")), mqtt.NotAuthorized, 5},
		{"bad signature", forged, mqtt.BadUserNameOrPassword, 4},
		{"garbage", "eyJhbGciOiJFUzI1NiJ9.eyJ9.x", mqtt.BadUserNameOrPassword, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			expectRefused(t, ts, tokenConnect("v5", tt.token), tt.want)
			_, ct, err := dialV3(t, ts, "v3", func(o *mqtt3.ClientOptions) { o.SetUsername("x").SetPassword(tt.token) })
			if err == nil || ct.ReturnCode() != tt.v3 {
				t.Errorf("3.1.1: %v, return code %d; want %d", err, ct.ReturnCode(), tt.v3)
			}
		})
	}
	// Within the leeway is fine.
	connectV5(t, ts, tokenConnect("leeway", k.sign(t, with("nbf", now.Add(500*time.Millisecond).Unix()))))
}

// A JWKS served over HTTP: keys by kid, and a rotation: a token with an
// unknown kid fetches the set again. The server's clock (withClock, which
// the JWKS cache reads) is moved by hand past jwks_min_interval.
func TestJWKSRotation(t *testing.T) {
	k1 := newTestKey(t, "RS256", "k1")
	k2 := newTestKey(t, "EdDSA", "k2")
	var mu sync.Mutex
	set := jwksJSON(k1)
	var fetches atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		mu.Lock()
		defer mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write(set)
	}))
	defer srv.Close()
	cfg := testConfig(t)
	jwtConfig(cfg, configs.JWTAuth{JWKSURL: srv.URL, JWKSRefresh: time.Hour, JWKSMinInterval: 500 * time.Millisecond,
		Token: configs.JWTTokenSource{Password: true}})
	clock := testclock.New(time.Now())
	ts := startServerLog(t, cfg, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)), func(*Server) {}, withClock(clock))
	connectV5(t, ts, tokenConnect("a", k1.sign(t, jwt.MapClaims{"sub": "a"})))
	connectV5(t, ts, tokenConnect("b", k1.sign(t, jwt.MapClaims{"sub": "b"})))
	if n := fetches.Load(); n != 1 {
		t.Errorf("%d fetches for two tokens of a known kid, want 1", n)
	}
	// k2 is not published yet.
	clock.Add(600 * time.Millisecond)
	expectRefused(t, ts, tokenConnect("c", k2.sign(t, jwt.MapClaims{"sub": "c"})), mqtt.BadUserNameOrPassword)
	mu.Lock()
	set = jwksJSON(k1, k2)
	mu.Unlock()
	if n := fetches.Load(); n != 2 {
		t.Errorf("%d fetches after an unknown kid past jwks_min_interval, want 2", n)
	}
	clock.Add(600 * time.Millisecond) // past jwks_min_interval
	connectV5(t, ts, tokenConnect("d", k2.sign(t, jwt.MapClaims{"sub": "d"})))
	before := fetches.Load()
	// Unknown kids right after: rate-limited, no new fetch.
	unknown := newTestKey(t, "EdDSA", "k3")
	expectRefused(t, ts, tokenConnect("e", unknown.sign(t, jwt.MapClaims{"sub": "e"})), mqtt.BadUserNameOrPassword)
	expectRefused(t, ts, tokenConnect("f", unknown.sign(t, jwt.MapClaims{"sub": "f"})), mqtt.BadUserNameOrPassword)
	if n := fetches.Load() - before; n > 1 {
		t.Errorf("%d fetches for unknown kids within jwks_min_interval, want at most 1", n)
	}
}

// A JWKS file with an HS256 (oct) and an ES256 key.
func TestJWKSFile(t *testing.T) {
	hs, es := newTestKey(t, "HS256", "h"), newTestKey(t, "ES256", "e")
	path := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(path, jwksJSON(hs, es), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t)
	jwtConfig(cfg, configs.JWTAuth{JWKSFile: path, Algorithms: []string{"HS256", "ES256"}, Token: configs.JWTTokenSource{Password: true}})
	ts := startServer(t, cfg)
	connectV5(t, ts, tokenConnect("hs", hs.sign(t, jwt.MapClaims{"sub": "a"})))
	connectV5(t, ts, tokenConnect("es", es.sign(t, jwt.MapClaims{"sub": "b"})))
	// EdDSA is not among the algorithms.
	ed := newTestKey(t, "EdDSA", "e")
	expectRefused(t, ts, tokenConnect("ed", ed.sign(t, jwt.MapClaims{"sub": "c"})), mqtt.BadUserNameOrPassword)
}

// wsDialerWith dials ws:// (wss:// with cc) with extra upgrade request
// headers and query.
func wsDialerWith(cc *tls.Config, header http.Header, query string) func(testing.TB, string) net.Conn {
	return func(tb testing.TB, addr string) net.Conn {
		tb.Helper()
		u := "ws://" + addr + "/mqtt"
		if cc != nil {
			u = "wss://" + addr + "/mqtt"
		}
		if query != "" {
			u += "?" + query
		}
		d := &websocket.Dialer{TLSClientConfig: cc, Subprotocols: []string{"mqtt"}, HandshakeTimeout: eventTimeout}
		ws, _, err := d.Dial(u, header)
		if err != nil {
			tb.Fatalf("dialing %s: %v", u, err)
		}
		return listeners.NewWSConn(ws, nil)
	}
}

// Over WebSocket the token comes from a header, a cookie or the query;
// the CONNECT carries no credentials.
func TestJWTWebSocketSources(t *testing.T) {
	k := newTestKey(t, "ES256", "")
	cfg := transportConfig(t)
	jwtConfig(cfg, configs.JWTAuth{PublicKeyFile: k.keyFile(t),
		Token: configs.JWTTokenSource{Header: "Authorization", Cookie: "mqtt_token", Query: "token"}})
	cfg.Listeners = []configs.Listener{
		{Name: "ws", Type: "ws", Address: "127.0.0.1:0", Auth: []string{"jwt"}, AllowAnonymous: refOf(false)},
		{Name: "wss", Type: "wss", Address: "127.0.0.1:0", TLS: "dev", Auth: []string{"jwt"}, AllowAnonymous: refOf(false)},
	}
	ts := startServer(t, cfg)
	cc := clientTLS(t, devCA(cfg), nil)
	tok := k.sign(t, jwt.MapClaims{"sub": "browser"})
	bad := newTestKey(t, "ES256", "").sign(t, jwt.MapClaims{"sub": "browser"})
	tests := []struct {
		name   string
		header http.Header
		query  string
		want   mqtt.ReasonCode
	}{
		{"header", http.Header{"Authorization": {"Bearer " + tok}}, "", mqtt.Success},
		{"cookie", http.Header{"Cookie": {"mqtt_token=" + tok}}, "", mqtt.Success},
		{"query", nil, "token=" + url.QueryEscape(tok), mqtt.Success},
		{"forged header", http.Header{"Authorization": {"Bearer " + bad}}, "", mqtt.BadUserNameOrPassword},
		{"none", nil, "", mqtt.NotAuthorized}, // anonymous refused
		{"wss header", http.Header{"Authorization": {"Bearer " + tok}}, "", mqtt.Success},
		{"wss cookie", http.Header{"Cookie": {"other=1; mqtt_token=" + tok}}, "", mqtt.Success},
		{"wss none", nil, "", mqtt.NotAuthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := []clientOpt{viaListener("ws"), dialingWith(wsDialerWith(nil, tt.header, tt.query))}
			if strings.HasPrefix(tt.name, "wss") {
				opts = []clientOpt{viaListener("wss"), dialingWith(wsDialerWith(cc, tt.header, tt.query))}
			}
			if tt.want != mqtt.Success {
				expectRefused(t, ts, v5Connect("ws-"+strings.ReplaceAll(tt.name, " ", "-")), tt.want, opts...)
				return
			}
			c := connectV5(t, ts, v5Connect("ws-"+strings.ReplaceAll(tt.name, " ", "-")), opts...)
			c.subscribe(t, "x", 0)
		})
	}
}

// A token that expires mid-session: v5 gets DISCONNECT Not Authorized
// (0x87), 3.1.1 a close.
func TestJWTExpiresMidSession(t *testing.T) {
	k := newTestKey(t, "HS256", "")
	cfg := testConfig(t)
	jwtConfig(cfg, configs.JWTAuth{SecretFile: k.keyFile(t), Token: configs.JWTTokenSource{Password: true}})
	ts := startServer(t, cfg)
	exp := time.Now().Add(2 * time.Second).Unix()
	long := connectV5(t, ts, tokenConnect("long", k.sign(t, jwt.MapClaims{"sub": "l"})))
	c5 := connectV5(t, ts, tokenConnect("v5", k.sign(t, jwt.MapClaims{"sub": "a", "exp": exp})))
	tok3 := k.sign(t, jwt.MapClaims{"sub": "b", "exp": exp})
	c3 := connectV3(t, ts, "v3", func(o *mqtt3.ClientOptions) { o.SetUsername("x").SetPassword(tok3) })
	start := time.Now()
	d := c5.expectServerDisconnect(t)
	if mqtt.ReasonCode(d.ReasonCode) != mqtt.NotAuthorized {
		t.Errorf("DISCONNECT reason %#x, want 0x87", d.ReasonCode)
	}
	c3.expectLost(t)
	if el := time.Since(start); el > 4*time.Second {
		t.Errorf("disconnected after %s", el)
	}
	long.roundTrip(t) // the unexpiring one stays
}

// extendAuth moves the deadline (re-authentication).
func TestExtendAuth(t *testing.T) {
	k := newTestKey(t, "HS256", "")
	cfg := testConfig(t)
	jwtConfig(cfg, configs.JWTAuth{SecretFile: k.keyFile(t), Token: configs.JWTTokenSource{Password: true}})
	ts := startServer(t, cfg)
	c := connectV5(t, ts, tokenConnect("ext", k.sign(t, jwt.MapClaims{"sub": "a", "exp": time.Now().Add(time.Second).Unix()})))
	for _, cn := range ts.connections() {
		cn.Channel().ExtendAuth(time.Now().Add(time.Hour))
	}
	c.expectNoMessageFor(t, 2*time.Second)
	c.roundTrip(t)
}

// The ACL claim reaches the channel.
func TestJWTACLClaims(t *testing.T) {
	k := newTestKey(t, "HS256", "")
	cfg := testConfig(t)
	jwtConfig(cfg, configs.JWTAuth{SecretFile: k.keyFile(t), ACLClaim: "acl", Token: configs.JWTTokenSource{Password: true}})
	ts := startServer(t, cfg)
	connectV5(t, ts, tokenConnect("acl", k.sign(t, jwt.MapClaims{"sub": "a",
		"acl": map[string]any{"pub": []string{"a/#"}, "sub": []string{"b/+", "c"}}})))
	expectRefused(t, ts, tokenConnect("badacl", k.sign(t, jwt.MapClaims{"sub": "a", "acl": "all"})), mqtt.NotAuthorized)
	ts.mu.Lock()
	defer ts.mu.Unlock()
	found := false
	for cn := range ts.conns {
		// kickVersion is stored once connect is done: reading it orders
		// this after the fields connect set.
		if cn.Channel().Version() == 0 || cn.Channel().Negotiated().ClientID != "acl" {
			continue
		}
		found = true
		a := cn.Channel().ACLClaims()
		if a == nil || strings.Join(a.Pub, ",") != "a/#" || strings.Join(a.Sub, ",") != "b/+,c" {
			t.Errorf("ACL claims %+v", a)
		}
	}
	if !found {
		t.Error("client acl not connected")
	}
}

// A JWKS server that fails: the keys loaded before stay in use, and a
// stale set is asked for at most once per jwks_min_interval. The
// server's clock (withClock, which the JWKS cache reads) is moved by
// hand.
func TestJWKSServerDown(t *testing.T) {
	k := newTestKey(t, "ES256", "k")
	var down atomic.Bool
	var fetches atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		if down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		w.Write(jwksJSON(k))
	}))
	defer srv.Close()
	cfg := testConfig(t)
	jwtConfig(cfg, configs.JWTAuth{JWKSURL: srv.URL, JWKSRefresh: 100 * time.Millisecond, JWKSMinInterval: 300 * time.Millisecond,
		Token: configs.JWTTokenSource{Password: true}})
	clock := testclock.New(time.Now())
	ts := startServerLog(t, cfg, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)), func(*Server) {}, withClock(clock))
	down.Store(true)
	clock.Add(350 * time.Millisecond) // stale, and past the interval
	before := fetches.Load()
	for i := range 3 {
		connectV5(t, ts, tokenConnect("c"+string(rune('0'+i)), k.sign(t, jwt.MapClaims{"sub": "a"})))
	}
	if n := fetches.Load() - before; n != 1 {
		t.Errorf("%d fetches of a stale set from a failing server, want 1", n)
	}
}

// The ACL claims of a token narrow what the client may do: it publishes
// only to topics its "pub" filters match and subscribes only to filters
// its "sub" filters cover; anything else is refused with Not Authorized.
func TestJWTACLClaimsEnforced(t *testing.T) {
	k := newTestKey(t, "HS256", "")
	cfg := testConfig(t)
	jwtConfig(cfg, configs.JWTAuth{SecretFile: k.keyFile(t), ACLClaim: "acl", Token: configs.JWTTokenSource{Password: true}})
	ts := startServer(t, cfg)
	c := connectV5(t, ts, tokenConnect("claims", k.sign(t, jwt.MapClaims{"sub": "a",
		"acl": map[string]any{"pub": []string{"a/#"}, "sub": []string{"b/+"}}})))
	sa, _ := c.Subscribe(t.Context(), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{
		{Topic: "b/x", QoS: 1}, {Topic: "b/#", QoS: 1}, {Topic: "a/x", QoS: 1},
	}})
	want := []byte{1, byte(mqtt.NotAuthorized), byte(mqtt.NotAuthorized)}
	if sa == nil || !slices.Equal(sa.Reasons, want) {
		t.Errorf("SUBACK %v, want %v", sa, want)
	}
	if r := c.publish(t, &paho.Publish{Topic: "a/1", QoS: 1, Payload: []byte("ok")}); r.ReasonCode >= 0x80 {
		t.Errorf("publish within the claims refused: %v", r.ReasonCode)
	}
	r, _ := c.Publish(t.Context(), &paho.Publish{Topic: "b/1", QoS: 1, Payload: []byte("no")})
	if r == nil || r.ReasonCode != byte(mqtt.NotAuthorized) {
		t.Errorf("publish outside the claims: %v, want 0x87", r)
	}
}
