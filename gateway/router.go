package gateway

import (
	"strings"
	"sync"

	"edgemq/mqtt"
)

// router matches topics to subscriptions with a topic trie. It never
// calls out while holding its lock.
type router struct {
	mu   sync.RWMutex
	root *trieNode
	// sharedRandom picks shared subscription members at random instead
	// of round robin (session.shared_subscription_strategy); set before
	// use.
	sharedRandom bool
}

type trieNode struct {
	children map[string]*trieNode
	subs     map[*session]*subscription
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
			n.children[level] = c
		}
		n = c
	}
	if shared {
		return n.join(share, filter, s, sub)
	}
	if n.subs == nil {
		n.subs = make(map[*session]*subscription)
	}
	_, existed = n.subs[s]
	n.subs[s] = sub
	return existed
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
		if _, found = c.subs[s]; found {
			delete(c.subs, s)
		}
	}
	if len(c.subs) == 0 && len(c.children) == 0 && len(c.shared) == 0 {
		delete(n.children, level)
	}
	return found
}

// matches appends to dst every subscription matching topic. A filter
// starting with a wildcard does not match a topic starting with '$'
// [MQTT-4.7.2-1].
func (r *router) matches(dst []match, topic string) []match {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return matchNode(dst, r.root, topic, topic != "" && topic[0] == '$', true)
}

func matchNode(dst []match, n *trieNode, topic string, dollar, first bool) []match {
	level, rest, more := cut(topic)
	if !(first && dollar) {
		if c := n.children["#"]; c != nil {
			dst = appendSubs(dst, c)
		}
	}
	if c := n.children[level]; c != nil {
		if more {
			dst = matchNode(dst, c, rest, dollar, false)
		} else {
			dst = appendSubs(dst, c)
			// "a/#" matches "a" too.
			if h := c.children["#"]; h != nil {
				dst = appendSubs(dst, h)
			}
		}
	}
	if !(first && dollar) {
		if c := n.children["+"]; c != nil {
			if more {
				dst = matchNode(dst, c, rest, dollar, false)
			} else {
				dst = appendSubs(dst, c)
				if h := c.children["#"]; h != nil {
					dst = appendSubs(dst, h)
				}
			}
		}
	}
	return dst
}

func appendSubs(dst []match, n *trieNode) []match {
	for s, sub := range n.subs {
		dst = append(dst, match{s: s, sub: sub})
	}
	for _, g := range n.shared {
		dst = append(dst, match{group: g})
	}
	return dst
}

func cut(s string) (level, rest string, more bool) {
	if i := strings.IndexByte(s, '/'); i >= 0 {
		return s[:i], s[i+1:], true
	}
	return s, "", false
}
