package gateway

import (
	"strings"
	"sync"
	"time"

	"edgemq/mqtt"
)

// router matches topics to subscriptions with a topic trie and keeps the
// retained messages. It never calls out while holding its locks.
type router struct {
	mu   sync.RWMutex
	root *trieNode

	retainMu sync.RWMutex
	retained map[string]*message
}

type trieNode struct {
	children map[string]*trieNode
	subs     map[*session]*subscription
}

func newRouter() *router {
	return &router{root: &trieNode{}, retained: make(map[string]*message)}
}

// match is one session's subscription matching a topic.
type match struct {
	s   *session
	sub *subscription
}

// subscribe adds or replaces the subscription of s to sub.filter. It
// reports whether one existed.
func (r *router) subscribe(s *session, sub *subscription) (existed bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.root
	for level := range strings.SplitSeq(sub.filter, "/") {
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
	if n.subs == nil {
		n.subs = make(map[*session]*subscription)
	}
	_, existed = n.subs[s]
	n.subs[s] = sub
	return existed
}

// unsubscribe removes the subscription of s to filter, pruning empty
// nodes. It reports whether one existed.
func (r *router) unsubscribe(s *session, filter string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.remove(r.root, filter, s)
}

func (r *router) remove(n *trieNode, filter string, s *session) bool {
	level, rest, more := cut(filter)
	c, ok := n.children[level]
	if !ok {
		return false
	}
	var found bool
	if more {
		found = r.remove(c, rest, s)
	} else if _, found = c.subs[s]; found {
		delete(c.subs, s)
	}
	if len(c.subs) == 0 && len(c.children) == 0 {
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
		dst = append(dst, match{s, sub})
	}
	return dst
}

func cut(s string) (level, rest string, more bool) {
	if i := strings.IndexByte(s, '/'); i >= 0 {
		return s[:i], s[i+1:], true
	}
	return s, "", false
}

// retain stores m as the retained message of its topic, or deletes it
// when the payload is empty [MQTT-3.3.1-6, MQTT-3.3.1-7].
func (r *router) retain(m *message) {
	r.retainMu.Lock()
	defer r.retainMu.Unlock()
	if len(m.pub.Payload) == 0 {
		delete(r.retained, m.pub.Topic)
		return
	}
	r.retained[m.pub.Topic] = m
}

// retainedFor returns the retained messages matching filter that have not
// expired.
func (r *router) retainedFor(filter string, now time.Time) []*message {
	r.retainMu.RLock()
	defer r.retainMu.RUnlock()
	var out []*message
	for topic, m := range r.retained {
		if mqtt.Match(filter, topic) && !m.expired(now) {
			out = append(out, m)
		}
	}
	return out
}
