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
		cap     int
		other   heldAuth // let in meanwhile
	}{
		{"per ip", []heldAuth{{"127.0.0.2", "a1"}, {"127.0.0.2", "a2"}, {"127.0.0.2", "a3"}},
			heldAuth{"127.0.0.2", "a4"}, mqtt.V5, mqtt.ServerBusy, authCapIP, heldAuth{"127.0.0.3", "a5"}},
		{"per ip, 3.1.1", []heldAuth{{"127.0.0.2", "a1"}, {"127.0.0.2", "a2"}, {"127.0.0.2", "a3"}},
			heldAuth{"127.0.0.2", "a4"}, mqtt.V311, mqtt.ReasonCode(mqtt.ConnRefusedServerUnavailable), authCapIP, heldAuth{"127.0.0.3", "a5"}},
		{"per user", []heldAuth{{"127.0.0.2", "bob"}, {"127.0.0.3", "bob"}},
			heldAuth{"127.0.0.4", "bob"}, mqtt.V5, mqtt.ServerBusy, authCapUser, heldAuth{"127.0.0.4", "carol"}},
		{"global", []heldAuth{{"127.0.0.2", "u1"}, {"127.0.0.3", "u2"}, {"127.0.0.4", "u3"}, {"127.0.0.5", "u4"}, {"127.0.0.6", "u5"}},
			heldAuth{"127.0.0.7", "u6"}, mqtt.V311, mqtt.ReasonCode(mqtt.ConnRefusedServerUnavailable), authCapGlobal, heldAuth{}},
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
				t.Errorf("over the %s cap: CONNACK %v (%v), want %v", authCapNames[tt.cap], code, err, tt.want)
			}
			if n := ts.eng.authLim.gate.refused[tt.cap].Load(); n != 1 {
				t.Errorf("%s refusals counted: %d, want 1", authCapNames[tt.cap], n)
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
			eventually(t, "no authentication in progress", func() bool { return ts.eng.authLim.gate.inProgress() == 0 })
		})
	}
}

// TestHashPoolBounds: the hash pool computes at most its workers' worth of
// hashes at once, never more memory than its budget, and a verification
// waiting for it ends with its context, answered 0x89, without computing.
func TestHashPoolBounds(t *testing.T) {
	const mem = 10 << 20
	for _, tt := range []struct {
		name           string
		budget         int64
		workers        int
		wantConcurrent int64
	}{
		{"workers bound", 100 << 20, 2, 2},
		{"memory bounds", 32 << 20, 8, 3},
		{"one larger than the budget runs alone", 16 << 20, 4, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := newHashPool(configs.Auth{HashMemory: tt.budget, HashWorkers: tt.workers})
			need := int64(mem)
			if tt.name == "one larger than the budget runs alone" {
				need = 2 * tt.budget
			}
			var running, peak atomic.Int64
			gate := make(chan struct{})
			var wg sync.WaitGroup
			for range 20 {
				wg.Go(func() {
					err := p.run(context.Background(), need, func() {
						n := running.Add(1)
						for old := peak.Load(); n > old && !peak.CompareAndSwap(old, n); old = peak.Load() {
						}
						<-gate
						running.Add(-1)
					})
					if err != nil {
						t.Errorf("run: %v", err)
					}
				})
			}
			eventually(t, "the pool full and the rest waiting", func() bool {
				return running.Load() == tt.wantConcurrent && p.waiting.Load() == 20-tt.wantConcurrent
			})
			// A verification whose connect deadline passes while waiting
			// is refused without computing.
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			called := false
			err := p.run(ctx, need, func() { called = true })
			cancel()
			if mqtt.CodeOf(err) != mqtt.ServerBusy || called {
				t.Errorf("waiting past the deadline: %v (computed: %v), want 0x89 without computing", err, called)
			}
			close(gate)
			wg.Wait()
			if peak.Load() != tt.wantConcurrent {
				t.Errorf("%d hashes ran at once, want %d", peak.Load(), tt.wantConcurrent)
			}
			if p.waiting.Load() != 0 || p.running.Load() != 0 || p.timedOut.Load() != 1 || p.done.Load() != 20 {
				t.Errorf("gauges after: waiting %d, running %d, timed out %d, done %d; want 0, 0, 1, 20",
					p.waiting.Load(), p.running.Load(), p.timedOut.Load(), p.done.Load())
			}
		})
	}
}

// TestHashWaitEndsWithConnectTimeout: a CONNECT whose password hash is
// still waiting for the pool when its connect timeout passes is refused
// 0x89 Server busy; its hash is never computed.
func TestHashWaitEndsWithConnectTimeout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "passwd")
	h, err := HashPassword([]byte("pw"))
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
	p := ts.eng.authLim.verify.pool
	busy, free := make(chan struct{}), make(chan struct{})
	go p.run(context.Background(), 1, func() { close(busy); <-free })
	<-busy
	defer close(free)

	code, err := rawConnectFrom(ts.addr(t, "tcp"), "127.0.0.1", mqtt.V5, "late", "alice", "pw")
	if err != nil || code != mqtt.ServerBusy {
		t.Errorf("hash waiting past the connect timeout: CONNACK %v (%v), want 0x89", code, err)
	}
	if n := p.timedOut.Load(); n != 1 {
		t.Errorf("timed-out hash waits: %d, want 1", n)
	}
	if n := p.done.Load(); n != 0 {
		t.Errorf("hashes computed: %d, want 0 (only the test's own is running)", n)
	}
}
