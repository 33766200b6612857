package gateway

// The security battery of issue 12 (part 4), rows an attacker would try,
// over real sockets with real clients: forged and stale JWTs, hostile
// user names and client ids against %u/%c rules, the JSON log and the
// admin API's paths, $share and $SYS against the ACL
// (security_admin_test.go: the admin API and proxies).

import (
	"bufio"
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"edgemq/configs"
	"edgemq/gateway/admin"
	"edgemq/gateway/logsafe"
	"edgemq/mqtt"

	"github.com/eclipse/paho.golang/paho"
	mqtt3 "github.com/eclipse/paho.mqtt.golang"
	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// unsignedToken is a token with alg "none" (RFC 7519 6.1): no signature.
func unsignedToken(alg, kid string, claims jwt.MapClaims) string {
	b64 := base64.RawURLEncoding.EncodeToString
	h, _ := json.Marshal(map[string]string{"alg": alg, "typ": "JWT", "kid": kid})
	c, _ := json.Marshal(claims)
	return b64(h) + "." + b64(c) + "."
}

// hmacWithPublicKey signs claims with HS256 using an RS256 key's public
// side as the HMAC secret: the algorithm confusion attack, where a
// verifier that takes "alg" from the token checks the MAC with the bytes
// of the key it holds.
func hmacWithPublicKey(tb testing.TB, k *testKey, kid string, pemForm bool, claims jwt.MapClaims) string {
	tb.Helper()
	der, err := x509.MarshalPKIXPublicKey(k.pub)
	if err != nil {
		tb.Fatal(err)
	}
	secret := der
	if pemForm {
		secret = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(secret)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// TestSecurityJWT: each forged or stale token is refused, from a key
// file and from a JWKS, v5 and 3.1.1; a good token passes. A token that
// does not verify is a bad password (0x86, return code 4); a verified one
// whose validity window does not hold is not authorized (0x87, 5).
func TestSecurityJWT(t *testing.T) {
	rs := newTestKey(t, "RS256", "k1")
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(jwksJSON(rs))
	}))
	defer jwks.Close()
	sources := []struct {
		name string
		j    configs.JWTAuth
	}{
		{"public_key_file", configs.JWTAuth{PublicKeyFile: rs.keyFile(t)}},
		{"jwks_url", configs.JWTAuth{JWKSURL: jwks.URL, JWKSRefresh: time.Hour, JWKSMinInterval: time.Hour}},
	}
	now := time.Now()
	claims := func(extra ...any) jwt.MapClaims {
		c := jwt.MapClaims{"sub": "mallory", "exp": now.Add(time.Hour).Unix()}
		for i := 0; i+1 < len(extra); i += 2 {
			c[extra[i].(string)] = extra[i+1]
		}
		return c
	}
	stranger := newTestKey(t, "RS256", "k9")
	rows := []struct {
		name  string
		token string
		code  mqtt.ReasonCode
		v3    byte
	}{
		{"alg none", unsignedToken("none", "k1", claims()), mqtt.BadUserNameOrPassword, 4},
		{"alg None", unsignedToken("None", "k1", claims()), mqtt.BadUserNameOrPassword, 4},
		{"alg none, signature kept", unsignedToken("none", "k1", claims()) + strings.Split(rs.sign(t, claims()), ".")[2], mqtt.BadUserNameOrPassword, 4},
		{"HS256 with the RS256 public key (PEM)", hmacWithPublicKey(t, rs, "k1", true, claims()), mqtt.BadUserNameOrPassword, 4},
		{"HS256 with the RS256 public key (DER)", hmacWithPublicKey(t, rs, "k1", false, claims()), mqtt.BadUserNameOrPassword, 4},
		{"unknown kid", stranger.sign(t, claims()), mqtt.BadUserNameOrPassword, 4},
		{"expired", rs.sign(t, claims("exp", now.Add(-time.Minute).Unix())), mqtt.NotAuthorized, 5},
		{"not yet valid", rs.sign(t, claims("nbf", now.Add(time.Hour).Unix())), mqtt.NotAuthorized, 5},
	}
	for _, src := range sources {
		t.Run(src.name, func(t *testing.T) {
			cfg := testConfig(t)
			j := src.j
			j.Token = configs.JWTTokenSource{Password: true}
			jwtConfig(cfg, j)
			ts := startServer(t, cfg)
			connectV5(t, ts, tokenConnect("good", rs.sign(t, claims())))
			for _, tt := range rows {
				t.Run(tt.name, func(t *testing.T) {
					expectRefused(t, ts, tokenConnect("v5", tt.token), tt.code)
					_, ct, err := dialV3(t, ts, "v3", func(o *mqtt3.ClientOptions) { o.SetUsername("x").SetPassword(tt.token) })
					if err == nil || ct.ReturnCode() != tt.v3 {
						t.Errorf("3.1.1: %v, return code %d; want %d", err, ct.ReturnCode(), tt.v3)
					}
				})
			}
		})
	}
}

// syncBuffer is a log sink tests read while the server writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) Sync() error { return nil }

func (b *syncBuffer) bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

// jsonLogger is the production JSON encoder (cmd/edgemq) writing to a
// buffer, at info.
func jsonLogger() (*zap.Logger, *syncBuffer) {
	sink := &syncBuffer{}
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	return zap.New(zapcore.NewCore(enc, sink, zap.InfoLevel)), sink
}

// logEntries parses every line of a JSON log, failing the test on a line
// that is not one JSON object: a client string must not split or forge
// a line.
func logEntries(tb testing.TB, raw []byte) []map[string]any {
	tb.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var e map[string]any
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			tb.Fatalf("log line is not a JSON object: %q: %v", sc.Text(), err)
		}
		out = append(out, e)
	}
	return out
}

// hostileNames are user names and client ids an attacker would pick:
// wildcards, level separators, substitution markers, and characters that
// break log lines (control characters, DEL, C1 NEL, the Unicode line
// separator, a bidirectional override).
var hostileNames = []string{
	"+", "#", "alice/x", "alice/#", "%u", "%c", "a%2Fb", "..", "a/../b",
	"a\nb", "a\r\nb", "a\u2028b", "a\u2029b", "a\u0085b", "a\x7fb", "a\x1b[31mb", "a\u202eb",
}

// ownCode is the SUBACK code of the filter PREFIX/name/# that a %u or
// %c rule gives a name: granted only when the name holds no wildcard and
// no level separator; a '#' inside it makes the filter malformed
// (0x8F, [MQTT-4.7.1-1]).
func ownCode(name string) byte {
	switch {
	case strings.Contains(name, "#"):
		return byte(mqtt.TopicFilterInvalid)
	case strings.ContainsAny(name, "+/"):
		return denied
	}
	return granted1
}

// adminPathEscape escapes a client id as one path segment; a whole "."
// or ".." is written %2E, or it would be a dot segment.
func adminPathEscape(id string) string {
	if id == "." || id == ".." {
		return strings.ReplaceAll(id, ".", "%2E")
	}
	return url.PathEscape(id)
}

// TestSecurityHostileNames: user names (auth.users) and client ids with
// wildcards, separators, % and control characters do not widen a %u or
// %c rule [MQTT-4.7.1-1: wildcards are not valid in topic names; here
// they are literal text], do not break the JSON log, and are addressed
// exactly through the admin API's paths.
func TestSecurityHostileNames(t *testing.T) {
	cfg := testConfig(t)
	hash := bcryptHash(t, "secret")
	cfg.Auth.Users = []configs.User{{Username: "alice", PasswordHash: hash}}
	for _, n := range hostileNames {
		cfg.Auth.Users = append(cfg.Auth.Users, configs.User{Username: n, PasswordHash: hash})
	}
	cfg.Listeners[0].AllowAnonymous = refOf(false)
	cfg.ACL = configs.ACL{Default: "deny", Rules: []configs.ACLRule{
		{Permission: "allow", Action: "all", Topic: "users/%u/#"},
		{Permission: "allow", Action: "all", Topic: "clients/%c/#"},
	}}
	cfg.Admin = configs.Admin{Address: "127.0.0.1:0", Token: adminTestToken}
	log, sink := jsonLogger()
	ts := startServerLog(t, cfg, log, func(*Server) {})
	a := newAdminClient(t, ts)

	// The victims: alice with client id alice-1.
	connectV5(t, ts, withUser(v5Connect("alice-1"), "alice"))
	for i, n := range hostileNames {
		t.Run(fmt.Sprintf("user %q", n), func(t *testing.T) {
			c := connectV5(t, ts, withUser(v5Connect(fmt.Sprintf("u-%d", i)), n))
			own := ownCode(n)
			got := c.subscribeCodes(t, "users/alice/#", "users/+/#", "users/#", "#", "users/"+n+"/#")
			want := []byte{denied, denied, denied, denied, own}
			if !bytes.Equal(got, want) {
				t.Errorf("SUBACK %x, want %x", got, want)
			}
			if code := c.publishCode(t, &paho.Publish{Topic: "users/alice/x/t", QoS: 1, Payload: []byte("x")}); code != denied {
				t.Errorf("publish into alice's levels: 0x%02X, want 0x87", code)
			}
		})
		t.Run(fmt.Sprintf("client id %q", n), func(t *testing.T) {
			c := connectV5(t, ts, withUser(v5Connect(n), "alice"))
			own := ownCode(n)
			got := c.subscribeCodes(t, "clients/alice-1/#", "clients/+/#", "clients/#", "clients/"+n+"/#")
			want := []byte{denied, denied, denied, own}
			if !bytes.Equal(got, want) {
				t.Errorf("SUBACK %x, want %x", got, want)
			}
			// The admin API addresses exactly this client: an escaped
			// slash, %, dots and controls are part of the id.
			item := adminDo[admin.ClientItem](t, a, "GET", "/api/v1/clients/"+adminPathEscape(n), nil, http.StatusOK)
			if item.ClientID != n || item.Username != "alice" {
				t.Errorf("admin GET: client %q user %q, want %q alice", item.ClientID, item.Username, n)
			}
		})
	}
	// A kick by an id that a path trick would turn into another id
	// reaches nobody else: "alice-1" is still connected.
	for _, n := range []string{"x/../alice-1", "x%2F..%2Falice-1"} {
		if resp, b := a.call(t, "DELETE", "/api/v1/clients/"+url.PathEscape(n), nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("DELETE %q: %d %s, want 404", n, resp.StatusCode, b)
		}
	}
	adminDo[admin.ClientItem](t, a, "GET", "/api/v1/clients/alice-1", nil, http.StatusOK)

	// The JSON log: one object per line, no raw separator or control
	// character, every hostile name logged in its escaped form.
	var connected []map[string]any
	eventually(t, "a log entry per connection", func() bool {
		connected = connected[:0]
		for _, e := range logEntries(t, sink.bytes()) {
			if e["msg"] == "client connected" {
				connected = append(connected, e)
			}
		}
		return len(connected) == 1+2*len(hostileNames)
	})
	raw := sink.bytes()
	for _, bad := range []string{"\u2028", "\u2029", "\u0085", "\x7f", "\x1b", "\u202e", "\r"} {
		if bytes.Contains(raw, []byte(bad)) {
			t.Errorf("the log holds a raw %q", bad)
		}
	}
	users, ids := map[string]bool{}, map[string]bool{}
	for _, e := range connected {
		users[fmt.Sprint(e["username"])] = true
		ids[fmt.Sprint(e["client_id"])] = true
	}
	for _, n := range hostileNames {
		if !users[logsafe.Escape(n)] || !ids[logsafe.Escape(n)] {
			t.Errorf("name %q not logged as %q (user %v, client id %v)", n, logsafe.Escape(n), users[logsafe.Escape(n)], ids[logsafe.Escape(n)])
		}
	}
}

// TestSecuritySharedAndSys: $share filters are judged by the filter
// after the share name [MQTT-4.8.2-1], and $SYS is outside "#"
// [MQTT-4.7.2-1]; no client publishes under $SYS.
func TestSecuritySharedAndSys(t *testing.T) {
	cfg := testConfig(t)
	hash := bcryptHash(t, "secret")
	cfg.Auth.Users = []configs.User{{Username: "alice", PasswordHash: hash}, {Username: "carol", PasswordHash: hash}}
	cfg.Listeners[0].AllowAnonymous = refOf(false)
	cfg.ACL = configs.ACL{Default: "deny", Rules: []configs.ACLRule{
		{Permission: "allow", Action: "all", Topic: "users/%u/#"},
		{Permission: "allow", Action: "all", Topic: "#", Username: "carol"},
	}}
	ts := startServer(t, cfg)
	alice := connectV5(t, ts, withUser(v5Connect("alice-1"), "alice"))
	carol := connectV5(t, ts, withUser(v5Connect("carol-1"), "carol"))
	subs := []struct {
		c      *v5Client
		filter string
		want   byte
	}{
		{alice, "$share/g/users/alice/#", granted1},
		{alice, "$share/g/users/bob/#", denied},
		{alice, "$share/g/users/+/#", denied},
		{alice, "$share/g/#", denied},
		{alice, "$share/users/alice/#", denied}, // share name "users", filter "alice/#"
		{alice, "$SYS/#", denied},
		{alice, "$SYS/broker/clients/connected", denied},
		{alice, "$share/g/$SYS/#", denied},
		{carol, "#", granted1},
		{carol, "$share/g/#", granted1},
		{carol, "$SYS/#", denied}, // "#" does not cover $SYS [MQTT-4.7.2-1]
		{carol, "$share/g/$SYS/#", denied},
		{carol, "+/broker/#", granted1}, // matches no $SYS topic [MQTT-4.7.2-1]
	}
	for _, s := range subs {
		if got := s.c.subscribeCodes(t, s.filter); len(got) != 1 || got[0] != s.want {
			t.Errorf("%s subscribe %q: %x, want %02x", s.c.ClientID(), s.filter, got, s.want)
		}
	}
	pubs := []struct {
		c     *v5Client
		topic string
		want  byte
	}{
		{alice, "users/alice/t", byte(mqtt.Success)},
		{alice, "$SYS/broker/uptime", denied},
		{carol, "$SYS/broker/uptime", denied}, // even under "#": $SYS is the server's
		{carol, "$SYS", denied},
		{alice, "$share/g/users/alice/t", denied}, // a topic name, not under users/alice
	}
	for _, p := range pubs {
		if got := p.c.publishCode(t, &paho.Publish{Topic: p.topic, QoS: 1, Payload: []byte("x")}); got != p.want {
			t.Errorf("%s publish %q: 0x%02X, want 0x%02X", p.c.ClientID(), p.topic, got, p.want)
		}
	}
}
