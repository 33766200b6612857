package conn

import "edgemq/gateway/broker"

// Room returns what paced deliveries may still add: half the queue's
// bounds, the other half being kept for live traffic, less what the queue
// holds. Nothing once the queue is closing.
func (q *writeQueue) Room() broker.QueueRoom {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closing {
		return broker.QueueRoom{}
	}
	r := broker.QueueRoom{Items: max(q.limits.Items/2, 1) - len(q.items), Empty: q.bytes == 0}
	if q.limits.Bytes > 0 {
		r.Bytes, r.Bounded = q.limits.Bytes/2-q.bytes, true
	}
	return r
}

// SetRefill sets fn to be called, without the queue's lock, each time the
// writer takes a batch out of the queue, so that paced deliveries refill
// it. It replaces the previous one.
func (q *writeQueue) SetRefill(fn func()) {
	q.mu.Lock()
	q.refill = fn
	q.mu.Unlock()
}
