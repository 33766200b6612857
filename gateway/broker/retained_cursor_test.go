package broker

import (
	"edgemq/gateway/stats"
	"fmt"
	"slices"
	"testing"
	"time"
)

// scanAll walks filter's retained messages step by step, step messages at
// a time, resuming after the last topic each time as a cursor does, with
// between(after) called between steps; it returns the topics in order.
func scanAll(tb testing.TB, r *retainedStore, filter string, upTo uint64, step int, between func(after string)) []string {
	tb.Helper()
	var out []string
	after, resumed := "", false
	for range 10000 {
		k := 0
		done := r.scan(filter, after, resumed, upTo, time.Now(), func(m *Message) bool {
			if k == step {
				return false
			}
			k++
			out = append(out, m.pub.Topic)
			after, resumed = m.pub.Topic, true
			return true
		}, func(m *Message) { after, resumed = m.pub.Topic, true })
		if done {
			return out
		}
		if between != nil {
			between(after)
		}
	}
	tb.Fatalf("scan of %q does not end", filter)
	return nil
}

// TestRetainedCursorOrder checks the cursor order (retained_cursor.go): a
// topic before the topics below it, levels in byte order, every matching
// topic once whatever the step, and no '$' topic for a filter starting
// with a wildcard [MQTT-4.7.2-1].
func TestRetainedCursorOrder(t *testing.T) {
	r := newRetainedStore(0, 0, &stats.Counters{})
	topics := []string{"a", "a/b", "a/b/c", "a/c", "a-b", "b/x", "$SYS/x", "a/b/d", "/lead", "a//e", "c", "b/y/z"}
	for _, topic := range topics {
		r.store(retainedMsg(topic, "p"))
	}
	tests := []struct {
		filter string
		want   []string
	}{
		{"#", []string{"/lead", "a", "a//e", "a/b", "a/b/c", "a/b/d", "a/c", "a-b", "b/x", "b/y/z", "c"}},
		{"a/#", []string{"a", "a//e", "a/b", "a/b/c", "a/b/d", "a/c"}},
		{"a/+", []string{"a/b", "a/c"}},
		{"+/b/#", []string{"a/b", "a/b/c", "a/b/d"}},
		{"+", []string{"a", "a-b", "c"}},
		{"$SYS/#", []string{"$SYS/x"}},
		{"b/y/z", []string{"b/y/z"}},
		{"nothing/#", nil},
	}
	for _, tt := range tests {
		for _, step := range []int{1, 2, 3, 100} {
			t.Run(fmt.Sprintf("%s/step%d", tt.filter, step), func(t *testing.T) {
				got := scanAll(t, r, tt.filter, r.lastSeq(), step, nil)
				if !slices.Equal(got, tt.want) {
					t.Errorf("got %q, want %q", got, tt.want)
				}
			})
		}
	}
}

// TestRetainedCursorChanges checks what a cursor does with changes made
// while it walks: a topic deleted ahead of it is not delivered, one
// replaced or added ahead of it (stored after its start, so routed live)
// is skipped, topics behind it are not visited again, and expired ones are
// deleted, not delivered.
func TestRetainedCursorChanges(t *testing.T) {
	r := newRetainedStore(0, 0, &stats.Counters{})
	for i := range 20 {
		r.store(retainedMsg(fmt.Sprintf("t/%02d", i), "old"))
	}
	expired := retainedMsg("t/15", "old")
	expired.expires = time.Now().Add(-time.Second)
	r.store(expired)
	start := r.lastSeq()
	changed := false
	got := scanAll(t, r, "t/#", start, 4, func(after string) {
		if changed || after < "t/05" {
			return
		}
		changed = true
		r.store(retainedMsg("t/10", ""))    // deleted ahead
		r.store(retainedMsg("t/11", "new")) // replaced ahead: went live
		r.store(retainedMsg("t/10x", "added"))
		r.store(retainedMsg("t/01", "new")) // replaced behind
	})
	var want []string
	for i := range 20 {
		if i != 10 && i != 11 && i != 15 {
			want = append(want, fmt.Sprintf("t/%02d", i))
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if n, _ := r.size(); n != 19 {
		t.Errorf("%d retained after the walk, want 19 (the expired one deleted)", n)
	}
	// A new cursor sees the newest state.
	got = scanAll(t, r, "t/#", r.lastSeq(), 7, nil)
	if !slices.Contains(got, "t/10x") || !slices.Contains(got, "t/11") || slices.Contains(got, "t/10") {
		t.Errorf("a new cursor got %q", got)
	}
}

// TestRetainedChildOrderBounded checks that the sorted child index a
// cursor builds costs bounded memory under churn: distinct topics added
// and deleted forever keep at most about twice the live children.
func TestRetainedChildOrderBounded(t *testing.T) {
	r := newRetainedStore(0, 0, &stats.Counters{})
	for i := range 10 {
		r.store(retainedMsg(fmt.Sprintf("c/%d", i), "p"))
	}
	scanAll(t, r, "c/#", r.lastSeq(), 100, nil) // builds the index of c
	node := r.root.children["c"]
	for i := 10; i < 10000; i++ {
		r.store(retainedMsg(fmt.Sprintf("c/%d", i), "p"))
		r.store(retainedMsg(fmt.Sprintf("c/%d", i), ""))
		if held := len(node.order.names) + len(node.order.fresh); held > 2*len(node.children)+17 {
			t.Fatalf("after %d topics the index holds %d names for %d children", i, held, len(node.children))
		}
	}
	got := scanAll(t, r, "c/+", r.lastSeq(), 3, nil)
	want := []string{"c/0", "c/1", "c/2", "c/3", "c/4", "c/5", "c/6", "c/7", "c/8", "c/9"}
	if !slices.Equal(got, want) {
		t.Errorf("after churn got %q, want %q", got, want)
	}
}

// orderOut is a Client that records, for each delivery queued, whether
// the writer's callback was set and the session marked feeding by then: a
// delivery queued before would let the writer drain the queue with no one
// to call back (a lost wake-up). It has room for items deliveries.
type orderOut struct {
	testClient
	s         *Session
	items     int
	refillSet bool
	early     int // deliveries queued before the callback was set
	queued    int
}

func (o *orderOut) Link() Link { return Link{Out: o, Window: o.window} }
func (o *orderOut) Deliver(*Delivery) bool {
	if !o.refillSet || !o.s.feeding.Load() {
		o.early++
	}
	o.queued++
	return true
}
func (o *orderOut) Room() QueueRoom     { return QueueRoom{Items: o.items} }
func (o *orderOut) SetRefill(fn func()) { o.refillSet = fn != nil }

// TestRetainedFeedWakeupOrder checks that a retained delivery sets the
// writer's callback, and marks the session feeding, before it queues
// anything: the writer may take and write a batch at once, and would not
// come back for more otherwise.
func TestRetainedFeedWakeupOrder(t *testing.T) {
	e := testBroker()
	for i := range 10 {
		e.retained.store(retainedMsg(fmt.Sprintf("w/%d", i), "p"))
	}
	out := &orderOut{items: 4, testClient: testClient{window: 10}}
	s, _, _ := e.Open(OpenRequest{ClientID: "w", Clean: true, Client: out, Owner: &Owner{}}, func(*Session, bool) {})
	out.s = s
	sub := &Subscription{filter: "w/#"}
	s.mu.Lock()
	s.st.putSub(sub) // StartRetained serves the session's subscriptions only
	s.mu.Unlock()
	s.StartRetained(out, []*Subscription{sub}, e.retained.lastSeq())
	if out.queued != 4 || out.early != 0 {
		t.Errorf("%d queued, %d of them before the writer's callback was set", out.queued, out.early)
	}
	if !s.feeding.Load() {
		t.Error("not feeding with 6 messages to go")
	}
}
