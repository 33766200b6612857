package broker

import (
	"strings"
	"time"

	"edgemq/gateway/internal/lockorder"
	"edgemq/gateway/stats"
)

// retainedStore keeps the retained message of each topic in a topic trie,
// so that a subscription finds its retained messages without looking at
// the others. It is bounded in messages and bytes (topic + payload); a new
// retained topic over a bound is not stored, and counted. Its lock is
// taken under engine.order or under session.mu (a retained cursor step,
// retained_feed.go), and the persist callback queues to the store under
// it (LOCKS.md).
type retainedStore struct {
	mu       lockorder.RWMutex[retainedMu]
	root     retainedNode
	count    int
	bytes    int64
	maxCount int   // 0: no bound
	maxBytes int64 // 0: no bound
	stats    *stats.Counters
	// persist, when set, is called with each change, under mu (persist.go).
	persist func(m *Message, deleted bool)
	// owners counts topics per publisher (retained_quota.go).
	owners retainedOwners
	// seq numbers the messages stored, in store order (retained_cursor.go).
	seq uint64
}

type retainedNode struct {
	children map[string]*retainedNode
	msg      *Message
	// seq is msg's store sequence number; order keeps the children's
	// names sorted for cursors (retained_cursor.go).
	seq   uint64
	order childOrder
}

func newRetainedStore(maxCount int, maxBytes int64, st *stats.Counters) *retainedStore {
	return &retainedStore{maxCount: maxCount, maxBytes: maxBytes, stats: st}
}

func retainedSize(m *Message) int64 { return int64(len(m.pub.Topic) + len(m.pub.Payload)) }

// store makes m the retained message of its topic, replacing the previous
// one [MQTT-3.3.1-5], or deletes the topic's retained message when the
// payload is empty [MQTT-3.3.1-6, MQTT-3.3.1-7]. It reports false when m
// was refused by the bounds.
func (r *retainedStore) store(m *Message) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(m.pub.Payload) == 0 {
		r.deleteLocked(m.pub.Topic, nil)
		if r.persist != nil {
			r.persist(m, true)
		}
		return true
	}
	n := &r.root
	for level := range strings.SplitSeq(m.pub.Topic, "/") {
		c := n.children[level]
		if c == nil {
			if n.children == nil {
				n.children = make(map[string]*retainedNode)
			}
			c = &retainedNode{}
			n.children[level] = c
			n.order.add(level, len(n.children))
		}
		n = c
	}
	if r.retainedRefusal(m, n.msg != nil) >= 0 { // retained_quota.go
		r.stats.Drop(stats.DropRetainedFull)
		if n.msg == nil {
			r.pruneLocked(m.pub.Topic)
		}
		return false
	}
	size := retainedSize(m)
	var oldSize int64
	if n.msg != nil {
		oldSize = retainedSize(n.msg)
	} else if r.maxCount > 0 && r.count >= r.maxCount {
		r.stats.Drop(stats.DropRetainedFull)
		r.pruneLocked(m.pub.Topic)
		return false
	}
	if r.maxBytes > 0 && r.bytes-oldSize+size > r.maxBytes {
		r.stats.Drop(stats.DropRetainedFull)
		if n.msg == nil {
			r.pruneLocked(m.pub.Topic)
		}
		return false
	}
	if n.msg == nil {
		r.count++
	} else {
		r.owners.remove(n.msg)
	}
	r.owners.add(m)
	r.bytes += size - oldSize
	n.msg = m
	r.seq++
	n.seq = r.seq
	if r.persist != nil {
		r.persist(m, false)
	}
	return true
}

// deleteLocked removes the retained message of topic; when only is set,
// only if it is still that message.
func (r *retainedStore) deleteLocked(topic string, only *Message) {
	n := &r.root
	for level := range strings.SplitSeq(topic, "/") {
		if n = n.children[level]; n == nil {
			return
		}
	}
	if n.msg == nil || (only != nil && n.msg != only) {
		return
	}
	r.count--
	r.bytes -= retainedSize(n.msg)
	r.owners.remove(n.msg)
	n.msg = nil
	r.pruneLocked(topic)
}

// pruneLocked removes the empty nodes on topic's path.
func (r *retainedStore) pruneLocked(topic string) {
	var prune func(n *retainedNode, rest string) bool
	prune = func(n *retainedNode, rest string) bool {
		level, rest, more := cut(rest)
		c := n.children[level]
		if c == nil {
			return false
		}
		if more && !prune(c, rest) {
			return false
		}
		if c.msg == nil && len(c.children) == 0 {
			delete(n.children, level)
			n.order.remove(len(n.children))
			return true
		}
		return false
	}
	prune(&r.root, topic)
}

// match returns the unexpired retained messages matching filter. A filter
// starting with a wildcard does not match topics starting with '$'
// [MQTT-4.7.2-1]. Expired messages found on the way are deleted.
func (r *retainedStore) match(filter string, now time.Time) []*Message {
	var out, expired []*Message
	r.mu.RLock()
	collect := func(m *Message) {
		if m.Expired(now) {
			expired = append(expired, m)
		} else {
			out = append(out, m)
		}
	}
	matchRetained(&r.root, filter, true, collect)
	r.mu.RUnlock()
	if len(expired) > 0 {
		r.mu.Lock()
		for _, m := range expired {
			if r.persist != nil && r.lookupLocked(m.pub.Topic) == m {
				r.persist(m, true)
			}
			r.deleteLocked(m.pub.Topic, m)
		}
		r.mu.Unlock()
	}
	return out
}

func matchRetained(n *retainedNode, filter string, first bool, fn func(*Message)) {
	level, rest, more := cut(filter)
	switch level {
	case "#":
		// "a/#" matches "a" too [4.7.1.2].
		if n.msg != nil && !first {
			fn(n.msg)
		}
		for name, c := range n.children {
			if first && strings.HasPrefix(name, "$") {
				continue
			}
			subtree(c, fn)
		}
	case "+":
		for name, c := range n.children {
			if first && strings.HasPrefix(name, "$") {
				continue
			}
			matchChild(c, rest, more, fn)
		}
	default:
		if c := n.children[level]; c != nil {
			matchChild(c, rest, more, fn)
		}
	}
}

func matchChild(c *retainedNode, rest string, more bool, fn func(*Message)) {
	if more {
		matchRetained(c, rest, false, fn)
	} else if c.msg != nil {
		fn(c.msg)
	}
}

func subtree(n *retainedNode, fn func(*Message)) {
	if n.msg != nil {
		fn(n.msg)
	}
	for _, c := range n.children {
		subtree(c, fn)
	}
}

// size returns the number of retained messages and their bytes.
func (r *retainedStore) size() (int, int64) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.count, r.bytes
}

// lookupLocked returns topic's retained message, or nil.
func (r *retainedStore) lookupLocked(topic string) *Message {
	n := &r.root
	for level := range strings.SplitSeq(topic, "/") {
		if n = n.children[level]; n == nil {
			return nil
		}
	}
	return n.msg
}

// remove deletes topic's retained message, reporting whether there was
// one. Safe from any goroutine: it takes retainedStore.mu, and the
// persist callback queues the deletion under it (bolt.DB.mu); the caller
// holds none of our locks (the admin API).
func (r *retainedStore) remove(topic string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.lookupLocked(topic)
	if m == nil {
		return false
	}
	if r.persist != nil {
		r.persist(m, true)
	}
	r.deleteLocked(topic, m)
	return true
}
