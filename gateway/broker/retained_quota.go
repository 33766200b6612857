package broker

// Retained quotas (issue 18): how many retained topics one client id's
// messages may hold (retained.max_per_client), the store's bounds
// (retained.max_messages, max_bytes), and the longest retained topic,
// which the store must be able to hold as a key (store.MaxRetainedTopic,
// in every durability mode so that the rule does not change with it). A
// PUBLISH over any is refused before it is routed or reaches the store
// (the channel's admitRetained, through Broker.AdmitRetained): one
// client's write can no longer fail the
// store commit that other clients' writes share, and a v5 publisher
// learns that its message was not retained. A CONNECT whose will would be
// retained on a topic over the key limit is refused (admitWill). The
// retained store enforces all again for what reaches it without a
// PUBLISH (wills, restore).

import (
	"edgemq/gateway/store"
)

// retainedOwners counts the retained topics by the client id that
// published their message. Guarded by retainedStore.mu.
type retainedOwners struct {
	max   int // 0: no bound
	count map[string]int
}

// limitPerClient sets retained.max_per_client; before any message is
// stored.
func (r *retainedStore) limitPerClient(n int) {
	r.mu.Lock()
	r.owners.max = n
	r.mu.Unlock()
}

// full reports whether from may not make a new retained topic.
func (o *retainedOwners) full(from string) bool {
	return o.max > 0 && o.count[from] >= o.max
}

// add counts m's topic for its publisher (only with a bound: the count
// is not kept otherwise, and the bound is set before any message).
func (o *retainedOwners) add(m *Message) {
	if o.max == 0 {
		return
	}
	if o.count == nil {
		o.count = make(map[string]int)
	}
	o.count[m.from]++
}

// remove uncounts m's topic.
func (o *retainedOwners) remove(m *Message) {
	if o.max == 0 {
		return
	}
	if o.count[m.from]--; o.count[m.from] <= 0 {
		delete(o.count, m.from)
	}
}

// retainedRefusal returns why the retained store refuses m as a new
// topic (found: whether the topic holds a message), or -1. r.mu held.
func (r *retainedStore) retainedRefusal(m *Message, found bool) QuotaKind {
	if len(m.pub.Topic) > store.MaxRetainedTopic {
		return QuotaRetainedTopic
	}
	if !found && r.owners.full(m.from) {
		return QuotaRetainedPerClient
	}
	return -1
}

// admit reports why a retained PUBLISH of topic with a payload of
// payload bytes by the client id from would be refused, or -1 when it
// would not: the topic length, then for a new topic the per-client quota
// and retained.max_messages, then retained.max_bytes (a replacement
// counts the size it adds). The store checks the bounds again when it
// stores (store): a message that passed here while others filled the
// store meanwhile is delivered and not retained.
func (r *retainedStore) admit(topic, from string, payload int) QuotaKind {
	if len(topic) > store.MaxRetainedTopic {
		return QuotaRetainedTopic
	}
	if r.owners.max == 0 && r.maxCount == 0 && r.maxBytes == 0 {
		return -1 // set before any message (limitPerClient, newRetainedStore)
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	old := r.lookupLocked(topic)
	var oldSize int64
	if old != nil {
		oldSize = retainedSize(old)
	} else {
		if r.owners.full(from) {
			return QuotaRetainedPerClient
		}
		if r.maxCount > 0 && r.count >= r.maxCount {
			return QuotaRetainedMessages
		}
	}
	if r.maxBytes > 0 && r.bytes-oldSize+int64(len(topic)+payload) > r.maxBytes {
		return QuotaRetainedBytes
	}
	return -1
}

// AdmitRetained reports why a retained PUBLISH of topic with a payload of
// payload bytes by the client id from would be refused, or -1 (admit).
// Safe from any goroutine holding none of our locks: it takes
// retainedStore.mu shared.
func (e *Broker) AdmitRetained(topic, from string, payload int) QuotaKind {
	return e.retained.admit(topic, from, payload)
}
