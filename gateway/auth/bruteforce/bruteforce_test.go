package bruteforce

import (
	"testing"
	"time"

	"edgemq/configs"
)

// TestGuardBounded: the tables keep max_entries keys, and counts
// reset after a quiet period.
func TestGuardBounded(t *testing.T) {
	g := New(configs.BruteForce{Enabled: true, InitialDelay: time.Millisecond, MaxDelay: 8 * time.Millisecond, ResetAfter: time.Minute, MaxEntries: 3})
	now := time.Now()
	for i := range 10 {
		g.Fail(string(rune('a'+i)), "", now)
	}
	if g.ips.len() != 3 {
		t.Errorf("%d addresses remembered, want 3", g.ips.len())
	}
	var d time.Duration
	var n int
	for range 6 {
		d, n = g.Fail("x", "u", now)
	}
	if n != 6 || d != 8*time.Millisecond {
		t.Errorf("6th failure: count %d delay %v, want 6, capped 8ms", n, d)
	}
	if d, n = g.Fail("x", "u", now.Add(2*time.Minute)); n != 1 || d != time.Millisecond {
		t.Errorf("after a quiet period: count %d delay %v, want 1, 1ms", n, d)
	}
}

// TestGuardDelays: the delay doubles with each failure of the address or
// the user name (the larger count decides), up to the cap; Pending
// imposes the same delay on any answer without counting a failure, and
// nothing on a client that did not fail.
func TestGuardDelays(t *testing.T) {
	g := New(configs.BruteForce{Enabled: true, InitialDelay: time.Second, MaxDelay: 5 * time.Second, ResetAfter: time.Minute, MaxEntries: 10})
	now := time.Now()
	for _, tt := range []struct {
		ip, user string
		want     time.Duration
		count    int
	}{
		{"10.0.0.1", "alice", time.Second, 1},
		{"10.0.0.1", "alice", 2 * time.Second, 2},
		{"10.0.0.2", "alice", 4 * time.Second, 3}, // the user's count decides
		{"10.0.0.1", "bob", 4 * time.Second, 3},   // the address's count decides
		{"10.0.0.1", "", 5 * time.Second, 4},      // capped
	} {
		if d, n := g.Fail(tt.ip, tt.user, now); d != tt.want || n != tt.count {
			t.Errorf("Fail(%q, %q) = %v, %d; want %v, %d", tt.ip, tt.user, d, n, tt.want, tt.count)
		}
	}
	if d := g.Pending("10.0.0.2", "alice", now); d != 4*time.Second {
		t.Errorf("Pending of a failing user: %v, want 4s", d)
	}
	if d := g.Pending("10.0.0.9", "carol", now); d != 0 {
		t.Errorf("Pending of a client that never failed: %v, want 0", d)
	}
	if g := New(configs.BruteForce{}); g != nil {
		t.Error("New of a disabled configuration is not nil")
	}
}
