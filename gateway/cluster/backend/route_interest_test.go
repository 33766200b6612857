package backend

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"edgemq/gateway/cluster"
	"edgemq/gateway/cluster/clustertest"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// natsSubs returns the subscriptions of node's connection on its NATS
// server e, as "subject" or "subject queue", sorted.
func natsSubs(tb testing.TB, e *cluster.Embedded, node string) []string {
	tb.Helper()
	cz, err := e.Server().Connz(&server.ConnzOptions{Subscriptions: true, SubscriptionsDetail: true})
	if err != nil {
		tb.Fatal(err)
	}
	var out []string
	for _, c := range cz.Conns {
		if c.Name != "edgemq "+node {
			continue
		}
		for _, sd := range c.SubsDetail {
			if !strings.HasPrefix(sd.Subject, cluster.LivePrefix) {
				continue
			}
			if sd.Queue != "" {
				out = append(out, sd.Subject+" "+sd.Queue)
			} else {
				out = append(out, sd.Subject)
			}
		}
	}
	slices.Sort(out)
	return out
}

// TestInterestFollowsFilters: a node holds one NATS subscription per
// subject its sessions' filters need, counted over sessions and filters
// (a/# and a both need "a"), made before SUBACK and dropped with the last
// filter needing it, none for a subject another subscribed one covers
// (# covers all); a shared group holds a queue subscription of its
// own, not a plain one, until its last member leaves. The other servers
// see the interest come and go.
func TestInterestFollowsFilters(t *testing.T) {
	nc, nodes := startNodes(t, 2)
	n := nodes[1]
	own, remote := nc.Servers[1], nc.Servers[0]
	s1, _ := n.open(t, "s1")
	s2, _ := n.open(t, "s2")
	q := queueName("g", "q/+")
	steps := []struct {
		name string
		do   func()
		want []string
	}{
		// A subscribe step waits for the flush: its subscriptions are on
		// the node's server at once. Unsubscribing is not waited for.
		{"first a/#", func() { n.subscribe(t, s1, "a/#", 0) }, []string{"emq.t.a", "emq.t.a.>"}},
		{"second a/#", func() { n.subscribe(t, s2, "a/#", 0) }, []string{"emq.t.a", "emq.t.a.>"}},
		{"a", func() { n.subscribe(t, s2, "a", 0) }, []string{"emq.t.a", "emq.t.a.>"}},
		{"one a/# left", func() { n.be.Subscriptions().Unsubscribe(s1, "a/#") }, []string{"emq.t.a", "emq.t.a.>"}},
		{"a/# gone", func() { n.be.Subscriptions().Unsubscribe(s2, "a/#") }, []string{"emq.t.a"}},
		{"group", func() { n.subscribe(t, s1, "$share/g/q/+", 0) }, []string{"emq.t.a", "emq.t.q.* " + q}},
		{"second member", func() { n.subscribe(t, s2, "$share/g/q/+", 0) }, []string{"emq.t.a", "emq.t.q.* " + q}},
		{"plain q/+ too", func() { n.subscribe(t, s2, "q/+", 0) }, []string{"emq.t.a", "emq.t.q.*", "emq.t.q.* " + q}},
		{"members leave", func() {
			n.be.Subscriptions().Unsubscribe(s1, "$share/g/q/+")
			n.be.Subscriptions().Unsubscribe(s2, "$share/g/q/+")
		}, []string{"emq.t.a", "emq.t.q.*"}},
		// # covers them: one subscription brings all (route_cover.go).
		{"everything", func() { n.subscribe(t, s1, "#", 0) }, []string{"emq.t.>"}},
		{"under everything", func() { n.subscribe(t, s1, "z/+", 0) }, []string{"emq.t.>"}},
		{"everything gone", func() { n.be.Subscriptions().Unsubscribe(s1, "#") }, []string{"emq.t.a", "emq.t.q.*", "emq.t.z.*"}},
		{"z/+ gone", func() { n.be.Subscriptions().Unsubscribe(s1, "z/+") }, []string{"emq.t.a", "emq.t.q.*"}},
		{"all gone", func() {
			n.be.Subscriptions().Unsubscribe(s2, "q/+")
			n.be.Subscriptions().Unsubscribe(s2, "a")
		}, nil},
	}
	for _, st := range steps {
		st.do()
		if subscribed := !strings.Contains(st.name, "gone") && !strings.Contains(st.name, "left") && !strings.Contains(st.name, "leave"); subscribed {
			if got := natsSubs(t, own, "b2"); !slices.Equal(got, st.want) {
				t.Fatalf("%s: subscriptions %q, want %q", st.name, got, st.want)
			}
		}
		clustertest.Eventually(t, func() bool { return slices.Equal(natsSubs(t, own, "b2"), st.want) },
			func() string {
				return fmt.Sprintf("%s: subscriptions %q, want %q", st.name, natsSubs(t, own, "b2"), st.want)
			})
		for _, w := range st.want {
			subj, _, _ := strings.Cut(w, " ")
			clustertest.WaitInterest(t, remote, subj)
		}
	}
	for _, subj := range []string{"emq.t.a", "emq.t.a.>", "emq.t.q.*", "emq.t.>", "emq.t.z.*"} {
		clustertest.WaitNoInterest(t, remote, subj)
	}
}

// TestCovers: a subject covers another when it matches every subject the
// other matches.
func TestCovers(t *testing.T) {
	tests := []struct {
		w, s string
		want bool
	}{
		{"emq.t.>", "emq.t.a", true},
		{"emq.t.>", "emq.t.a.b.c", true},
		{"emq.t.>", "emq.t.*", true},
		{"emq.t.>", "emq.t.>", true},
		{"emq.t.>", "emq.t", false},
		{"emq.t.>", "emq.d.a", false},
		{"emq.t.a.>", "emq.t.a", false},
		{"emq.t.a.>", "emq.t.a.*.c", true},
		{"emq.t.*", "emq.t.a", true},
		{"emq.t.*", "emq.t.*", true},
		{"emq.t.*", "emq.t.>", false},
		{"emq.t.*", "emq.t.a.b", false},
		{"emq.t.*.b", "emq.t.a.b", true},
		{"emq.t.*.b", "emq.t.a.c", false},
		{"emq.t.a", "emq.t.a", true},
		{"emq.t.a", "emq.t.*", false},
		{"emq.t.%2A", "emq.t.a", false},
	}
	for _, tc := range tests {
		if got := covers(tc.w, tc.s); got != tc.want {
			t.Errorf("covers(%q, %q) = %v, want %v", tc.w, tc.s, got, tc.want)
		}
	}
}

// covers is the plain definition the tree answers for: whether every
// subject s matches is one w matches, token by token.
func covers(w, s string) bool {
	wt, st := strings.Split(w, "."), strings.Split(s, ".")
	for i, tok := range wt {
		if tok == ">" {
			return len(st) > i
		}
		if i >= len(st) || st[i] == ">" {
			return false
		}
		if tok != "*" && tok != st[i] {
			return false
		}
	}
	return len(st) == len(wt)
}

// TestSubjTree: the token tree finds what covers a subject and what a
// subject covers as the plain definition does, over random sets of
// subjects with wildcards.
func TestSubjTree(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	toks := []string{"a", "b", "*", ">"}
	for round := range 200 {
		var tree subjTree
		set := map[string]bool{}
		for range 1 + rng.IntN(12) {
			parts := []string{"emq", "t"}
			for j := range 1 + rng.IntN(3) {
				tok := toks[rng.IntN(len(toks))]
				if tok == ">" && j < 2 && rng.IntN(2) == 0 {
					tok = "a"
				}
				parts = append(parts, tok)
				if tok == ">" {
					break
				}
			}
			subj := strings.Join(parts, ".")
			if !set[subj] {
				set[subj] = true
				tree.put(subj, &subRef{sub: &nats.Subscription{}, refs: 1})
			}
		}
		for s := range set {
			want := false
			for w := range set {
				if w != s && covers(w, s) {
					want = true
				}
			}
			if got := tree.coveredBy(strings.Split(s, "."), 0, s); got != want {
				t.Fatalf("round %d: %q covered by another of %v: %v, want %v", round, s, slices.Sorted(maps.Keys(set)), got, want)
			}
			var got []string
			tree.covered(strings.Split(s, "."), func(n *subjTree) { got = append(got, n.subj) })
			var wantCov []string
			for o := range set {
				if covers(s, o) {
					wantCov = append(wantCov, o)
				}
			}
			slices.Sort(got)
			slices.Sort(wantCov)
			if !slices.Equal(got, wantCov) {
				t.Fatalf("round %d: %q covers %q, want %q", round, s, got, wantCov)
			}
		}
		for s := range set {
			tree.remove(strings.Split(s, "."))
		}
		if len(tree.kids) != 0 {
			t.Fatalf("round %d: the tree keeps %d nodes after every subject went", round, len(tree.kids))
		}
	}
}
