package topictrie

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// key and sub stand for the broker's session and subscription.
type key struct{ seq int }
type sub struct{ qos byte }

// TestNodeSubscriptions: a node's subscriptions stay exact through
// subscribes, replacements and removals in any order, below and above
// the size from which they are indexed, and the node is pruned once
// empty.
func TestNodeSubscriptions(t *testing.T) {
	for _, n := range []int{1, IndexFrom, IndexFrom + 1, 3 * IndexFrom} {
		t.Run(fmt.Sprintf("subscribers=%d", n), func(t *testing.T) {
			tr := New[*key, *sub]()
			keys := make([]*key, n)
			want := map[*key]*sub{}
			for i := range keys {
				keys[i] = &key{seq: i + 1}
				s := &sub{qos: 0}
				if existed, _ := tr.Subscribe(keys[i], "a/+", s); existed {
					t.Fatalf("first subscribe of subscriber %d reported an existing one", i)
				}
				want[keys[i]] = s
			}
			// Replacing keeps one subscription per subscriber, the new one.
			for i := 0; i < n; i += 2 {
				s := &sub{qos: 1}
				if existed, _ := tr.Subscribe(keys[i], "a/+", s); !existed {
					t.Fatalf("second subscribe of subscriber %d reported none", i)
				}
				want[keys[i]] = s
			}
			checkMatches(t, tr, want)
			rng := rand.New(rand.NewPCG(1, uint64(n)))
			for _, i := range rng.Perm(n) {
				if found, _ := tr.Unsubscribe(keys[i], "a/+"); !found {
					t.Fatalf("unsubscribe of subscriber %d found nothing", i)
				}
				if found, _ := tr.Unsubscribe(keys[i], "a/+"); found {
					t.Fatalf("second unsubscribe of subscriber %d found one", i)
				}
				delete(want, keys[i])
				checkMatches(t, tr, want)
			}
			if len(tr.root.children) != 0 || tr.root.plus != nil || tr.root.hash != nil || !tr.Empty() {
				t.Fatalf("root keeps %d children after the last unsubscribe", len(tr.root.children))
			}
		})
	}
}

// checkMatches checks that topic a/x matches exactly want.
func checkMatches(tb testing.TB, tr *Trie[*key, *sub], want map[*key]*sub) {
	tb.Helper()
	got := tr.Matches(nil, "a/x")
	if len(got) != len(want) {
		tb.Fatalf("%d matches, want %d", len(got), len(want))
	}
	for _, m := range got {
		if want[m.Key] != m.Sub {
			tb.Fatalf("subscriber %d matched with %+v, want %+v", m.Key.seq, m.Sub, want[m.Key])
		}
	}
}

// TestWildcardChildren: the "+" and "#" shortcuts follow the children
// they mirror through subscribe and unsubscribe.
func TestWildcardChildren(t *testing.T) {
	tr := New[*key, *sub]()
	k := &key{seq: 1}
	for _, f := range []string{"+/x", "#", "a/#"} {
		tr.Subscribe(k, f, &sub{})
	}
	if tr.root.plus != tr.root.children["+"] || tr.root.plus == nil {
		t.Fatal("root.plus does not mirror children[\"+\"]")
	}
	if tr.root.hash != tr.root.children["#"] || tr.root.hash == nil {
		t.Fatal("root.hash does not mirror children[\"#\"]")
	}
	if got := len(tr.Matches(nil, "a")); got != 2 { // "#", "a/#"
		t.Fatalf("topic a: %d matches, want 2", got)
	}
	if got := len(tr.Matches(nil, "a/x")); got != 3 { // all three
		t.Fatalf("topic a/x: %d matches, want 3", got)
	}
	tr.Unsubscribe(k, "#")
	tr.Unsubscribe(k, "+/x")
	if tr.root.plus != nil || tr.root.hash != nil {
		t.Fatal("root keeps a wildcard shortcut after its filter went")
	}
	if got := len(tr.Matches(nil, "a/x")); got != 1 {
		t.Fatalf("topic a/x: %d matches after unsubscribing, want 1", got)
	}
}

// TestMatching: which filters match which topics, '$' topics included
// [MQTT-4.7.2-1], and how many nodes Collect reports.
func TestMatching(t *testing.T) {
	tests := []struct {
		filters []string
		topic   string
		want    int // matches
		nodes   int
	}{
		{[]string{"a/b"}, "a/b", 1, 1},
		{[]string{"a/+", "a/#", "#"}, "a/b", 3, 3},
		{[]string{"a/#"}, "a", 1, 1},
		{[]string{"+/b", "a/+/c"}, "a/b", 1, 1},
		{[]string{"#", "+/x"}, "$SYS/x", 0, 0}, // [MQTT-4.7.2-1]
		{[]string{"$SYS/#"}, "$SYS/x", 1, 1},
		{[]string{"$share/g/a/+", "a/+"}, "a/b", 2, 1},
		{[]string{"$share/g/a/+", "$share/h/a/+"}, "a/b", 2, 1},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%v/%s", tc.filters, tc.topic), func(t *testing.T) {
			tr := New[*key, *sub]()
			for i, f := range tc.filters {
				tr.Subscribe(&key{seq: i}, f, &sub{})
			}
			got, nodes := tr.Collect(nil, tc.topic)
			if len(got) != tc.want || nodes != tc.nodes {
				t.Fatalf("%d matches from %d nodes, want %d from %d", len(got), nodes, tc.want, tc.nodes)
			}
		})
	}
}

// TestGroups: members join once, replace their subscription, leave, and
// the group goes with its last member.
func TestGroups(t *testing.T) {
	tr := New[*key, *sub]()
	a, b := &key{seq: 1}, &key{seq: 2}
	tr.Subscribe(a, "$share/g/t/+", &sub{})
	if existed, _ := tr.Subscribe(a, "$share/g/t/+", &sub{qos: 1}); !existed {
		t.Fatal("a second join was not reported as existing")
	}
	tr.Subscribe(b, "$share/g/t/+", &sub{})
	ms := tr.Matches(nil, "t/x")
	if len(ms) != 1 || ms[0].Group == nil {
		t.Fatalf("matches %+v, want the group once", ms)
	}
	g := ms[0].Group
	if g.Name() != "g" || g.Filter() != "t/+" || len(g.Members()) != 2 || g.Members()[0].Sub.qos != 1 {
		t.Fatalf("group %q %q members %+v", g.Name(), g.Filter(), g.Members())
	}
	if g.Next() != 0 || g.Next() != 1 {
		t.Fatal("the cursor does not count from 0")
	}
	if found, _ := tr.Unsubscribe(a, "$share/g/t/+"); !found {
		t.Fatal("leaving found nothing")
	}
	if found, _ := tr.Unsubscribe(a, "$share/g/t/+"); found {
		t.Fatal("leaving twice")
	}
	tr.Unsubscribe(b, "$share/g/t/+")
	if !tr.Empty() || len(g.Members()) != 0 {
		t.Fatal("the trie keeps the group after its last member left")
	}
}

// TestFirstAndLast: Subscribe reports the first subscription of a filter
// and Unsubscribe the last, counting plain subscriptions of the filter,
// and each shared group's members, apart, whatever the order.
func TestFirstAndLast(t *testing.T) {
	type step struct {
		unsub       bool
		key         int
		filter      string
		first, last bool
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"one", []step{{false, 1, "a/b", true, false}, {true, 1, "a/b", false, true}}},
		{"two", []step{{false, 1, "a/+", true, false}, {false, 2, "a/+", false, false},
			{true, 1, "a/+", false, false}, {true, 2, "a/+", false, true}}},
		{"replace", []step{{false, 1, "a", true, false}, {false, 1, "a", false, false}, {true, 1, "a", false, true}}},
		{"shared and plain", []step{{false, 1, "$share/g/x/#", true, false}, {false, 2, "x/#", true, false},
			{true, 1, "$share/g/x/#", false, true}, {true, 2, "x/#", false, true}}},
		{"two groups", []step{{false, 1, "$share/g/x", true, false}, {false, 1, "$share/h/x", true, false},
			{true, 1, "$share/g/x", false, true}, {true, 1, "$share/h/x", false, true}}},
		{"two members", []step{{false, 1, "$share/g/x", true, false}, {false, 2, "$share/g/x", false, false},
			{false, 2, "$share/g/x", false, false}, {true, 1, "$share/g/x", false, false}, {true, 2, "$share/g/x", false, true}}},
		{"nested", []step{{false, 1, "a", true, false}, {false, 1, "a/b", true, false},
			{true, 1, "a", false, true}, {true, 1, "a/b", false, true}}},
		{"absent", []step{{true, 1, "a", false, false}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := New[*key, *sub]()
			keys := map[int]*key{}
			for i, st := range tc.steps {
				if keys[st.key] == nil {
					keys[st.key] = &key{seq: st.key}
				}
				k := keys[st.key]
				if st.unsub {
					if _, last := tr.Unsubscribe(k, st.filter); last != st.last {
						t.Fatalf("step %d: unsubscribe %q last = %v, want %v", i, st.filter, last, st.last)
					}
					continue
				}
				if _, first := tr.Subscribe(k, st.filter, &sub{}); first != st.first {
					t.Fatalf("step %d: subscribe %q first = %v, want %v", i, st.filter, first, st.first)
				}
			}
		})
	}
}
