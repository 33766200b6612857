package topictrie

import (
	"slices"
	"strings"
	"sync/atomic"
)

// Group is a shared subscription group: the subscribers to
// "$share/{name}/{filter}". Its members are a copy-on-write slice behind
// an atomic pointer: Subscribe and Unsubscribe replace it (under the
// trie's user's lock), readers load it with no lock.
type Group[K comparable, V any] struct {
	name   string // share name
	filter string // topic filter, without "$share/{name}/"
	// members, in the order they joined; never modified once stored.
	members atomic.Pointer[[]Entry[K, V]]
	// next is the round robin cursor.
	next atomic.Uint64
}

// Name returns the share name.
func (g *Group[K, V]) Name() string { return g.name }

// Filter returns the group's topic filter, without "$share/{name}/".
func (g *Group[K, V]) Filter() string { return g.filter }

// Members returns the current members, in the order they joined; the
// slice must not be modified. Safe from any goroutine.
func (g *Group[K, V]) Members() []Entry[K, V] {
	if p := g.members.Load(); p != nil {
		return *p
	}
	return nil
}

// Next advances the group's round robin cursor and returns its value
// before. Safe from any goroutine.
func (g *Group[K, V]) Next() uint64 { return g.next.Add(1) - 1 }

// join adds k to the group name of node n (filter is the node's topic
// filter), or replaces its subscription. It reports whether k was a
// member.
func (n *node[K, V]) join(name, filter string, k K, sub V) (existed bool) {
	if n.shared == nil {
		n.shared = make(map[string]*Group[K, V])
	}
	g := n.shared[name]
	if g == nil {
		g = &Group[K, V]{name: name, filter: filter}
		n.shared[name] = g
	}
	old := g.Members()
	ms := make([]Entry[K, V], len(old), len(old)+1)
	copy(ms, old)
	if i := slices.IndexFunc(ms, func(m Entry[K, V]) bool { return m.Key == k }); i >= 0 {
		ms[i].Sub = sub // [MQTT-3.8.4-3]
		existed = true
	} else {
		ms = append(ms, Entry[K, V]{Key: k, Sub: sub})
	}
	g.members.Store(&ms)
	return existed
}

// leave removes k from the group name of node n, dropping the group once
// empty. It reports whether k was a member.
func (n *node[K, V]) leave(name string, k K) bool {
	g := n.shared[name]
	if g == nil {
		return false
	}
	old := g.Members()
	i := slices.IndexFunc(old, func(m Entry[K, V]) bool { return m.Key == k })
	if i < 0 {
		return false
	}
	ms := make([]Entry[K, V], 0, len(old)-1)
	ms = append(append(ms, old[:i]...), old[i+1:]...)
	g.members.Store(&ms)
	if len(ms) == 0 {
		delete(n.shared, name)
	}
	return true
}

// Group returns the shared subscription group name on filter (without
// "$share/{name}/"), or nil when it has no member.
func (t *Trie[K, V]) Group(name, filter string) *Group[K, V] {
	n := t.root
	for level := range strings.SplitSeq(filter, "/") {
		if n = n.children[level]; n == nil {
			return nil
		}
	}
	return n.shared[name]
}
