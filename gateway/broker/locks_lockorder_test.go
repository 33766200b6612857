//go:build lockorder

package broker

import (
	"os"
	"strings"
	"testing"
)

// TestLockOrderRefusesAnInversion: under -tags lockorder the broker's
// locks are checked. Taking registry.mu while holding a session's
// lock (the reverse of registry.open) or engine.order under a session's
// lock panics, naming both locks, before anything blocks.
func TestLockOrderRefusesAnInversion(t *testing.T) {
	if os.Getenv("EDGEMQ_LOCKORDER") == "survey" {
		t.Skip("EDGEMQ_LOCKORDER=survey logs inversions instead of panicking")
	}
	cases := []struct {
		name string
		take func(e *Broker)
		want string
	}{
		{"registry under session", func(e *Broker) { e.sessions.mu.Lock(); e.sessions.mu.Unlock() }, "registry.mu taken while holding session.mu"},
		{"order under session", func(e *Broker) { e.order.RLock(); e.order.RUnlock() }, "engine.order taken while holding session.mu"},
		{"second session", func(*Broker) { var s2 Session; s2.mu.Lock(); s2.mu.Unlock() }, "session.mu taken while holding session.mu"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := testBroker()
			var s Session
			msg := func() (msg string) {
				defer func() { msg, _ = recover().(string) }()
				s.mu.Lock()
				defer s.mu.Unlock()
				tc.take(e)
				return ""
			}()
			if !strings.Contains(msg, tc.want) || !strings.Contains(msg, "locks_lockorder_test.go") {
				t.Fatalf("panic %q, want it to say %q with both stacks", msg, tc.want)
			}
		})
	}
}
