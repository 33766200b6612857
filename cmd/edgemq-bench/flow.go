package main

import (
	"context"
	"sync/atomic"
	"time"
)

// clock reads monotonic time as a duration since its start. The send
// timestamps in payloads are clock readings: publishers and subscribers
// run in one process and share one clock.
type clock struct{ start time.Time }

func newClock() clock { return clock{start: time.Now()} }

func (c clock) now() time.Duration { return time.Since(c.start) }

// pacer spaces one publisher's messages evenly: message i (from 0) is
// due at start + i*interval. Each due time is computed from i, never by
// adding intervals up, so the schedule does not drift however late the
// publisher wakes; a late publisher sends what is due at once.
//
// A pacer is a value; it is safe for concurrent use.
type pacer struct {
	start    time.Duration
	interval float64 // nanoseconds between messages
}

// newPacer returns the pacer of rate messages per second from start.
func newPacer(start time.Duration, rate float64) pacer {
	return pacer{start: start, interval: float64(time.Second) / rate}
}

// at returns when message i is due.
func (p pacer) at(i int64) time.Duration {
	return p.start + time.Duration(float64(i)*p.interval)
}

// due returns how many messages are due at now: the number of i with
// at(i) <= now.
func (p pacer) due(now time.Duration) int64 {
	if now < p.start {
		return 0
	}
	n := int64(float64(now-p.start)/p.interval) + 1
	// Correct the float estimate against at, the definition.
	for p.at(n) <= now {
		n++
	}
	for n > 0 && p.at(n-1) > now {
		n--
	}
	return n
}

// window bounds what one publisher has outstanding, so that saturation
// measures the broker at a steady state instead of filling its queues:
//   - QoS 1 and 2: at most size PUBLISHes without PUBACK or PUBCOMP
//     (unacked, counted by the publisher and its reader goroutine);
//   - every QoS: at most size messages sent but not yet seen by all of
//     its subscribers. Messages carry a sequence number and MQTT keeps a
//     publisher's order on a topic, so a subscriber that saw sequence s
//     saw, or will never see, everything before it: a lost QoS 0 message
//     does not hold the window.
//
// open and giveUp are called by the publisher's goroutine only; release,
// seen[i] and kick by any goroutine.
type window struct {
	size  uint32
	acks  int64 // the QoS 1/2 bound, 0 for QoS 0
	seen  []*atomic.Uint32
	floor uint32 // publisher-owned: the highest sequence known seen by all

	unacked atomic.Int64
	waiting atomic.Bool
	wake    chan struct{}
}

// newWindow returns a window of size messages; acks bounds the
// unacknowledged QoS 1/2 messages (0 at QoS 0).
func newWindow(size int, acks int) *window {
	return &window{size: uint32(size), acks: int64(acks), wake: make(chan struct{}, 1)}
}

// watch adds a subscriber's highest seen sequence to the window.
func (w *window) watch(seen *atomic.Uint32) { w.seen = append(w.seen, seen) }

// open reports whether message next (sequence numbers start at 1) may be
// sent now.
func (w *window) open(next uint32) bool {
	if w.acks > 0 && w.unacked.Load() >= w.acks {
		return false
	}
	if next-1-w.floor < w.size {
		return true
	}
	if low := w.lowest(); low > w.floor {
		w.floor = low
	}
	return next-1-w.floor < w.size
}

// lowest returns the lowest sequence seen by the subscribers.
func (w *window) lowest() uint32 {
	low := ^uint32(0)
	for _, s := range w.seen {
		low = min(low, s.Load())
	}
	if len(w.seen) == 0 {
		return w.floor
	}
	return low
}

// giveUp counts every message up to sent as seen: the way out when the
// broker dropped the last QoS 0 messages and nothing will move the
// subscribers' sequence again.
func (w *window) giveUp(sent uint32) { w.floor = sent }

// sent records one more unacknowledged QoS 1/2 message.
func (w *window) sent() { w.unacked.Add(1) }

// release records an acknowledged message and wakes the publisher.
func (w *window) release() {
	w.unacked.Add(-1)
	w.kick()
}

// kick wakes the publisher if it waits.
func (w *window) kick() {
	if w.waiting.Load() && w.waiting.CompareAndSwap(true, false) {
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
}

// await blocks until message next may be sent, ctx is done, or timeout
// passes; it reports whether the window is open.
func (w *window) await(ctx context.Context, next uint32, timeout time.Duration) bool {
	w.waiting.Store(true)
	if w.open(next) {
		w.waiting.Store(false)
		return true
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-w.wake:
	case <-t.C:
	case <-ctx.Done():
	}
	w.waiting.Store(false)
	return w.open(next)
}
