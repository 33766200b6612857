package topictrie

import (
	"strings"

	"edgemq/mqtt"
)

// Trie matches topics to the subscriptions of subscribers K, each holding
// a V. The zero value is not ready: use New. Not safe for concurrent use
// (see the package doc); Collect only reads, so several may run together
// under a shared lock.
type Trie[K comparable, V any] struct {
	root *node[K, V]
}

// New returns an empty trie.
func New[K comparable, V any]() *Trie[K, V] {
	return &Trie[K, V]{root: &node[K, V]{}}
}

type node[K comparable, V any] struct {
	children map[string]*node[K, V]
	// plus and hash are children["+"] and children["#"], nil when
	// absent: matching looks them up at every level.
	plus, hash *node[K, V]
	// subs lists the node's subscriptions, one per subscriber, so that
	// matching walks a slice rather than a map. at indexes subs by
	// subscriber once there are more than IndexFrom; below, a search is
	// cheaper than a map.
	subs []Entry[K, V]
	at   map[K]int
	// shared holds the shared subscription groups of this node's filter,
	// by share name (group.go).
	shared map[string]*Group[K, V]
}

// Entry is one subscriber's subscription at a node, or a member of a
// shared group.
type Entry[K comparable, V any] struct {
	Key K
	Sub V
}

// Match is one subscriber's subscription matching a topic (Group nil),
// or a shared subscription group matching it (Group set, Key and Sub
// zero).
type Match[K comparable, V any] struct {
	Key   K
	Sub   V
	Group *Group[K, V]
}

// IndexFrom is the number of subscriptions of a node from which they are
// indexed by subscriber.
const IndexFrom = 8

// Subscribe adds or replaces the subscription of k to filter; a shared
// subscription ("$share/{name}/{filter}", valid) joins its group at the
// node of its filter. It reports whether one existed, and first when it
// is the first of its kind at the node of its filter: the first non-shared
// subscription of the filter, or the first member of the group (each
// kind is what a cluster subscribes to NATS for). filter is valid.
func (t *Trie[K, V]) Subscribe(k K, filter string, sub V) (existed, first bool) {
	share, f, shared, _ := mqtt.ParseShared(filter)
	if shared {
		filter = f
	}
	n := t.root
	for level := range strings.SplitSeq(filter, "/") {
		if n.children == nil {
			n.children = make(map[string]*node[K, V])
		}
		c, ok := n.children[level]
		if !ok {
			c = &node[K, V]{}
			n.setChild(level, c)
		}
		n = c
	}
	if shared {
		first = n.shared[share] == nil
		return n.join(share, filter, k, sub), first
	}
	first = len(n.subs) == 0
	if i := n.indexOf(k); i >= 0 {
		n.subs[i].Sub = sub
		return true, false
	}
	n.subs = append(n.subs, Entry[K, V]{Key: k, Sub: sub})
	switch {
	case n.at != nil:
		n.at[k] = len(n.subs) - 1
	case len(n.subs) > IndexFrom:
		n.at = make(map[K]int, len(n.subs))
		for i, e := range n.subs {
			n.at[e.Key] = i
		}
	}
	return false, first
}

// indexOf returns the index of k's subscription in n.subs, -1 if none.
func (n *node[K, V]) indexOf(k K) int {
	if n.at != nil {
		if i, ok := n.at[k]; ok {
			return i
		}
		return -1
	}
	for i, e := range n.subs {
		if e.Key == k {
			return i
		}
	}
	return -1
}

// removeSub removes the subscription of k from n, moving the last one
// into its place. It reports whether there was one.
func (n *node[K, V]) removeSub(k K) bool {
	i := n.indexOf(k)
	if i < 0 {
		return false
	}
	last := len(n.subs) - 1
	if i != last {
		n.subs[i] = n.subs[last]
		if n.at != nil {
			n.at[n.subs[i].Key] = i
		}
	}
	n.subs[last] = Entry[K, V]{}
	n.subs = n.subs[:last]
	delete(n.at, k)
	if last == 0 {
		n.subs, n.at = nil, nil
	}
	return true
}

// Unsubscribe removes the subscription of k to filter (for a shared
// subscription, k's membership of that group only), pruning empty nodes.
// It reports whether one existed, and last when it was the last of its
// kind at the node of its filter: the last non-shared subscription of the
// filter, or the group's last member (see Subscribe).
func (t *Trie[K, V]) Unsubscribe(k K, filter string) (found, last bool) {
	share, f, shared, err := mqtt.ParseShared(filter)
	if err != nil {
		return false, false
	}
	if shared {
		filter = f
	}
	return t.remove(t.root, filter, share, k)
}

// remove removes k from filter under n: its subscription, or with share
// set its membership of that group.
func (t *Trie[K, V]) remove(n *node[K, V], filter, share string, k K) (found, last bool) {
	level, rest, more := Cut(filter)
	c, ok := n.children[level]
	if !ok {
		return false, false
	}
	switch {
	case more:
		found, last = t.remove(c, rest, share, k)
	case share != "":
		found = c.leave(share, k)
		last = found && c.shared[share] == nil
	default:
		found = c.removeSub(k)
		last = found && len(c.subs) == 0
	}
	if len(c.subs) == 0 && len(c.children) == 0 && len(c.shared) == 0 {
		n.setChild(level, nil)
	}
	return found, last
}

// setChild sets (c nil: deletes) the child of n at level, keeping plus
// and hash in step with children.
func (n *node[K, V]) setChild(level string, c *node[K, V]) {
	if c == nil {
		delete(n.children, level)
	} else {
		n.children[level] = c
	}
	switch level {
	case "+":
		n.plus = c
	case "#":
		n.hash = c
	}
}

// Empty reports whether the trie holds no subscription and no group.
func (t *Trie[K, V]) Empty() bool {
	r := t.root
	return len(r.children) == 0 && r.plus == nil && r.hash == nil && len(r.subs) == 0 && len(r.shared) == 0
}

// Matches appends to dst every subscription matching topic. A filter
// starting with a wildcard does not match a topic starting with '$'
// [MQTT-4.7.2-1].
func (t *Trie[K, V]) Matches(dst []Match[K, V], topic string) []Match[K, V] {
	dst, _ = t.Collect(dst, topic)
	return dst
}

// Collect is Matches, also returning how many filters (trie nodes)
// matched. From one node, the matches are of distinct subscribers, then
// its shared groups; from several, a subscriber may appear more than
// once.
func (t *Trie[K, V]) Collect(dst []Match[K, V], topic string) ([]Match[K, V], int) {
	c := matchSet[K, V]{dst: dst}
	c.node(t.root, topic, topic != "" && topic[0] == '$', true)
	return c.dst, c.nodes
}

// matchSet gathers the matches of one topic.
type matchSet[K comparable, V any] struct {
	dst   []Match[K, V]
	nodes int // nodes that added matches
}

func (c *matchSet[K, V]) node(n *node[K, V], topic string, dollar, first bool) {
	level, rest, more := Cut(topic)
	if !(first && dollar) {
		if h := n.hash; h != nil {
			c.add(h)
		}
	}
	if l := n.children[level]; l != nil {
		if more {
			c.node(l, rest, dollar, false)
		} else {
			c.add(l)
			// "a/#" matches "a" too.
			if h := l.hash; h != nil {
				c.add(h)
			}
		}
	}
	if !(first && dollar) {
		if p := n.plus; p != nil {
			if more {
				c.node(p, rest, dollar, false)
			} else {
				c.add(p)
				if h := p.hash; h != nil {
					c.add(h)
				}
			}
		}
	}
}

// add appends the subscriptions of n, then its shared groups.
func (c *matchSet[K, V]) add(n *node[K, V]) {
	if len(n.subs) == 0 && len(n.shared) == 0 {
		return
	}
	c.nodes++
	for _, e := range n.subs {
		c.dst = append(c.dst, Match[K, V]{Key: e.Key, Sub: e.Sub})
	}
	for _, g := range n.shared {
		c.dst = append(c.dst, Match[K, V]{Group: g})
	}
}

// Cut splits a topic or filter at its first level: the level, the rest,
// and whether there is a rest.
func Cut(s string) (level, rest string, more bool) {
	if i := strings.IndexByte(s, '/'); i >= 0 {
		return s[:i], s[i+1:], true
	}
	return s, "", false
}
