package backend

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// TestAcks: a waiter completes once every stream publish numbered before
// it was answered, with an error when one of those failed (or a recent
// one of the failWindow before its number: its own may have been passed
// already),
// and never for a failure after it; unanswered publishes fail at their
// deadline.
func TestAcks(t *testing.T) {
	now := time.Now()
	type result struct {
		done bool
		err  error
	}
	waiter := func(a *acks) *result {
		r := &result{}
		a.wait(func(err error) { r.done, r.err = true, err })
		return r
	}
	boom := errors.New("boom")
	var failures atomic.Int64
	t.Run("in order", func(t *testing.T) {
		a := newAcks(&failures)
		n1, n2 := a.add(now), a.add(now)
		w := waiter(a)
		a.complete(n2, nil)
		if w.done {
			t.Fatal("completed before publish 1 was answered")
		}
		a.complete(n1, nil)
		if !w.done || w.err != nil {
			t.Fatalf("got %+v, want done without error", w)
		}
		if w := waiter(a); !w.done || w.err != nil {
			t.Fatalf("nothing pending: got %+v, want done at once", w)
		}
	})
	t.Run("failure waited for", func(t *testing.T) {
		a := newAcks(&failures)
		n1, n2 := a.add(now), a.add(now)
		w := waiter(a)
		a.complete(n1, boom)
		a.complete(n2, nil)
		if !w.done || !errors.Is(w.err, errFailed) {
			t.Fatalf("got %+v, want errFailed", w)
		}
	})
	t.Run("failure after", func(t *testing.T) {
		a := newAcks(&failures)
		n1 := a.add(now)
		w := waiter(a)
		n2 := a.add(now)
		a.complete(n2, boom)
		a.complete(n1, nil)
		if !w.done || w.err != nil {
			t.Fatalf("got %+v, want done without error: publish 2 is not its", w)
		}
	})
	t.Run("failed before waiting", func(t *testing.T) {
		// The publish failed at once (RouteAt), before its publisher
		// asked: the watermark passed it already.
		a := newAcks(&failures)
		a.complete(a.add(now), boom)
		if w := waiter(a); !w.done || !errors.Is(w.err, errFailed) {
			t.Fatalf("got %+v, want errFailed", w)
		}
		for range failWindow {
			a.complete(a.add(now), nil)
		}
		if w := waiter(a); !w.done || w.err != nil {
			t.Fatalf("a window later: got %+v, want done without error", w)
		}
	})
	t.Run("failure long before waiting", func(t *testing.T) {
		// A publish failed during a partition; the next one, sent after
		// the heal (more than ackTimeout later) and stored, is
		// acknowledged: the old failure cannot be its own.
		a := newAcks(&failures)
		a.complete(a.add(now), boom)
		a.complete(a.add(now.Add(ackTimeout+time.Second)), nil)
		if w := waiter(a); !w.done || w.err != nil {
			t.Fatalf("got %+v, want done without error", w)
		}
		// A failure it waited for still fails it, however old.
		n := a.add(now.Add(ackTimeout + 2*time.Second))
		w := waiter(a)
		a.complete(n, boom)
		if !w.done || !errors.Is(w.err, errFailed) {
			t.Fatalf("got %+v, want errFailed", w)
		}
	})
	t.Run("deadline", func(t *testing.T) {
		a := newAcks(&failures)
		a.add(now)
		n2 := a.add(now.Add(time.Second))
		w := waiter(a)
		a.expire(now.Add(time.Millisecond))
		if w.done {
			t.Fatal("completed while publish 2 is within its deadline")
		}
		a.complete(n2, nil)
		if !w.done || !errors.Is(w.err, errFailed) {
			t.Fatalf("got %+v, want errFailed for the expired publish", w)
		}
		a.complete(1, nil) // a late answer changes nothing
		if !a.idle() {
			t.Fatal("publishes still pending")
		}
	})
	if got := failures.Load(); got != 6 {
		t.Errorf("%d failures counted, want 6", got)
	}
}
