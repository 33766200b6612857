package backend

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"edgemq/gateway/broker"
	"edgemq/gateway/cluster"
	"edgemq/gateway/cluster/clustertest"
	"edgemq/mqtt"
)

// subFilters returns the filters of sess's subscriptions, sorted.
func subFilters(sess *broker.Session) []string {
	var out []string
	for _, sub := range sess.View().Subs {
		out = append(out, sub.Filter)
	}
	sort.Strings(out)
	return out
}

// recordFilters returns the filters of rec's subscriptions, sorted.
func recordFilters(rec *cluster.SessionRecord) []string {
	var out []string
	for _, sub := range rec.Subs {
		out = append(out, sub.Filter)
	}
	sort.Strings(out)
	return out
}

// TestUnsubscribeRecordedBeforeUnsuback: an UNSUBSCRIBE's removals are
// in the session's record when Unsubscribe returns (the channel queues
// UNSUBACK after it), with no checkpoint in between (node a's are an
// hour apart): a takeover on another node right after UNSUBACK carries
// on only the subscriptions left [MQTT-3.10.4-1, MQTT-3.10.4-2].
func TestUnsubscribeRecordedBeforeUnsuback(t *testing.T) {
	_, nodes := sessClusterWith(t, 2, func(i int, o *SessionsOptions) {
		if i == 0 {
			o.Checkpoint = time.Hour
		}
	})
	a, b := nodes[0], nodes[1]
	for _, tc := range []struct {
		name        string
		subscribe   []string
		unsubscribe []string
		left        []string
	}{
		{name: "one of two", subscribe: []string{"u/a", "u/b"}, unsubscribe: []string{"u/a"}, left: []string{"u/b"}},
		{name: "all", subscribe: []string{"u/#", "v/+/w"}, unsubscribe: []string{"u/#", "v/+/w"}, left: nil},
		{name: "with one never held", subscribe: []string{"x/1", "x/2"}, unsubscribe: []string{"x/1", "x/3"}, left: []string{"x/2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := "unsub-" + tc.name
			c1 := newSessClient()
			s1, _ := sessOpen(t, a, c1, id, true, 300, nil)
			for _, f := range tc.subscribe {
				sessSubscribe(t, a, s1, f, 1)
			}
			if got := recordFilters(record(t, a, id)); !slices.Equal(got, tc.subscribe) {
				t.Fatalf("record after SUBACK holds %v, want %v", got, tc.subscribe)
			}
			subs := a.s.Subscriptions()
			for _, f := range tc.unsubscribe {
				held := slices.Contains(tc.subscribe, f)
				if got := subs.Unsubscribe(s1, f); got != held {
					t.Fatalf("Unsubscribe(%s) = %v, want %v", f, got, held)
				}
			}
			// UNSUBACK would go now; the client moves to node b at once.
			c2 := newSessClient()
			s2, present := sessOpen(t, b, c2, id, false, 300, nil)
			if !present {
				t.Fatal("session not present on b")
			}
			if got := subFilters(s2); !slices.Equal(got, tc.left) {
				t.Fatalf("b carried on %v, want %v", got, tc.left)
			}
			select {
			case code := <-c1.kicked:
				if code != mqtt.SessionTakenOver {
					t.Fatalf("a's client closed with %v, want 0x8E", code)
				}
			case <-time.After(clustertest.Timeout):
				t.Fatal("a's client not closed")
			}
		})
	}
}

// TestLapseClaimsThroughOwnerIndex: each claim writes an owner index
// entry first, so a lapsed node's sessions are listed by its name and
// incarnation, not by reading every record; its survivors claim exactly
// those, once each, the records name the winner's incarnation, the
// winners' index entries cover what they won, and the lapsed
// incarnation's entries are removed once handled.
func TestLapseClaimsThroughOwnerIndex(t *testing.T) {
	_, nodes := sessCluster(t, 3)
	a, b, c := nodes[0], nodes[1], nodes[2]
	ctx, cancel := context.WithTimeout(context.Background(), clustertest.Timeout)
	defer cancel()
	var aIDs, bIDs []string
	for i := range 12 {
		id := fmt.Sprintf("ix-a-%d", i)
		cl := newSessClient()
		s, _ := sessOpen(t, a, cl, id, true, 300, nil)
		sessSubscribe(t, a, s, "ix/"+id, 1)
		if i%2 == 0 {
			a.s.Detach(s, cl, nil) // offline ones too
		}
		aIDs = append(aIDs, id)
	}
	for i := range 5 {
		id := fmt.Sprintf("ix-b-%d", i)
		sessOpen(t, b, newSessClient(), id, true, 300, nil)
		bIDs = append(bIDs, id)
	}
	incA := a.live.Incarnation()
	listed := func(nd *sessNode, node, inc string) []string {
		es, err := nd.s.index.List(ctx, node, inc)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, e := range es {
			if e.Node != node || e.Incarnation != inc {
				t.Fatalf("listing %s/%s gave %+v", node, inc, e)
			}
			ids = append(ids, e.ClientID)
		}
		slices.Sort(ids)
		return ids
	}
	if got := listed(b, "a", incA); !slices.Equal(got, slices.Sorted(slices.Values(aIDs))) {
		t.Fatalf("a's index lists %v, want %v", got, aIDs)
	}

	a.kill(t)
	clustertest.Eventually(t, func() bool {
		return b.s.Counts().Claimed.Load()+c.s.Counts().Claimed.Load() >= int64(len(aIDs))
	}, func() string { return "a's sessions not all claimed" })
	if n := b.s.Counts().Claimed.Load() + c.s.Counts().Claimed.Load(); n != int64(len(aIDs)) {
		t.Fatalf("%d claims, want %d (a's sessions, once each)", n, len(aIDs))
	}
	won := map[string][]string{}
	for _, id := range aIDs {
		rec := record(t, b, id)
		w := map[string]*sessNode{"b": b, "c": c}[rec.Owner]
		if w == nil {
			t.Fatalf("%s owned by %q after a lapsed", id, rec.Owner)
		}
		if rec.Incarnation != w.live.Incarnation() {
			t.Fatalf("%s names incarnation %q, want %s's %q", id, rec.Incarnation, w.name, w.live.Incarnation())
		}
		if len(recordFilters(rec)) != 1 {
			t.Fatalf("%s lost its subscription: %+v", id, rec.Subs)
		}
		won[rec.Owner] = append(won[rec.Owner], id)
	}
	for _, id := range bIDs {
		if rec := record(t, b, id); rec.Owner != "b" {
			t.Fatalf("b's own session %s now owned by %q", id, rec.Owner)
		}
	}
	won["b"] = append(won["b"], bIDs...)
	// A survivor that lost a claim removes the entry it wrote for it.
	for _, w := range []*sessNode{b, c} {
		want := slices.Sorted(slices.Values(won[w.name]))
		var got []string
		clustertest.Eventually(t, func() bool {
			got = listed(w, w.name, w.live.Incarnation())
			return slices.Equal(got, want)
		}, func() string { return fmt.Sprintf("%s's index lists %v, want %v", w.name, got, want) })
	}
	clustertest.Eventually(t, func() bool { return len(listed(b, "a", incA)) == 0 },
		func() string { return "the lapsed incarnation's index entries are still there" })
}

// TestRestartedNodeKeepsItsNewSession: node a is killed and restarted
// under the same name while survivor b is still handling its lapse (b's
// claim of the session waits on its gate, held by the test); the client
// reconnects to the new a. When b gets to the session, the record names
// a's new incarnation, not the lapsed one: b leaves it, and the client
// stays connected on a.
func TestRestartedNodeKeepsItsNewSession(t *testing.T) {
	c, nodes := sessClusterWith(t, 2, func(_ int, o *SessionsOptions) { o.OpenTimeout = clustertest.Timeout })
	a, b := nodes[0], nodes[1]
	const id = "restarted"
	ctx, cancel := context.WithTimeout(context.Background(), clustertest.Timeout)
	defer cancel()
	unlock, err := b.s.gates.lock(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	released := false
	defer func() {
		if !released {
			unlock()
		}
	}()
	s1, _ := sessOpen(t, a, newSessClient(), id, true, 300, nil)
	sessSubscribe(t, a, s1, "restart/#", 1)
	incA1 := a.live.Incarnation()

	a.kill(t)
	// b handles the lapse: its claim waits for the gate the test holds.
	clustertest.Eventually(t, func() bool {
		b.s.gates.mu.Lock()
		defer b.s.gates.mu.Unlock()
		g := b.s.gates.m[id]
		return g != nil && g.refs == 2
	}, func() string { return "b never came to claim the session" })

	a2 := startSessNode(t, c, 0, "a", func(o *SessionsOptions) { o.OpenTimeout = clustertest.Timeout })
	if a2.live.Incarnation() == incA1 {
		t.Fatal("the restarted node has its old incarnation")
	}
	cl := newSessClient()
	s2, present := sessOpen(t, a2, cl, id, false, 300, nil)
	if !present || !slices.Equal(subFilters(s2), []string{"restart/#"}) {
		t.Fatalf("session on the restarted node: present %v, subscriptions %v", present, subFilters(s2))
	}
	if rec := record(t, a2, id); rec.Owner != "a" || rec.Incarnation != a2.live.Incarnation() {
		t.Fatalf("record owner %s/%s, want a/%s", rec.Owner, rec.Incarnation, a2.live.Incarnation())
	}

	// b goes on; the test's next lock waits until its claim is done.
	unlock()
	released = true
	again, err := b.s.gates.lock(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	again()
	if rec := record(t, a2, id); rec.Owner != "a" || rec.Incarnation != a2.live.Incarnation() {
		t.Fatalf("after b's claim the record names %s/%s, want a/%s", rec.Owner, rec.Incarnation, a2.live.Incarnation())
	}
	if slices.Contains(b.s.Owned(), id) || b.b.Lookup(id) != nil {
		t.Fatal("b took the restarted node's session")
	}
	if !slices.Contains(a2.s.Owned(), id) {
		t.Fatal("the restarted node no longer holds its session")
	}
	select {
	case code := <-cl.kicked:
		t.Fatalf("the client on the restarted node was closed with %v", code)
	default:
	}
}

// TestCheckpointVisitsOnlyChangedSessions: the checkpoints look at the
// sessions whose state changed, not at every session the node holds: a
// message to one of 40 idle sessions makes a handful of visits, and its
// cursor reaches the record.
func TestCheckpointVisitsOnlyChangedSessions(t *testing.T) {
	_, nodes := sessCluster(t, 1)
	a := nodes[0]
	const n = 40
	var sessions []*broker.Session
	var clients []*sessClient
	for i := range n {
		id := fmt.Sprintf("cp-%d", i)
		cl := newSessClient()
		s, _ := sessOpen(t, a, cl, id, true, 300, nil)
		sessSubscribe(t, a, s, "cp/"+id, 1)
		sessions, clients = append(sessions, s), append(clients, cl)
	}
	// Each Open marks its session once; wait until those are written.
	clustertest.Eventually(t, func() bool { return a.s.Counts().Checkpointed.Load() >= n && a.s.dirty.head.Load() == nil },
		func() string { return "the opened sessions were never checkpointed" })
	// Some ticks pass (a write of another node's session would show)...
	before := a.s.Counts().Checkpointed.Load()
	seq := storeMsg(t, a.js, "cp/cp-7", "m", 1)
	routeLive(a, "cp/cp-7", "m", seq)
	if got := receive(t, clients[7], sessions[7], 1); got[0] != "m" {
		t.Fatalf("received %q", got)
	}
	clustertest.Eventually(t, func() bool { return record(t, a, "cp-7").Cursor >= seq },
		func() string { return "the acknowledged message's cursor never reached the record" })
	// ... and the idle sessions were not looked at meanwhile.
	if visits := a.s.Counts().Checkpointed.Load() - before; visits > 4 {
		t.Fatalf("%d sessions checkpointed for one message to one session of %d", visits, n)
	}
}

// jsConsumers returns the number of JetStream consumers of the
// messages stream, and of the two buckets.
func jsConsumers(t *testing.T, nd *sessNode) (messages, buckets int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clustertest.Timeout)
	defer cancel()
	for _, name := range []string{cluster.MessagesStream, "KV_" + cluster.SessionsBucket, "KV_" + cluster.NodesBucket} {
		st, err := nd.js.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		info, err := st.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if name == cluster.MessagesStream {
			messages = info.State.Consumers
		} else {
			buckets += info.State.Consumers
		}
	}
	return messages, buckets
}

// TestConsumersDoNotGrowWithSessions: 300 persistent sessions over
// three nodes, each subscribed and disconnected, a third of them then
// resumed on another node (a replay each), leave no JetStream consumer
// per session or subscription (issue 15): the messages stream has none
// once the replays are over, and the buckets only the nodes' own
// watches (a watch of the nodes each, a listing of the sessions' index
// at most).
func TestConsumersDoNotGrowWithSessions(t *testing.T) {
	// What is counted is consumers, not speed: a CONNECT may take long
	// on a loaded machine (each writes records with three replicas).
	_, nodes := sessClusterWith(t, 3, func(_ int, o *SessionsOptions) { o.OpenTimeout = clustertest.Timeout })
	const n = 300
	open := func(i int, nd *sessNode) {
		id := fmt.Sprintf("many-%d", i)
		cl := newSessClient()
		s, _ := sessOpen(t, nd, cl, id, false, 600, nil)
		sessSubscribe(t, nd, s, fmt.Sprintf("many/%d/#", i), 1)
		nd.s.Detach(s, cl, nil)
	}
	each := func(ids []int, fn func(i int)) {
		var wg sync.WaitGroup
		work := make(chan int)
		for range 8 {
			wg.Go(func() {
				for i := range work {
					fn(i)
				}
			})
		}
		for _, i := range ids {
			work <- i
		}
		close(work)
		wg.Wait()
	}
	var all, third []int
	for i := range n {
		all = append(all, i)
		if i%3 == 0 {
			third = append(third, i)
		}
	}
	each(all, func(i int) { open(i, nodes[i%3]) })
	// A message past every cursor: each session resumed on another node
	// replays through a consumer of its own, while it replays.
	storeMsg(t, nodes[0].js, "many/0/x", "one", 1)
	each(third, func(i int) { open(i, nodes[(i+1)%3]) })
	held := map[string]bool{}
	for _, nd := range nodes {
		for _, id := range nd.s.Owned() {
			held[id] = true
		}
	}
	if len(held) != n {
		t.Fatalf("%d sessions held, want %d", len(held), n)
	}
	// The replays' ordered consumers are deleted when they end.
	var messages, buckets int
	clustertest.Eventually(t, func() bool {
		messages, buckets = jsConsumers(t, nodes[0])
		return messages == 0 && buckets <= 2*len(nodes)
	}, func() string {
		return fmt.Sprintf("%d consumers of the messages stream and %d of the buckets with %d sessions", messages, buckets, n)
	})
}
