package gateway

import (
	"net"
	"testing"
	"time"

	"edgemq/configs"
	"edgemq/mqtt"

	"github.com/eclipse/paho.golang/paho"
)

// dialFrom connects from the loopback address ip (any of 127/8 on Linux).
func dialFrom(ip string) func(testing.TB, string) net.Conn {
	return func(tb testing.TB, addr string) net.Conn {
		tb.Helper()
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			tb.Skipf("dialing from %s: %v", ip, err)
		}
		tb.Cleanup(func() { c.Close() })
		return c
	}
}

// failedConnect connects with a wrong password and returns how long the
// refusal (0x86) took.
func failedConnect(tb testing.TB, ts *testServer, user, from string) time.Duration {
	tb.Helper()
	cp := v5Connect("bf-" + user)
	cp.Username, cp.UsernameFlag = user, true
	cp.Password, cp.PasswordFlag = []byte("wrong"), true
	start := time.Now()
	_, ack, err := dialV5(tb, ts, cp, dialingWith(dialFrom(from)))
	took := time.Since(start)
	if err == nil || ack == nil || mqtt.ReasonCode(ack.ReasonCode) != mqtt.BadUserNameOrPassword {
		tb.Fatalf("connect as %s: %v, connack %+v; want 0x86", user, err, ack)
	}
	return took
}

// TestBruteForceDelay: the refusals of failed authentications from one
// address come later and later (the delay doubles); another address with
// another user name starts from the initial delay; a correct password is
// not delayed.
func TestBruteForceDelay(t *testing.T) {
	const initial = 150 * time.Millisecond
	cfg := testConfig(t)
	cfg.MQTT.ConnectTimeout = 10 * time.Second
	cfg.Auth.Users = []configs.User{
		{Username: "alice", PasswordHash: bcryptHash(t, "secret")},
		{Username: "bob", PasswordHash: bcryptHash(t, "secret")},
		{Username: "carol", PasswordHash: bcryptHash(t, "secret")},
	}
	cfg.Auth.BruteForce = configs.BruteForce{Enabled: true, InitialDelay: initial, MaxDelay: 5 * time.Second, ResetAfter: time.Minute, MaxEntries: 100}
	ts := startServer(t, cfg)

	var took []time.Duration
	for range 3 {
		took = append(took, failedConnect(t, ts, "alice", "127.0.0.1"))
	}
	for i, d := range took {
		if min := initial << i; d < min {
			t.Errorf("attempt %d took %v, want at least %v", i+1, d, min)
		}
	}
	if took[2] < 2*took[0] {
		t.Errorf("3rd attempt took %v, not twice the 1st's %v", took[2], took[0])
	}

	// Another address and user: its first failure, not alice's fourth.
	other := failedConnect(t, ts, "bob", "127.0.0.2")
	if other < initial || other >= took[2] {
		t.Errorf("failure from another address took %v; want from %v, below the 3rd attempt's %v", other, initial, took[2])
	}

	// A success from an address and user without failures is not
	// delayed; one from the failing address is, as much as its failures
	// impose, so a guesser cannot stop waiting early.
	start := time.Now()
	connectV5(t, ts, withUser(v5Connect("bf-ok"), "carol"), dialingWith(dialFrom("127.0.0.3")))
	if d := time.Since(start); d >= took[2] {
		t.Errorf("successful connect of a user without failures took %v", d)
	}
	start = time.Now()
	connectV5(t, ts, withUser(v5Connect("bf-ok2"), "alice"), dialingWith(dialFrom("127.0.0.1")))
	if d, min := time.Since(start), initial<<2; d < min {
		t.Errorf("successful connect after 3 failures took %v, want at least %v", d, min)
	}
	st := ts.Stats()
	if n := st.AuthFailures["bad_credentials"]; n != 4 {
		t.Errorf("bad_credentials failures %d, want 4", n)
	}
	if st.AuthDelayed != 5 {
		t.Errorf("delayed answers %d, want 5", st.AuthDelayed)
	}
}

// TestBruteForceOtherClientsNotBlocked: while one client waits out its
// delay, clients from other addresses connect and publish at once.
func TestBruteForceOtherClientsNotBlocked(t *testing.T) {
	cfg := testConfig(t)
	cfg.MQTT.ConnectTimeout = 10 * time.Second
	cfg.Auth.Users = []configs.User{{Username: "alice", PasswordHash: bcryptHash(t, "secret")}}
	cfg.Auth.BruteForce = configs.BruteForce{Enabled: true, InitialDelay: 2 * time.Second, MaxDelay: 2 * time.Second, ResetAfter: time.Minute, MaxEntries: 100}
	ts := startServer(t, cfg)
	done := make(chan time.Duration, 1)
	go func() { done <- failedConnect(t, ts, "alice", "127.0.0.1") }()
	// The failing client's delay has started (counted when it starts).
	eventually(t, "the failed connect's delay to start", func() bool { return ts.Stats().AuthDelayed == 1 })
	c := connectV5(t, ts, v5Connect("busy"), dialingWith(dialFrom("127.0.0.2")))
	c.publish(t, &paho.Publish{Topic: "x", QoS: 1, Payload: []byte("x")})
	select {
	case <-done:
		t.Fatal("the failing client was answered before the others were served")
	default:
	}
	if d := <-done; d < 2*time.Second {
		t.Errorf("failed connect took %v, want at least 2s", d)
	}
}
