package backend

import (
	"testing"
	"time"
)

// TestInterestMemo: a subscriber's presence is remembered for the ttl
// (the server is not asked again), its absence never (the server is
// asked every time, so a new subscriber counts at once), and beyond max
// subjects the memo starts over.
func TestInterestMemo(t *testing.T) {
	t0 := time.Unix(1000, 0)
	subs := map[string]int{}
	asked := map[string]int{}
	ask := func(s string) int { asked[s]++; return subs[s] }
	m := &interestMemo{ttl: time.Second, max: 2}
	steps := []struct {
		name    string
		subject string
		subs    int // the server's answer from this step on
		at      time.Duration
		want    bool
		asked   int // times the server was asked for subject so far
	}{
		{"no subscriber: asked", "a", 0, 0, false, 1},
		{"still none: asked again", "a", 0, 10 * time.Millisecond, false, 2},
		{"a subscriber arrives: seen at once", "a", 1, 20 * time.Millisecond, true, 3},
		{"remembered: not asked", "a", 1, 500 * time.Millisecond, true, 3},
		{"it left, within the ttl: still counted", "a", 0, 900 * time.Millisecond, true, 3},
		{"past the ttl: asked, gone", "a", 0, 1100 * time.Millisecond, false, 4},
		{"another subject", "b", 1, 1200 * time.Millisecond, true, 1},
		{"b remembered", "b", 1, 1300 * time.Millisecond, true, 1},
		{"a third subject fills the memo past max: forgotten", "c", 1, 1400 * time.Millisecond, true, 1},
		{"b asked again after the reset", "b", 1, 1500 * time.Millisecond, true, 2},
	}
	for _, st := range steps {
		subs[st.subject] = st.subs
		if got := m.has(st.subject, t0.Add(st.at), ask); got != st.want {
			t.Fatalf("%s: has(%q) = %v, want %v", st.name, st.subject, got, st.want)
		}
		if asked[st.subject] != st.asked {
			t.Fatalf("%s: the server was asked %d times for %q, want %d", st.name, asked[st.subject], st.subject, st.asked)
		}
	}
}
