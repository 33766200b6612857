package gateway

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestRouterNodeSubscriptions: a node's subscriptions stay exact through
// subscribes, replacements and removals in any order, below and above
// the size from which they are indexed, and the node is pruned once
// empty.
func TestRouterNodeSubscriptions(t *testing.T) {
	for _, n := range []int{1, indexFrom, indexFrom + 1, 3 * indexFrom} {
		t.Run(fmt.Sprintf("sessions=%d", n), func(t *testing.T) {
			r := newRouter()
			sessions := make([]*session, n)
			want := map[*session]*subscription{}
			for i := range sessions {
				sessions[i] = &session{seq: uint64(i + 1)}
				sub := &subscription{filter: "a/+", qos: 0}
				if r.subscribe(sessions[i], sub) {
					t.Fatalf("first subscribe of session %d reported an existing one", i)
				}
				want[sessions[i]] = sub
			}
			// Replacing keeps one subscription per session, the new one.
			for i := 0; i < n; i += 2 {
				sub := &subscription{filter: "a/+", qos: 1}
				if !r.subscribe(sessions[i], sub) {
					t.Fatalf("second subscribe of session %d reported none", i)
				}
				want[sessions[i]] = sub
			}
			checkMatches(t, r, want)
			rng := rand.New(rand.NewPCG(1, uint64(n)))
			for _, i := range rng.Perm(n) {
				if !r.unsubscribe(sessions[i], "a/+") {
					t.Fatalf("unsubscribe of session %d found nothing", i)
				}
				if r.unsubscribe(sessions[i], "a/+") {
					t.Fatalf("second unsubscribe of session %d found one", i)
				}
				delete(want, sessions[i])
				checkMatches(t, r, want)
			}
			if len(r.root.children) != 0 || r.root.plus != nil || r.root.hash != nil {
				t.Fatalf("root keeps %d children after the last unsubscribe", len(r.root.children))
			}
		})
	}
}

// checkMatches checks that topic a/x matches exactly want.
func checkMatches(tb testing.TB, r *router, want map[*session]*subscription) {
	tb.Helper()
	got := r.matches(nil, "a/x")
	if len(got) != len(want) {
		tb.Fatalf("%d matches, want %d", len(got), len(want))
	}
	for _, m := range got {
		if want[m.s] != m.sub {
			tb.Fatalf("session %d matched with %+v, want %+v", m.s.seq, m.sub, want[m.s])
		}
	}
}

// TestRouterWildcardChildren: the "+" and "#" shortcuts follow the
// children they mirror through subscribe and unsubscribe.
func TestRouterWildcardChildren(t *testing.T) {
	r := newRouter()
	s := &session{seq: 1}
	for _, f := range []string{"+/x", "#", "a/#"} {
		r.subscribe(s, &subscription{filter: f})
	}
	if r.root.plus != r.root.children["+"] || r.root.plus == nil {
		t.Fatal("root.plus does not mirror children[\"+\"]")
	}
	if r.root.hash != r.root.children["#"] || r.root.hash == nil {
		t.Fatal("root.hash does not mirror children[\"#\"]")
	}
	if got := len(r.matches(nil, "a")); got != 2 { // "#", "a/#"
		t.Fatalf("topic a: %d matches, want 2", got)
	}
	if got := len(r.matches(nil, "a/x")); got != 3 { // all three
		t.Fatalf("topic a/x: %d matches, want 3", got)
	}
	r.unsubscribe(s, "#")
	r.unsubscribe(s, "+/x")
	if r.root.plus != nil || r.root.hash != nil {
		t.Fatal("root keeps a wildcard shortcut after its filter went")
	}
	if got := len(r.matches(nil, "a/x")); got != 1 {
		t.Fatalf("topic a/x: %d matches after unsubscribing, want 1", got)
	}
}
