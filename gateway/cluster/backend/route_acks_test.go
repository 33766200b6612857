package backend

import (
	"errors"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// ackRecorder records the completions of acks' waiters, in the order
// they ran.
type ackRecorder struct {
	mu    sync.Mutex
	order []string
	errs  map[string]error
}

func newAckRecorder() *ackRecorder { return &ackRecorder{errs: map[string]error{}} }

// wait registers waiter name of client on a.
func (r *ackRecorder) wait(a *acks, client, name string) {
	a.wait(client, func(err error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.order = append(r.order, name)
		r.errs[name] = err
	})
}

// done reports whether waiter name completed, and with what.
func (r *ackRecorder) done(name string) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	err, ok := r.errs[name]
	return ok, err
}

func (r *ackRecorder) completed() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.order)
}

// TestAcks: a waiter of a client completes once the client's stream
// publishes since its previous waiter were answered and its previous
// waiters completed, in the order they came [MQTT-4.6.0-2,
// MQTT-4.6.0-3]; with an error exactly when one of those publishes
// failed (or could not be sent); never held back by another client's
// publish; unanswered publishes fail at their deadline.
func TestAcks(t *testing.T) {
	now := time.Now()
	boom := errors.New("boom")
	type step func(t *testing.T, a *acks, r *ackRecorder, n map[string]uint64)
	pub := func(client, name string) step {
		return func(_ *testing.T, a *acks, _ *ackRecorder, n map[string]uint64) { n[name] = a.add(client, now) }
	}
	wait := func(client, name string) step {
		return func(_ *testing.T, a *acks, r *ackRecorder, _ map[string]uint64) { r.wait(a, client, name) }
	}
	answer := func(name string, err error) step {
		return func(_ *testing.T, a *acks, _ *ackRecorder, n map[string]uint64) { a.complete(n[name], err) }
	}
	// want checks the completions so far, in order, and which failed.
	want := func(order []string, failed ...string) step {
		return func(t *testing.T, _ *acks, r *ackRecorder, _ map[string]uint64) {
			t.Helper()
			if got := r.completed(); !slices.Equal(got, order) {
				t.Fatalf("completed %v, want %v", got, order)
			}
			for _, name := range order {
				_, err := r.done(name)
				if wantErr := slices.Contains(failed, name); wantErr != errors.Is(err, errFailed) {
					t.Fatalf("waiter %s: got %v, want failed %v", name, err, wantErr)
				}
			}
		}
	}
	for _, tc := range []struct {
		name  string
		steps []step
		// failures is how many failed publishes are counted.
		failures int64
	}{
		{"in order", []step{
			pub("A", "a1"), pub("A", "a2"), wait("A", "w"),
			answer("a2", nil), want(nil),
			answer("a1", nil), want([]string{"w"}),
			wait("A", "idle"), want([]string{"w", "idle"}),
		}, 0},
		{"failure waited for", []step{
			pub("A", "a1"), pub("A", "a2"), wait("A", "w"),
			answer("a1", boom), answer("a2", nil), want([]string{"w"}, "w"),
		}, 1},
		{"failure after: the next waiter's", []step{
			pub("A", "a1"), wait("A", "w1"), pub("A", "a2"), wait("A", "w2"),
			answer("a2", boom), want(nil),
			answer("a1", nil), want([]string{"w1", "w2"}, "w2"),
		}, 1},
		{"failed before waiting", []step{
			// The publish failed at once (RouteAt), before its
			// client asked.
			pub("A", "a1"), answer("a1", boom), wait("A", "w1"), want([]string{"w1"}, "w1"),
			// It fails no later waiter.
			pub("A", "a2"), answer("a2", nil), wait("A", "w2"), want([]string{"w1", "w2"}, "w1"),
		}, 1},
		{"not sent at all", []step{
			func(_ *testing.T, a *acks, _ *ackRecorder, _ map[string]uint64) { a.failed("A", now, boom) },
			wait("B", "b"), wait("A", "a"), want([]string{"b", "a"}, "a"),
		}, 1},
		{"no head-of-line blocking across clients", []step{
			// A's publish is unanswered; B's, sent after it, is
			// answered: B's waiter completes, A's waits.
			pub("A", "a1"), wait("A", "wa"), pub("B", "b1"), wait("B", "wb"),
			answer("b1", nil), want([]string{"wb"}),
			// A failure of A's fails no waiter of B.
			pub("B", "b2"), wait("B", "wb2"), answer("a1", boom), want([]string{"wb", "wa"}, "wa"),
			answer("b2", nil), want([]string{"wb", "wa", "wb2"}, "wa"),
		}, 1},
		{"one client's acknowledgements in order", []step{
			// A's second publish is answered first: its waiter waits
			// for the first's, then both complete, in order; a
			// waiter with no publish of its own (a SUBACK, a
			// duplicate PUBREC) waits for the earlier ones as well.
			pub("A", "a1"), wait("A", "w1"), pub("A", "a2"), wait("A", "w2"), wait("A", "w3"),
			answer("a2", nil), want(nil),
			answer("a1", nil), want([]string{"w1", "w2", "w3"}),
		}, 0},
		{"every publish", []step{
			pub("A", "a1"), pub("", "will"), wait("", "all"), pub("B", "b1"),
			answer("a1", nil), want(nil),
			answer("will", boom), want([]string{"all"}, "all"),
			answer("b1", nil), wait("B", "wb"), want([]string{"all", "wb"}, "all"),
		}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var failures atomic.Int64
			a, r, n := newAcks(&failures), newAckRecorder(), map[string]uint64{}
			for _, s := range tc.steps {
				s(t, a, r, n)
			}
			if !a.idle() || a.tracked() != 0 {
				t.Errorf("state left: idle %v, %d clients tracked", a.idle(), a.tracked())
			}
			if got := failures.Load(); got != tc.failures {
				t.Errorf("%d failures counted, want %d", got, tc.failures)
			}
		})
	}
}

// TestAcksDeadline: publishes unanswered at their deadline fail their
// own client's waiter only; a late answer changes nothing, and a failure
// no waiter asked for is forgotten once past the deadline.
func TestAcksDeadline(t *testing.T) {
	now := time.Now()
	var failures atomic.Int64
	a, r := newAcks(&failures), newAckRecorder()
	a1 := a.add("A", now)
	r.wait(a, "A", "wa")
	b1 := a.add("B", now.Add(time.Second))
	r.wait(a, "B", "wb")
	a.failed("C", now, errors.New("boom")) // C never waits
	a.expire(now.Add(time.Millisecond))
	if ok, err := r.done("wa"); !ok || !errors.Is(err, errFailed) {
		t.Fatalf("A's waiter: done %v, %v; want errFailed", ok, err)
	}
	if ok, _ := r.done("wb"); ok {
		t.Fatal("B's waiter completed while its publish is within its deadline")
	}
	a.complete(b1, nil)
	if ok, err := r.done("wb"); !ok || err != nil {
		t.Fatalf("B's waiter: done %v, %v; want nil", ok, err)
	}
	a.complete(a1, nil) // a late answer changes nothing
	if !a.idle() || a.tracked() != 0 {
		t.Fatalf("state left: idle %v, %d clients tracked", a.idle(), a.tracked())
	}
	if got := failures.Load(); got != 2 {
		t.Errorf("%d failures counted, want 2", got)
	}
}

// TestAcksOrderUnderConcurrentAnswers: answers to one client's publishes
// arriving in any order on several goroutines at once still complete
// its waiters one at a time in the order they came; another client's
// interleaved the same way too.
func TestAcksOrderUnderConcurrentAnswers(t *testing.T) {
	const per = 500
	var failures atomic.Int64
	a := newAcks(&failures)
	now := time.Now()
	type rec struct {
		mu      sync.Mutex
		got     []int
		running atomic.Bool
		overlap atomic.Bool
	}
	recs := map[string]*rec{"A": {}, "B": {}}
	var numbers []uint64
	for i := range per {
		for _, client := range []string{"A", "B"} {
			numbers = append(numbers, a.add(client, now))
			r := recs[client]
			a.wait(client, func(err error) {
				if !r.running.CompareAndSwap(false, true) {
					r.overlap.Store(true)
				}
				r.mu.Lock()
				r.got = append(r.got, i)
				r.mu.Unlock()
				r.running.Store(false)
			})
		}
	}
	rand.Shuffle(len(numbers), func(i, j int) { numbers[i], numbers[j] = numbers[j], numbers[i] })
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := w; i < len(numbers); i += 4 {
				a.complete(numbers[i], nil)
			}
		})
	}
	wg.Wait()
	for client, r := range recs {
		if len(r.got) != per || !slices.IsSorted(r.got) || r.overlap.Load() {
			t.Errorf("client %s: %d completions, in order %v, overlapping %v", client, len(r.got), slices.IsSorted(r.got), r.overlap.Load())
		}
	}
	if !a.idle() || a.tracked() != 0 {
		t.Errorf("state left: idle %v, %d clients tracked", a.idle(), a.tracked())
	}
}
