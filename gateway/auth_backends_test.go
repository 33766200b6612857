package gateway

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"edgemq/configs"
	"edgemq/gateway/auth/passwd"
	"edgemq/mqtt"

	"github.com/eclipse/paho.golang/paho"
	mqtt3 "github.com/eclipse/paho.mqtt.golang"
)

// passwordConnect is a v5 CONNECT with user name and password.
func passwordConnect(clientID, user, password string) *paho.Connect {
	cp := v5Connect(clientID)
	cp.UsernameFlag, cp.Username = true, user
	cp.PasswordFlag, cp.Password = true, []byte(password)
	return cp
}

// chainOn makes every listener of cfg use backends, without anonymous.
func chainOn(cfg *configs.Config, backends ...string) {
	for i := range cfg.Listeners {
		cfg.Listeners[i].Auth = backends
		cfg.Listeners[i].AllowAnonymous = refOf(false)
	}
}

func writePasswordFile(t *testing.T, path string, lines ...string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// argon2id and bcrypt entries, and a reload after the file changes.
func TestPasswordFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "passwd")
	argon, err := passwd.HashPassword([]byte("argon-pw"))
	if err != nil {
		t.Fatal(err)
	}
	writePasswordFile(t, path, "# users", "", "alice:"+argon, "bob:"+bcryptHash(t, "bcrypt-pw"))
	cfg := testConfig(t)
	cfg.Auth.Backends = map[string]configs.AuthBackend{"file": {Type: "password_file",
		PasswordFile: configs.PasswordFileAuth{Path: path, ReloadInterval: 10 * time.Millisecond}}}
	chainOn(cfg, "file")
	ts := startServer(t, cfg)

	connectV5(t, ts, passwordConnect("a", "alice", "argon-pw"))
	connectV5(t, ts, passwordConnect("b", "bob", "bcrypt-pw")).roundTrip(t)
	// A credential that does not expire costs no timer.
	for _, cn := range ts.connections() {
		// The timer is only ever set under the expiry's lock, by a
		// credential that expires (conn_timers.go): none here writes it.
		if cn.HasAuthTimer() || cn.Channel().AuthExpiring() {
			t.Error("a connection without an expiring credential has a timer")
		}
	}
	expectRefused(t, ts, passwordConnect("a2", "alice", "wrong"), mqtt.BadUserNameOrPassword)
	expectRefused(t, ts, passwordConnect("b2", "bob", "argon-pw"), mqtt.BadUserNameOrPassword)
	expectRefused(t, ts, passwordConnect("c", "carol", "x"), mqtt.BadUserNameOrPassword) // unknown
	expectRefused(t, ts, v5Connect("anon"), mqtt.NotAuthorized)
	connectV3(t, ts, "a3", func(o *mqtt3.ClientOptions) { o.SetUsername("alice").SetPassword("argon-pw") })
	if _, ct, err := dialV3(t, ts, "a4", func(o *mqtt3.ClientOptions) { o.SetUsername("alice").SetPassword("no") }); err == nil || ct.ReturnCode() != 4 {
		t.Errorf("3.1.1 wrong password: %v, return code %d; want 4", err, ct.ReturnCode())
	}

	// carol is added with edgemq passwd's function; bob is removed.
	if err := passwd.SetPassword(path, "carol", []byte("new-pw")); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	writePasswordFile(t, path, strings.ReplaceAll(strings.TrimSpace(string(data)), "bob:", "#bob:"))
	eventually(t, "carol after reload", func() bool {
		c, _, err := dialV5(t, ts, passwordConnect("c2", "carol", "new-pw"))
		if err == nil {
			c.Disconnect(&paho.Disconnect{})
		}
		return err == nil
	})
	expectRefused(t, ts, passwordConnect("b3", "bob", "bcrypt-pw"), mqtt.BadUserNameOrPassword)
	connectV5(t, ts, passwordConnect("a5", "alice", "argon-pw"))
	// A file that fails to load keeps the users loaded before:
	// TestPasswordFileReloadFailureLogged.
}

// hookServer is an HTTP auth hook answering per user name.
type hookServer struct {
	*httptest.Server
	calls atomic.Int32
	mu    sync.Mutex
	last  map[string]any
}

func newHookServer(t *testing.T, answer func(req map[string]any, w http.ResponseWriter)) *hookServer {
	h := &hookServer{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.calls.Add(1)
		var req map[string]any
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "bad request", 400)
			return
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		h.mu.Lock()
		h.last = req
		h.mu.Unlock()
		answer(req, w)
	}))
	t.Cleanup(h.Close)
	return h
}

func TestHTTPHook(t *testing.T) {
	hook := newHookServer(t, func(req map[string]any, w http.ResponseWriter) {
		switch req["username"] {
		case "allowed":
			pw, _ := base64.StdEncoding.DecodeString(req["password"].(string))
			if string(pw) == "pw" {
				w.Write([]byte(`{"result":"allow"}`))
			} else {
				w.Write([]byte(`{"result":"deny","reason_code":134}`))
			}
		case "banned":
			w.Write([]byte(`{"result":"deny","reason_code":138}`))
		case "denied":
			w.Write([]byte(`{"result":"deny"}`))
		case "slow":
			time.Sleep(500 * time.Millisecond)
			w.Write([]byte(`{"result":"allow"}`))
		case "broken":
			http.Error(w, "oops", 500)
		default:
			w.Write([]byte(`{"result":"ignore"}`))
		}
	})
	cfg := testConfig(t)
	cfg.Auth.Users = []configs.User{{Username: "static", PasswordHash: bcryptHash(t, "static-pw")}}
	cfg.Auth.Backends = map[string]configs.AuthBackend{
		"hook": {Type: "http", HTTP: configs.HTTPAuth{URL: hook.URL, Timeout: 200 * time.Millisecond, CacheTTL: time.Minute}},
		"open": {Type: "http", HTTP: configs.HTTPAuth{URL: hook.URL, Timeout: 200 * time.Millisecond, FailOpen: true}},
	}
	cfg.Listeners = append(cfg.Listeners, configs.Listener{Name: "failopen", Type: "tcp", Address: "127.0.0.1:0"})
	chainOn(cfg, "hook", "users")
	cfg.Listeners[1].Auth = []string{"open"}
	ts := startServer(t, cfg)

	connectV5(t, ts, passwordConnect("a", "allowed", "pw"))
	hook.mu.Lock()
	last := hook.last
	hook.mu.Unlock()
	for k, want := range map[string]any{"clientid": "a", "username": "allowed", "password": base64.StdEncoding.EncodeToString([]byte("pw")),
		"listener": "tcp", "transport": "tcp", "protocol_version": float64(5), "cert_identity": ""} {
		if last[k] != want {
			t.Errorf("hook request %s = %v, want %v", k, last[k], want)
		}
	}
	if ra, _ := last["remote_addr"].(string); !strings.HasPrefix(ra, "127.0.0.1:") {
		t.Errorf("remote_addr %v", last["remote_addr"])
	}
	expectRefused(t, ts, passwordConnect("a2", "allowed", "wrong"), mqtt.BadUserNameOrPassword)
	expectRefused(t, ts, passwordConnect("b", "banned", "x"), mqtt.Banned)
	expectRefused(t, ts, passwordConnect("d", "denied", "x"), mqtt.NotAuthorized)
	if _, ct, err := dialV3(t, ts, "d3", func(o *mqtt3.ClientOptions) { o.SetUsername("denied").SetPassword("x") }); err == nil || ct.ReturnCode() != 5 {
		t.Errorf("3.1.1 denied: %v, return code %d; want 5", err, ct.ReturnCode())
	}
	// ignore: the static users decide.
	connectV5(t, ts, passwordConnect("s", "static", "static-pw"))
	expectRefused(t, ts, passwordConnect("s2", "static", "wrong"), mqtt.BadUserNameOrPassword)
	// Timeout and errors fail closed with Server Unavailable.
	_, ack, err := dialV5(t, ts, passwordConnect("t", "slow", "x"))
	if err == nil || ack == nil || mqtt.ReasonCode(ack.ReasonCode) != mqtt.ServerUnavailable {
		t.Fatalf("slow hook: %v, connack %v; want 0x88", err, ack)
	}
	if rs := ack.Properties.ReasonString; !strings.Contains(rs, "timed out") || strings.Contains(rs, "127.0.0.1") {
		t.Errorf("reason string %q: want the failure, not the hook's address", rs)
	}
	expectRefused(t, ts, passwordConnect("e", "broken", "x"), mqtt.ServerUnavailable)
	// ... and open with fail_open.
	connectV5(t, ts, passwordConnect("t2", "slow", "x"), viaListener("failopen"))

	// Cache: two identical connects, one call.
	before := hook.calls.Load()
	for range 2 {
		c := connectV5(t, ts, passwordConnect("cached", "allowed", "pw"))
		c.Disconnect(&paho.Disconnect{})
	}
	if n := hook.calls.Load() - before; n != 1 {
		t.Errorf("hook called %d times for two identical connects, want 1", n)
	}
	// A deny is cached too; another password is another request.
	before = hook.calls.Load()
	expectRefused(t, ts, passwordConnect("cached", "allowed", "nope"), mqtt.BadUserNameOrPassword)
	expectRefused(t, ts, passwordConnect("cached", "allowed", "nope"), mqtt.BadUserNameOrPassword)
	if n := hook.calls.Load() - before; n != 1 {
		t.Errorf("hook called %d times for two identical refused connects, want 1", n)
	}
}

// The first backend that does not answer "not mine" decides.
func TestAuthChainOrder(t *testing.T) {
	hook := newHookServer(t, func(req map[string]any, w http.ResponseWriter) {
		if req["username"] == "mallory" {
			w.Write([]byte(`{"result":"deny","reason_code":138}`))
			return
		}
		w.Write([]byte(`{"result":"ignore"}`))
	})
	path := filepath.Join(t.TempDir(), "passwd")
	h1, _ := passwd.HashPassword([]byte("file-pw"))
	writePasswordFile(t, path, "mallory:"+h1, "alice:"+h1)
	k := newTestKey(t, "HS256", "")
	cfg := testConfig(t)
	cfg.Auth.Users = []configs.User{{Username: "alice", PasswordHash: bcryptHash(t, "static-pw")}}
	cfg.Auth.Backends = map[string]configs.AuthBackend{
		"hook": {Type: "http", HTTP: configs.HTTPAuth{URL: hook.URL, Timeout: time.Second}},
		"file": {Type: "password_file", PasswordFile: configs.PasswordFileAuth{Path: path}},
		"jwt":  {Type: "jwt", JWT: configs.JWTAuth{SecretFile: k.keyFile(t), UsernameClaim: "sub", Token: configs.JWTTokenSource{Password: true}}},
	}
	chainOn(cfg, "hook", "jwt", "file", "users")
	ts := startServer(t, cfg)
	// The hook denies mallory before the file would allow her.
	expectRefused(t, ts, passwordConnect("m", "mallory", "file-pw"), mqtt.Banned)
	// A JWT password goes to jwt; others are not its business.
	connectV5(t, ts, tokenConnect("j", k.sign(t, map[string]any{"sub": "tok"})))
	// alice is in the file and in users: the file decides first.
	connectV5(t, ts, passwordConnect("a", "alice", "file-pw"))
	expectRefused(t, ts, passwordConnect("a2", "alice", "static-pw"), mqtt.BadUserNameOrPassword)
}

// type cert: a verified client certificate is enough, optionally only
// listed identities.
func TestCertBackend(t *testing.T) {
	ca := newTestCA(t)
	cfg := transportConfig(t)
	cfg.TLS["mtls"] = configs.TLSSource{Source: "self_signed", ClientAuth: configs.ClientAuth{
		Mode: "required", CAFile: ca.write(t), Identity: "cn", IdentityAs: "none",
	}}
	cfg.Auth.Backends = map[string]configs.AuthBackend{
		"devices": {Type: "cert", Cert: configs.CertAuth{Identities: []string{"dev-1", "dev-2"}}},
	}
	cfg.Listeners = append(cfg.Listeners, configs.Listener{Name: "mtls", Type: "tls", Address: "127.0.0.1:0", TLS: "mtls",
		AllowAnonymous: refOf(false), Auth: []string{"devices"}})
	ts := startServer(t, cfg)
	for _, tt := range []struct {
		cn   string
		want mqtt.ReasonCode
	}{{"dev-1", mqtt.Success}, {"dev-2", mqtt.Success}, {"dev-9", mqtt.NotAuthorized}} {
		t.Run(tt.cn, func(t *testing.T) {
			cert := ca.issue(t, tt.cn)
			opts := []clientOpt{viaListener("mtls"), dialingWith(tlsDialer(clientTLS(t, devCA(cfg), &cert)))}
			if tt.want != mqtt.Success {
				expectRefused(t, ts, v5Connect("c-"+tt.cn), tt.want, opts...)
				return
			}
			connectV5(t, ts, v5Connect("c-"+tt.cn), opts...).roundTrip(t)
		})
	}
}
