package gateway

import (
	"fmt"
	"net"
	"path/filepath"
	rtmetrics "runtime/metrics"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"edgemq/configs"
	"edgemq/gateway/auth/passwd"
	"edgemq/mqtt"
)

// goMemory returns the memory the Go runtime of this process holds from
// the OS (mapped read-write and not released): for an in-process server,
// what its RSS is made of.
func goMemory() uint64 {
	s := []rtmetrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	rtmetrics.Read(s)
	return s[0].Value.Uint64() - s[1].Value.Uint64()
}

// memoryPeak samples goMemory until stop is called, which returns the
// highest value seen.
func memoryPeak(tb testing.TB) (stop func() uint64) {
	tb.Helper()
	var peak atomic.Uint64
	peak.Store(goMemory())
	done, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			if m := goMemory(); m > peak.Load() {
				peak.Store(m)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 {
		close(done)
		<-exited
		return peak.Load()
	}
}

// rawConnectFrom sends a CONNECT of version v with user and password
// from the loopback address ip and returns the CONNACK's reason code (3.x:
// its return code).
func rawConnectFrom(addr, ip string, v mqtt.Version, clientID, user, password string) (mqtt.ReasonCode, error) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: eventTimeout}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		return 0, fmt.Errorf("dialing from %s: %w", ip, err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(time.Minute))
	c := &mqtt.Connect{ProtocolName: "MQTT", Version: v, CleanStart: true, KeepAlive: 60, ClientID: clientID,
		UsernameFlag: true, Username: user, PasswordFlag: true, Password: []byte(password)}
	if err := mqtt.WritePacket(nc, c, v); err != nil {
		return 0, fmt.Errorf("writing connect: %w", err)
	}
	p, err := mqtt.ReadPacket(nc, v, 0)
	if err != nil {
		return 0, fmt.Errorf("reading connack: %w", err)
	}
	ack, ok := p.(*mqtt.Connack)
	if !ok {
		return 0, fmt.Errorf("got %v, want CONNACK", p.Type())
	}
	return ack.ReasonCode, nil
}

// guessMemoryBound is what the in-process gateway (and this test) may hold
// while 500 wrong argon2id passwords (19 MiB each) are checked: the hash
// pool (auth.hash_memory, 64 MiB by default, and one worker per CPU) lets
// only a few hashes hold their memory at once, whatever the guesses.
const guessMemoryBound = 256 << 20

// TestWrongPasswordsBoundedMemory: 500 parallel wrong passwords for
// argon2id users keep the memory of the in-process gateway under
// guessMemoryBound, while a client from another address logs in: its
// CONNACK 0x00 arrives. The guesses are answered 0x86 Bad user name or
// password, or 0x89 Server busy when over the concurrency caps
// (auth.concurrency, defaults) [MQTT-3.2.2.2].
func TestWrongPasswordsBoundedMemory(t *testing.T) {
	const guesses = 500
	for _, tt := range []struct {
		name  string
		from  []string // the guessers' addresses, in turn
		users int      // how many user names they guess, in turn
	}{
		{"one address, one user", []string{"127.0.0.2"}, 1},
		// Past the per-user cap: as many hashes queue as the per-address
		// caps let in, and the hash pool bounds them.
		{"four addresses, many users", []string{"127.0.0.4", "127.0.0.5", "127.0.0.6", "127.0.0.7"}, 64},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "passwd")
			userHash, err := passwd.HashPassword([]byte("user-secret")) // argon2id, m=19456 (19 MiB)
			if err != nil {
				t.Fatal(err)
			}
			bob, err := passwd.HashPassword([]byte("bob-secret"))
			if err != nil {
				t.Fatal(err)
			}
			lines := []string{"bob:" + bob}
			for u := range tt.users {
				lines = append(lines, fmt.Sprintf("user%d:%s", u, userHash))
			}
			writePasswordFile(t, path, lines...)
			cfg := testConfig(t)
			cfg.MQTT.ConnectTimeout = time.Minute
			cfg.Auth.Backends = map[string]configs.AuthBackend{"file": {Type: "password_file", PasswordFile: configs.PasswordFileAuth{Path: path}}}
			chainOn(cfg, "file")
			ts := startServer(t, cfg)
			addr := ts.addr(t, "tcp")

			stop := memoryPeak(t)
			before := goMemory()
			var wg sync.WaitGroup
			var mu sync.Mutex
			codes := map[mqtt.ReasonCode]int{}
			for i := range guesses {
				wg.Go(func() {
					user := fmt.Sprintf("user%d", i%tt.users)
					code, err := rawConnectFrom(addr, tt.from[i%len(tt.from)], mqtt.V5, fmt.Sprintf("guess-%d", i), user, fmt.Sprintf("wrong-%d", i))
					mu.Lock()
					defer mu.Unlock()
					if err != nil {
						t.Errorf("guess %d: %v", i, err)
						return
					}
					codes[code]++
				})
			}
			// The user from elsewhere logs in while the guesses run.
			legit := make(chan error, 1)
			var legitTook time.Duration // written before legit is sent on
			go func() {
				start := time.Now()
				code, err := rawConnectFrom(addr, "127.0.0.3", mqtt.V5, "bob", "bob", "bob-secret")
				legitTook = time.Since(start)
				if err == nil && code != mqtt.Success {
					err = fmt.Errorf("CONNACK %v, want 0x00", code)
				}
				legit <- err
			}()
			select {
			case err := <-legit:
				if err != nil {
					t.Errorf("login from another address: %v", err)
				}
				t.Logf("login from another address answered in %v", legitTook.Round(time.Millisecond))
			case <-time.After(2 * eventTimeout):
				t.Errorf("login from another address: no CONNACK within %v", 2*eventTimeout)
			}
			wg.Wait()
			peak := stop()
			t.Logf("%d guesses: answers %v; Go memory %d MiB before, peak %d MiB (bound %d MiB)",
				guesses, codes, before>>20, peak>>20, guessMemoryBound>>20)
			if peak > guessMemoryBound {
				t.Errorf("Go memory peaked at %d MiB, above the bound of %d MiB", peak>>20, guessMemoryBound>>20)
			}
			for code, n := range codes {
				if code != mqtt.BadUserNameOrPassword && code != mqtt.ServerBusy {
					t.Errorf("%d guesses answered %v, want 0x86 or 0x89", n, code)
				}
			}
			if codes[mqtt.BadUserNameOrPassword] == 0 {
				t.Errorf("no guess was checked (answers %v)", codes)
			}
		})
	}
}
