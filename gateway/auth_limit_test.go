package gateway

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"edgemq/configs"
	"edgemq/gateway/auth/passwd"
	"edgemq/mqtt"
)

// heldAuth is a client whose authentication the blocking hook holds.
type heldAuth struct{ ip, user string }

// TestAuthConcurrencyCaps: while authentications are held in progress (by
// an http hook that answers only when told), one more over a cap of
// auth.concurrency is refused at once with v5 CONNACK 0x89 Server busy, a
// 3.1.1 client with return code 3 Server unavailable [MQTT-3.2.2.2, 3.1.1
// table 3.1]; a client under the caps is let in meanwhile; once the held
// ones are answered, the refused client gets in, and nothing stays
// counted.
func TestAuthConcurrencyCaps(t *testing.T) {
	for _, tt := range []struct {
		name    string
		held    []heldAuth
		over    heldAuth     // refused while held are in progress
		version mqtt.Version // of over
		want    mqtt.ReasonCode
		cap     string
		other   heldAuth // let in meanwhile
	}{
		{"per ip", []heldAuth{{"127.0.0.2", "a1"}, {"127.0.0.2", "a2"}, {"127.0.0.2", "a3"}},
			heldAuth{"127.0.0.2", "a4"}, mqtt.V5, mqtt.ServerBusy, "per_ip", heldAuth{"127.0.0.3", "a5"}},
		{"per ip, 3.1.1", []heldAuth{{"127.0.0.2", "a1"}, {"127.0.0.2", "a2"}, {"127.0.0.2", "a3"}},
			heldAuth{"127.0.0.2", "a4"}, mqtt.V311, mqtt.ReasonCode(mqtt.ConnRefusedServerUnavailable), "per_ip", heldAuth{"127.0.0.3", "a5"}},
		{"per user", []heldAuth{{"127.0.0.2", "bob"}, {"127.0.0.3", "bob"}},
			heldAuth{"127.0.0.4", "bob"}, mqtt.V5, mqtt.ServerBusy, "per_user", heldAuth{"127.0.0.4", "carol"}},
		{"global", []heldAuth{{"127.0.0.2", "u1"}, {"127.0.0.3", "u2"}, {"127.0.0.4", "u3"}, {"127.0.0.5", "u4"}, {"127.0.0.6", "u5"}},
			heldAuth{"127.0.0.7", "u6"}, mqtt.V311, mqtt.ReasonCode(mqtt.ConnRefusedServerUnavailable), "global", heldAuth{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			release := make(chan struct{})
			var arrived atomic.Int32
			hook := newHookServer(t, func(req map[string]any, w http.ResponseWriter) {
				if req["username"] != tt.other.user {
					arrived.Add(1)
					<-release
				}
				w.Write([]byte(`{"result":"allow"}`))
			})
			cfg := testConfig(t)
			cfg.Auth.Backends = map[string]configs.AuthBackend{"hook": {Type: "http", HTTP: configs.HTTPAuth{URL: hook.URL, Timeout: time.Minute}}}
			cfg.Auth.Concurrency = configs.AuthConcurrency{Max: 5, PerIP: 3, PerUser: 2}
			chainOn(cfg, "hook")
			ts := startServer(t, cfg)
			addr := ts.addr(t, "tcp")
			var once sync.Once
			unblock := func() { once.Do(func() { close(release) }) }
			t.Cleanup(unblock)

			results := make(chan error, len(tt.held))
			for i, h := range tt.held {
				go func() {
					code, err := rawConnectFrom(addr, h.ip, mqtt.V5, fmt.Sprintf("held-%d", i), h.user, "pw")
					if err == nil && code != mqtt.Success {
						err = fmt.Errorf("CONNACK %v, want 0x00", code)
					}
					results <- err
				}()
			}
			eventually(t, "the held authentications at the hook", func() bool { return int(arrived.Load()) == len(tt.held) })

			code, err := rawConnectFrom(addr, tt.over.ip, tt.version, "over", tt.over.user, "pw")
			if err != nil || code != tt.want {
				t.Errorf("over the %s cap: CONNACK %v (%v), want %v", tt.cap, code, err, tt.want)
			}
			if n := ts.eng.AuthLimits().Gate().Refused(tt.cap); n != 1 {
				t.Errorf("%s refusals counted: %d, want 1", tt.cap, n)
			}
			if tt.other.user != "" {
				if code, err := rawConnectFrom(addr, tt.other.ip, mqtt.V5, "other", tt.other.user, "pw"); err != nil || code != mqtt.Success {
					t.Errorf("under the caps: CONNACK %v (%v), want 0x00", code, err)
				}
			}

			unblock()
			for range tt.held {
				if err := <-results; err != nil {
					t.Errorf("held client: %v", err)
				}
			}
			if code, err := rawConnectFrom(addr, tt.over.ip, tt.version, "over-again", tt.over.user, "pw"); err != nil || code != mqtt.Success {
				t.Errorf("after the held ones were answered: CONNACK %v (%v), want 0x00", code, err)
			}
			eventually(t, "no authentication in progress", func() bool { return ts.eng.AuthLimits().Gate().InProgress() == 0 })
		})
	}
}

// TestHashWaitEndsWithConnectTimeout: a CONNECT whose password hash is
// still waiting for the pool when its connect timeout passes is refused
// 0x89 Server busy; its hash is never computed.
func TestHashWaitEndsWithConnectTimeout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "passwd")
	h, err := passwd.HashPassword([]byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	writePasswordFile(t, path, "alice:"+h)
	cfg := testConfig(t)
	cfg.MQTT.ConnectTimeout = 300 * time.Millisecond
	cfg.Auth.HashWorkers = 1
	cfg.Auth.Backends = map[string]configs.AuthBackend{"file": {Type: "password_file", PasswordFile: configs.PasswordFileAuth{Path: path}}}
	chainOn(cfg, "file")
	ts := startServer(t, cfg)
	// The one worker is busy until the test lets go.
	p := ts.eng.AuthLimits().Pool()
	busy, free := make(chan struct{}), make(chan struct{})
	go p.Run(context.Background(), 1, func() { close(busy); <-free })
	<-busy
	defer close(free)

	code, err := rawConnectFrom(ts.addr(t, "tcp"), "127.0.0.1", mqtt.V5, "late", "alice", "pw")
	if err != nil || code != mqtt.ServerBusy {
		t.Errorf("hash waiting past the connect timeout: CONNACK %v (%v), want 0x89", code, err)
	}
	if n := p.TimedOut(); n != 1 {
		t.Errorf("timed-out hash waits: %d, want 1", n)
	}
	if n := p.Done(); n != 0 {
		t.Errorf("hashes computed: %d, want 0 (only the test's own is running)", n)
	}
}
