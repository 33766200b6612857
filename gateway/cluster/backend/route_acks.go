package backend

import (
	"slices"
	"sync/atomic"
	"time"

	"edgemq/gateway/internal/lockorder"
)

// The acknowledgements of the messages stream: a QoS 1 or 2 message is
// acknowledged to its publisher only once the stream stored it (a
// majority of its replicas has it). Each stream publish gets a number;
// a waiter (Publisher.AfterCommit) takes the last number given out and
// completes once every publish up to it got the stream's answer, with
// an error if one of them failed.
//
// Publishes of all connections share the numbering, as the store's
// commits do: which of them was the caller's is unknown, so a waiter
// fails when a publish failed among those it waited for (above the
// watermark when it started waiting) or among the last failWindow
// before its number that were sent within ackTimeout of the last publish
// (its own publish, numbered and sent a moment before it asked, may have
// failed and been passed by the watermark already). A failure thus fails
// its own waiter for sure, and a few others at most, which only makes
// their publishers send again (and the stream's Msg-Id stores a
// retransmission once); a failure long past (a publish during a
// partition) fails no waiter that did not wait for it.

// failWindow is how many publishes before a waiter's number a failure
// fails it.
const failWindow = 1024

// ackTimeout is how long the stream has to answer a publish.
const ackTimeout = 5 * time.Second

// acks tracks the stream publishes awaiting their acknowledgement.
type acks struct {
	mu lockorder.Mutex[acksMu]
	// next is the last number given out; every publish up to done got its
	// answer; pending holds the others, with when each was sent.
	next, done uint64
	pending    map[uint64]time.Time
	// lastSent is when publish next was sent.
	lastSent time.Time
	// failed lists the failed publishes that a waiter may still need,
	// by number.
	failed []failedPub
	// waiters, in the order they came, so by number.
	waiters []ackWaiter
	// failures counts the failed publishes (Counters.StreamFailed).
	failures *atomic.Int64
}

type ackWaiter struct {
	// from, upto: fails on a failure in (from, upto] that was awaited
	// (above awaited) or sent after recent.
	from, awaited, upto uint64
	recent              time.Time
	done                func(error)
}

// failedPub is a publish the stream did not store, and when it was sent.
type failedPub struct {
	n    uint64
	sent time.Time
}

func newAcks(failures *atomic.Int64) *acks {
	return &acks{pending: map[uint64]time.Time{}, failures: failures}
}

// add numbers a publish sent at now.
func (a *acks) add(now time.Time) uint64 {
	a.mu.Lock()
	a.next++
	n := a.next
	a.pending[n] = now
	a.lastSent = now
	a.mu.Unlock()
	return n
}

// wait calls done once every publish numbered so far got its answer: nil,
// or errFailed. At once, on the caller's goroutine, when none is pending;
// otherwise on the goroutine of the answer that completes it. done must
// not block.
func (a *acks) wait(done func(error)) {
	a.mu.Lock()
	upto := a.next
	w := ackWaiter{from: min(a.done, upto-min(upto, failWindow)), awaited: a.done, upto: upto,
		recent: a.lastSent.Add(-ackTimeout), done: done}
	if a.done < upto {
		a.waiters = append(a.waiters, w)
		a.mu.Unlock()
		return
	}
	err := a.errLocked(w)
	a.mu.Unlock()
	done(err)
}

// complete records the answer to publish n: err nil when the stream
// stored it. An answer to a publish that timed out already changes
// nothing.
func (a *acks) complete(n uint64, err error) {
	a.mu.Lock()
	sent, ok := a.pending[n]
	if !ok {
		a.mu.Unlock()
		return
	}
	delete(a.pending, n)
	if err != nil {
		a.failLocked(n, sent)
	}
	ready := a.advanceLocked()
	a.mu.Unlock()
	for _, r := range ready {
		r.fn(r.err)
	}
}

// expire fails the publishes sent before deadline.
func (a *acks) expire(deadline time.Time) {
	a.mu.Lock()
	expired := false
	for n, sent := range a.pending {
		if sent.Before(deadline) {
			delete(a.pending, n)
			a.failLocked(n, sent)
			expired = true
		}
	}
	var ready []readyWaiter
	if expired {
		ready = a.advanceLocked()
	}
	a.mu.Unlock()
	for _, r := range ready {
		r.fn(r.err)
	}
}

// failLocked records the failure of publish n, sent at sent.
func (a *acks) failLocked(n uint64, sent time.Time) {
	i, _ := slices.BinarySearchFunc(a.failed, n, compareFailed)
	a.failed = slices.Insert(a.failed, i, failedPub{n: n, sent: sent})
	a.failures.Add(1)
}

type readyWaiter struct {
	fn  func(error)
	err error
}

// advanceLocked moves done past the answered publishes and returns the
// waiters that completes, with their results; it forgets failures no
// waiter can need any more.
func (a *acks) advanceLocked() []readyWaiter {
	for a.done < a.next {
		if _, ok := a.pending[a.done+1]; ok {
			break
		}
		a.done++
	}
	var ready []readyWaiter
	i := 0
	for ; i < len(a.waiters) && a.waiters[i].upto <= a.done; i++ {
		w := a.waiters[i]
		ready = append(ready, readyWaiter{w.done, a.errLocked(w)})
		a.waiters[i] = ackWaiter{}
	}
	a.waiters = a.waiters[i:]
	// A future waiter starts from done - failWindow at the lowest; a
	// present one from its own from.
	keep := a.done - min(a.done, failWindow)
	if len(a.waiters) > 0 {
		keep = min(keep, a.waiters[0].from)
	}
	j, _ := slices.BinarySearchFunc(a.failed, keep+1, compareFailed)
	a.failed = a.failed[j:]
	return ready
}

func compareFailed(f failedPub, n uint64) int {
	switch {
	case f.n < n:
		return -1
	case f.n > n:
		return 1
	}
	return 0
}

// errLocked returns the result of w, whose publishes were all answered:
// errFailed for a failure it waited for, or for a recent one of the
// window before (its own, maybe).
func (a *acks) errLocked(w ackWaiter) error {
	i, _ := slices.BinarySearchFunc(a.failed, w.from+1, compareFailed)
	for _, f := range a.failed[i:] {
		if f.n > w.upto {
			break
		}
		if f.n > w.awaited || !f.sent.Before(w.recent) {
			return errFailed
		}
	}
	return nil
}

// idle reports whether no publish awaits its answer.
func (a *acks) idle() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.pending) == 0
}
