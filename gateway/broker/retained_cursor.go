package broker

import (
	"slices"
	"strings"
	"time"
)

// Cursor order. A retained cursor (retained_feed.go) walks the retained
// messages matching a filter in topic order, level by level: a topic
// comes before the topics below it ("a" before "a/b"), and topics that
// differ at a level are ordered by that level's bytes ("a/b/c" before
// "a/c", "a/b" before "a-b"). It resumes after the topic it delivered
// last, so it holds one topic name between two steps, whatever the
// number of matching messages.
//
// What changes while a cursor walks: a message stored after the cursor
// started (seq above its start) was routed live to the subscription, which
// was registered by then, so the cursor skips it; a topic deleted (empty
// payload, expiry, admin API) before the cursor reaches it is not
// delivered; a topic replaced before the cursor reaches it is delivered
// once, at its newest value, live. Topics behind the cursor are not
// visited again.

// childOrder keeps a node's child names sorted for cursors. It is built
// only when a cursor first walks the node, then kept up to date cheaply:
// names added since the last sort wait in fresh, and names removed stay
// in names until the next merge. It is dropped (and rebuilt when next
// needed) when it would grow past twice the children, so churn on a node
// no cursor walks costs no memory.
type childOrder struct {
	built bool
	names []string // sorted; may hold removed names
	fresh []string // added since names was sorted
}

// add records a new child; n is the number of children now.
func (o *childOrder) add(name string, n int) {
	if !o.built {
		return
	}
	o.fresh = append(o.fresh, name)
	o.check(n)
}

// remove records that a child was removed; n is the number of children
// now.
func (o *childOrder) remove(n int) {
	if o.built {
		o.check(n)
	}
}

func (o *childOrder) check(n int) {
	if len(o.names)+len(o.fresh) > 2*n+16 {
		*o = childOrder{}
	}
}

// sorted returns n's child names in byte order. Names of removed children
// may be in it: the caller looks each one up.
func (n *retainedNode) sorted() []string {
	o := &n.order
	if !o.built {
		o.names = make([]string, 0, len(n.children))
		for name := range n.children {
			o.names = append(o.names, name)
		}
		slices.Sort(o.names)
		o.built = true
		return o.names
	}
	if len(o.fresh) == 0 {
		return o.names
	}
	slices.Sort(o.fresh)
	merged := make([]string, 0, len(n.children))
	i, j := 0, 0
	for i < len(o.names) || j < len(o.fresh) {
		var name string
		switch {
		case j == len(o.fresh) || (i < len(o.names) && o.names[i] < o.fresh[j]):
			name = o.names[i]
			i++
		case i == len(o.names) || o.fresh[j] < o.names[i]:
			name = o.fresh[j]
			j++
		default: // equal: removed and added again
			name = o.names[i]
			i++
			j++
		}
		if n.children[name] != nil && (len(merged) == 0 || merged[len(merged)-1] != name) {
			merged = append(merged, name)
		}
	}
	o.names, o.fresh = merged, nil
	return o.names
}

// maxExpiredPerScan bounds the expired messages one scan collects for
// deletion; those beyond are skipped and deleted by a later scan.
const maxExpiredPerScan = 256

// retainedScan is one step of a cursor over the retained store.
type retainedScan struct {
	upTo    uint64 // messages stored later are skipped
	now     time.Time
	fn      func(*Message) bool
	skip    func(*Message)
	expired []*Message
}

// scan calls fn, in cursor order, with the unexpired retained messages
// matching filter that come after the topic after (from the start when
// !resume) and were stored at or before sequence number upTo, until fn
// returns false; it reports whether it went to the end. The matching
// messages it passes over (stored later, or expired) go to skip, so that
// a cursor can resume after them. fn and skip run under the store's lock
// and must take no other lock. A filter starting with a
// wildcard does not match topics starting with '$' [MQTT-4.7.2-1]. Expired
// messages found on the way are deleted.
func (r *retainedStore) scan(filter, after string, resume bool, upTo uint64, now time.Time, fn func(*Message) bool, skip func(*Message)) bool {
	sc := retainedScan{upTo: upTo, now: now, fn: fn, skip: skip}
	var al []string
	if resume {
		al = strings.Split(after, "/")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	done := sc.node(&r.root, strings.Split(filter, "/"), true, al, resume)
	for _, m := range sc.expired {
		if r.persist != nil && r.lookupLocked(m.pub.Topic) == m {
			r.persist(m, true)
		}
		r.deleteLocked(m.pub.Topic, m)
	}
	return done
}

// lastSeq returns the sequence number of the last message stored.
func (r *retainedStore) lastSeq() uint64 {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.seq
}

// node walks n, whose topic matched the filter levels before fl. When con
// is set, n is on the path of the topic to resume after, whose levels
// below n are al: n itself and what sorts before al are skipped.
func (sc *retainedScan) node(n *retainedNode, fl []string, first bool, al []string, con bool) bool {
	// "a/#" matches "a" too [4.7.1.2].
	if !con && n.msg != nil && (len(fl) == 0 || (fl[0] == "#" && !first)) && !sc.visit(n) {
		return false
	}
	if len(fl) == 0 {
		return true
	}
	level, rest := fl[0], fl[1:]
	if level == "#" {
		rest = fl
	}
	if level != "#" && level != "+" {
		c := n.children[level]
		if c == nil {
			return true
		}
		switch {
		case !con:
		case len(al) == 0 || level > al[0]:
			con = false
		case level < al[0]:
			return true
		default:
			al = al[1:]
		}
		return sc.node(c, rest, false, al, con)
	}
	names := n.sorted()
	i := 0
	if con && len(al) > 0 {
		i, _ = slices.BinarySearch(names, al[0])
	}
	for ; i < len(names); i++ {
		name := names[i]
		c := n.children[name]
		if c == nil || (first && strings.HasPrefix(name, "$")) {
			continue
		}
		ccon, cal := false, al
		if con && len(al) > 0 && name == al[0] {
			ccon, cal = true, al[1:]
		}
		if !sc.node(c, rest, false, cal, ccon) {
			return false
		}
	}
	return true
}

// visit offers n's message to fn.
func (sc *retainedScan) visit(n *retainedNode) bool {
	if n.seq > sc.upTo {
		sc.skip(n.msg) // routed live to the subscription
		return true
	}
	if n.msg.Expired(sc.now) {
		if len(sc.expired) < maxExpiredPerScan {
			sc.expired = append(sc.expired, n.msg)
		}
		sc.skip(n.msg)
		return true
	}
	return sc.fn(n.msg)
}
