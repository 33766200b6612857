package backend

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"edgemq/gateway/cluster"
	"edgemq/gateway/cluster/clustertest"

	"github.com/nats-io/nats-server/v2/server"
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
// filter needing it; a shared group holds a queue subscription of its
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
	for _, subj := range []string{"emq.t.a", "emq.t.a.>", "emq.t.q.*"} {
		clustertest.WaitNoInterest(t, remote, subj)
	}
}
