//go:build lockorder

package gateway

import (
	"os"
	"strings"
	"testing"
)

// TestLockOrderRefusesAnInversion: under -tags lockorder the gateway's
// own locks are checked. Taking registry.mu while holding a session's
// lock (the reverse of registry.open) or engine.order under a session's
// lock panics, naming both locks, before anything blocks.
func TestLockOrderRefusesAnInversion(t *testing.T) {
	if os.Getenv("EDGEMQ_LOCKORDER") == "survey" {
		t.Skip("EDGEMQ_LOCKORDER=survey logs inversions instead of panicking")
	}
	cases := []struct {
		name string
		take func(e *engine)
		want string
	}{
		{"registry under session", func(e *engine) { e.sessions.mu.Lock(); e.sessions.mu.Unlock() }, "registry.mu taken while holding session.mu"},
		{"order under session", func(e *engine) { e.order.RLock(); e.order.RUnlock() }, "engine.order taken while holding session.mu"},
		{"second session", func(*engine) { var s2 session; s2.mu.Lock(); s2.mu.Unlock() }, "session.mu taken while holding session.mu"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := &engine{sessions: newRegistry(0, 0, &engineStats{}, nil, nil)}
			var s session
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
