package gateway

// queueRoom is what paced deliveries (retained_feed.go) may still add to
// a write queue.
type queueRoom struct {
	items int
	// bytes is the payload bytes left when bounded is set.
	bytes   int64
	bounded bool
	// empty is set when the queue holds no payload: then one delivery of
	// any size may go, so that a message over the bytes left is not held
	// forever.
	empty bool
}

// room returns what paced deliveries may still add: half the queue's
// bounds, the other half being kept for live traffic, less what the queue
// holds. Nothing once the queue is closing.
func (q *writeQueue) room() queueRoom {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closing {
		return queueRoom{}
	}
	r := queueRoom{items: max(q.limits.items/2, 1) - len(q.items), empty: q.bytes == 0}
	if q.limits.bytes > 0 {
		r.bytes, r.bounded = q.limits.bytes/2-q.bytes, true
	}
	return r
}

// setRefill sets fn to be called, without the queue's lock, each time the
// writer takes a batch out of the queue, so that paced deliveries refill
// it. It replaces the previous one.
func (q *writeQueue) setRefill(fn func()) {
	q.mu.Lock()
	q.refill = fn
	q.mu.Unlock()
}
