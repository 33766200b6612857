package gateway

import (
	"strings"

	"edgemq/gateway/internal/lockorder"
	"edgemq/mqtt"
)

// router matches topics to subscriptions with a topic trie. It never
// calls out while holding its lock.
type router struct {
	mu   lockorder.RWMutex[routerMu]
	root *trieNode
	// sharedRandom picks shared subscription members at random instead
	// of round robin (session.shared_subscription_strategy); set before
	// use.
	sharedRandom bool
}

type trieNode struct {
	children map[string]*trieNode
	// plus and hash are children["+"] and children["#"], nil when
	// absent: matching looks them up at every level.
	plus, hash *trieNode
	// subs lists the node's subscriptions, one per session, so that
	// matching walks a slice rather than a map. at indexes subs by
	// session once there are more than indexFrom; below, a search is
	// cheaper than a map.
	subs []nodeSub
	at   map[*session]int
	// shared holds the shared subscription groups of this node's filter,
	// by share name (shared.go).
	shared map[string]*shareGroup
}

func newRouter() *router {
	return &router{root: &trieNode{}}
}

// match is one session's subscription matching a topic, or (group set,
// s and sub nil) a shared subscription group matching it.
type match struct {
	s     *session
	sub   *subscription
	group *shareGroup
}

// subscribe adds or replaces the subscription of s to sub.filter; a
// shared subscription ("$share/{name}/{filter}", valid) joins its group
// at the node of its filter. It reports whether one existed.
func (r *router) subscribe(s *session, sub *subscription) (existed bool) {
	filter := sub.filter
	share, f, shared, _ := mqtt.ParseShared(filter)
	if shared {
		filter = f
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.root
	for level := range strings.SplitSeq(filter, "/") {
		if n.children == nil {
			n.children = make(map[string]*trieNode)
		}
		c, ok := n.children[level]
		if !ok {
			c = &trieNode{}
			n.setChild(level, c)
		}
		n = c
	}
	if shared {
		return n.join(share, filter, s, sub)
	}
	if i := n.indexOf(s); i >= 0 {
		n.subs[i].sub = sub
		return true
	}
	n.subs = append(n.subs, nodeSub{s: s, sub: sub})
	switch {
	case n.at != nil:
		n.at[s] = len(n.subs) - 1
	case len(n.subs) > indexFrom:
		n.at = make(map[*session]int, len(n.subs))
		for i, e := range n.subs {
			n.at[e.s] = i
		}
	}
	return false
}

// indexFrom is the number of subscriptions of a node from which they are
// indexed by session.
const indexFrom = 8

// indexOf returns the index of s's subscription in n.subs, -1 if none.
func (n *trieNode) indexOf(s *session) int {
	if n.at != nil {
		if i, ok := n.at[s]; ok {
			return i
		}
		return -1
	}
	for i, e := range n.subs {
		if e.s == s {
			return i
		}
	}
	return -1
}

// nodeSub is one session's subscription at a trie node.
type nodeSub struct {
	s   *session
	sub *subscription
}

// removeSub removes the subscription of s from n, moving the last one
// into its place. It reports whether there was one.
func (n *trieNode) removeSub(s *session) bool {
	i := n.indexOf(s)
	if i < 0 {
		return false
	}
	last := len(n.subs) - 1
	if i != last {
		n.subs[i] = n.subs[last]
		if n.at != nil {
			n.at[n.subs[i].s] = i
		}
	}
	n.subs[last] = nodeSub{}
	n.subs = n.subs[:last]
	delete(n.at, s)
	if last == 0 {
		n.subs, n.at = nil, nil
	}
	return true
}

// unsubscribe removes the subscription of s to filter (for a shared
// subscription, s's membership of that group only), pruning empty nodes.
// It reports whether one existed.
func (r *router) unsubscribe(s *session, filter string) bool {
	share, f, shared, err := mqtt.ParseShared(filter)
	if err != nil {
		return false
	}
	if shared {
		filter = f
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.remove(r.root, filter, share, s)
}

// remove removes s from filter under n: its subscription, or with share
// set its membership of that group.
func (r *router) remove(n *trieNode, filter, share string, s *session) bool {
	level, rest, more := cut(filter)
	c, ok := n.children[level]
	if !ok {
		return false
	}
	var found bool
	switch {
	case more:
		found = r.remove(c, rest, share, s)
	case share != "":
		found = c.leave(share, s)
	default:
		found = c.removeSub(s)
	}
	if len(c.subs) == 0 && len(c.children) == 0 && len(c.shared) == 0 {
		n.setChild(level, nil)
	}
	return found
}

// setChild sets (c nil: deletes) the child of n at level, keeping plus
// and hash in step with children.
func (n *trieNode) setChild(level string, c *trieNode) {
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

// matches appends to dst every subscription matching topic. A filter
// starting with a wildcard does not match a topic starting with '$'
// [MQTT-4.7.2-1].
func (r *router) matches(dst []match, topic string) []match {
	dst, _ = r.collect(dst, topic)
	return dst
}

// collect is matches, also returning how many filters (trie nodes)
// matched. From one node, the matches are of distinct sessions, then its
// shared groups; from several, a session may appear more than once.
func (r *router) collect(dst []match, topic string) ([]match, int) {
	c := matchSet{dst: dst}
	r.mu.RLock()
	c.node(r.root, topic, topic != "" && topic[0] == '$', true)
	r.mu.RUnlock()
	return c.dst, c.nodes
}

// matchSet gathers the matches of one topic.
type matchSet struct {
	dst   []match
	nodes int // nodes that added matches
}

func (c *matchSet) node(n *trieNode, topic string, dollar, first bool) {
	level, rest, more := cut(topic)
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
func (c *matchSet) add(n *trieNode) {
	if len(n.subs) == 0 && len(n.shared) == 0 {
		return
	}
	c.nodes++
	for _, e := range n.subs {
		c.dst = append(c.dst, match{s: e.s, sub: e.sub})
	}
	for _, g := range n.shared {
		c.dst = append(c.dst, match{group: g})
	}
}

func cut(s string) (level, rest string, more bool) {
	if i := strings.IndexByte(s, '/'); i >= 0 {
		return s[:i], s[i+1:], true
	}
	return s, "", false
}
