package gateway

// Retained quotas (issue 18): how many retained topics one client id's
// messages may hold (retained.max_per_client), and the longest retained
// topic, which the store must be able to hold as a key
// (store.MaxRetainedTopic, in every durability mode so that the rule does
// not change with it). A PUBLISH over either is refused before it is
// routed or reaches the store (channel.admitRetained): one client's write
// can no longer fail the store commit that other clients' writes share.
// The retained store enforces both again for what reaches it without a
// PUBLISH (wills, restore).

import (
	"edgemq/gateway/store"
	"edgemq/mqtt"
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
func (o *retainedOwners) add(m *message) {
	if o.max == 0 {
		return
	}
	if o.count == nil {
		o.count = make(map[string]int)
	}
	o.count[m.from]++
}

// remove uncounts m's topic.
func (o *retainedOwners) remove(m *message) {
	if o.max == 0 {
		return
	}
	if o.count[m.from]--; o.count[m.from] <= 0 {
		delete(o.count, m.from)
	}
}

// retainedRefusal returns why the retained store refuses m as a new
// topic (found: whether the topic holds a message), or -1. r.mu held.
func (r *retainedStore) retainedRefusal(m *message, found bool) quotaKind {
	if len(m.pub.Topic) > store.MaxRetainedTopic {
		return quotaRetainedTopic
	}
	if !found && r.owners.full(m.from) {
		return quotaRetainedPerClient
	}
	return -1
}

// admit reports why a retained PUBLISH of topic by the client id from
// would be refused, or -1 when it would not.
func (r *retainedStore) admit(topic, from string) quotaKind {
	if len(topic) > store.MaxRetainedTopic {
		return quotaRetainedTopic
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.owners.max == 0 || !r.owners.full(from) || r.lookupLocked(topic) != nil {
		return -1
	}
	return quotaRetainedPerClient
}

// admitRetained refuses a retained PUBLISH that would exceed a retained
// quota: 0x97 Quota exceeded in PUBACK or PUBREC to an MQTT 5 client
// (3.4.2.1: "an implementation or administrative imposed limit has been
// exceeded"; 3.x clients get the normal acknowledgement of a dropped
// message [MQTT-3.3.5-2]; QoS 0 is dropped). The message is neither
// stored nor delivered. It reports whether p may go on.
func (ch *channel) admitRetained(p *mqtt.Publish) bool {
	if !p.Retain || len(p.Payload) == 0 {
		return true // deleting a retained message always works
	}
	k := ch.env.retained.admit(p.Topic, ch.neg.ClientID)
	if k < 0 {
		return true
	}
	ch.env.quota.refuse(k)
	ch.refusePublish(p, mqtt.QuotaExceeded, dropRetainedFull)
	return false
}
