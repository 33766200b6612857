package backend

import (
	"sync"
	"sync/atomic"
	"time"
)

// interestMemo remembers, for a while, the subjects the node's NATS
// server said had a subscriber (publisher.reachesOthers). Asking the
// server takes its account's lock, which the server also takes
// exclusively for its own bookkeeping (the responses of the JetStream
// API): on a loaded machine every publisher with no local subscriber
// queued there behind a descheduled holder (12% of node 1's goroutine
// blocking at 5,000 msg/s). Only a subscriber's presence is remembered:
// one that left up to ttl ago may still count, so that a v5 publisher
// gets 0x00 Success instead of 0x10 No matching subscribers, which the
// server MAY send [MQTT-3.4.2.1, reason codes]; a subscriber's arrival is
// seen at once. Safe for concurrent use; at most max subjects, forgotten
// all at once beyond.
type interestMemo struct {
	ttl time.Duration
	max int32
	// until holds, by subject, the unix nanoseconds until which it is
	// known to have a subscriber.
	until sync.Map
	size  atomic.Int32
}

// interestMemoTTL and interestMemoMax bound what the publisher's memo
// remembers.
const (
	interestMemoTTL = time.Second
	interestMemoMax = 10000
)

// has reports whether subject has a subscriber: remembered, or asked of
// ask (then remembered when it has one).
func (m *interestMemo) has(subject string, now time.Time, ask func(string) int) bool {
	if v, ok := m.until.Load(subject); ok && now.UnixNano() < v.(int64) {
		return true
	}
	if ask(subject) == 0 {
		return false
	}
	if _, loaded := m.until.Swap(subject, now.Add(m.ttl).UnixNano()); !loaded && m.size.Add(1) > m.max {
		m.until.Clear()
		m.size.Store(0)
	}
	return true
}
