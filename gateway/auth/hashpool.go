package auth

// Password hashes (argon2id, bcrypt) are the one step of authentication
// whose memory an attacker chooses by sending wrong passwords: argon2id
// allocates its m parameter (19 MiB for edgemq passwd entries) for every
// verification. They run through a hashPool: at most workers at once, and
// no more at once than their memory allows within the budget
// (auth.hash_memory). A verification waiting for its turn holds no hash
// memory, only its connection's goroutine, whose number the
// authentication caps bound (Gate). The wait ends with the connection's
// CONNECT deadline.
//
// The turns go round the sources (the remote addresses, WithHashSource):
// each source's verifications in their order, one source after another.
// So a guesser's queue, however long the caps let it grow, delays a
// client from another address by one hash of each waiting source, not by
// the whole queue.

import (
	"context"
	"runtime"
	"slices"
	"sync/atomic"

	"edgemq/configs"
	"edgemq/gateway/internal/lockorder"
	"edgemq/mqtt"
)

// DefaultHashMemory is the hash memory budget of auth.hash_memory 0.
const DefaultHashMemory = 64 << 20

// HashPool bounds the expensive password hashes computed at once and
// shares the turns fairly between their sources. Safe for concurrent
// use.
type HashPool struct {
	budget  int64
	workers int64

	mu lockorder.Mutex[hashPoolMu] // guards what follows; nothing is taken under it
	// used and busy are the memory and workers the running hashes hold.
	used, busy int64
	// queues holds each source's waiters, in order; ring the sources with
	// waiters, in the order their turns come, from next.
	queues map[string][]*hashWaiter
	ring   []string
	next   int

	waiting, running atomic.Int64 // gauges
	timedOut         atomic.Int64 // waits ended by the connection's context
	done             atomic.Int64 // hashes computed
}

// hashWaiter is one verification waiting for its turn: ready is closed
// when it is given one (granted, under HashPool.mu).
type hashWaiter struct {
	mem     int64
	ready   chan struct{}
	granted bool
}

// NewHashPool returns the pool of auth.hash_memory (0: DefaultHashMemory)
// and auth.hash_workers (0: GOMAXPROCS).
func NewHashPool(cfg configs.Auth) *HashPool {
	budget := cfg.HashMemory
	if budget <= 0 {
		budget = DefaultHashMemory
	}
	workers := cfg.HashWorkers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	return &HashPool{budget: budget, workers: int64(workers), queues: make(map[string][]*hashWaiter)}
}

// hashSourceKey is the context key of WithHashSource.
type hashSourceKey struct{}

// WithHashSource returns ctx naming source (the client's remote address)
// as the source of the hashes run with it: HashPool shares its turns
// between sources. Hashes run with no source share one.
func WithHashSource(ctx context.Context, source string) context.Context {
	return context.WithValue(ctx, hashSourceKey{}, source)
}

// Run calls hash, which takes about mem bytes while it runs, once the
// pool has room for it and its source's turn came (WithHashSource), on
// the calling goroutine. It returns an error carrying 0x89 Server busy
// without calling hash when ctx ends first. One source's hashes run in
// the order Run was called.
func (p *HashPool) Run(ctx context.Context, mem int64, hash func()) error {
	mem = min(max(mem, 1), p.budget) // one larger than the budget runs alone
	source, _ := ctx.Value(hashSourceKey{}).(string)
	w := &hashWaiter{mem: mem, ready: make(chan struct{})}
	p.mu.Lock()
	p.enqueueLocked(source, w)
	// Counted once queued, under the lock that queues it: a Waiting of n
	// means n verifications hold their places in the turns.
	p.waiting.Add(1)
	p.dispatchLocked()
	p.mu.Unlock()
	select {
	case <-w.ready:
	case <-ctx.Done():
		p.mu.Lock()
		granted := w.granted
		if !granted {
			p.dropLocked(source, w)
		}
		p.mu.Unlock()
		if !granted {
			p.waiting.Add(-1)
			p.timedOut.Add(1)
			return mqtt.Errorf(mqtt.ServerBusy, "", "waiting for a password hash worker: %v", ctx.Err())
		}
		// Its turn came as the deadline passed: it runs.
	}
	p.waiting.Add(-1)
	p.running.Add(1)
	defer func() {
		p.running.Add(-1)
		p.done.Add(1)
		p.mu.Lock()
		p.used -= mem
		p.busy--
		p.dispatchLocked()
		p.mu.Unlock()
	}()
	hash()
	return nil
}

// enqueueLocked queues w behind source's waiters; a source with none
// takes its turn after every source waiting. p.mu held.
func (p *HashPool) enqueueLocked(source string, w *hashWaiter) {
	q, ok := p.queues[source]
	if !ok {
		// Last in the round: just before the source whose turn is next.
		p.ring = slices.Insert(p.ring, p.next, source)
		p.next++
	}
	p.queues[source] = append(q, w)
}

// dispatchLocked starts the waiters whose turn it is while the pool has
// room for them: the first waiter of each source in turn. A waiter that
// does not fit stops the round until hashes end, so that a larger one is
// not overtaken forever. p.mu held.
func (p *HashPool) dispatchLocked() {
	for len(p.ring) > 0 {
		if p.next >= len(p.ring) {
			p.next = 0
		}
		source := p.ring[p.next]
		q := p.queues[source]
		w := q[0]
		if p.busy >= p.workers || p.used+w.mem > p.budget {
			return
		}
		p.used += w.mem
		p.busy++
		w.granted = true
		close(w.ready)
		p.removeHeadLocked(source, q)
	}
}

// removeHeadLocked drops the first waiter of source, whose queue is q,
// and moves the turn on to the next source. p.mu held.
func (p *HashPool) removeHeadLocked(source string, q []*hashWaiter) {
	q[0] = nil
	if len(q) > 1 {
		p.queues[source] = q[1:]
		p.next++
		return
	}
	delete(p.queues, source)
	p.ring = slices.Delete(p.ring, p.next, p.next+1) // the next source moves into its place
}

// dropLocked removes w, whose wait ended before its turn, from source's
// queue. p.mu held.
func (p *HashPool) dropLocked(source string, w *hashWaiter) {
	q := p.queues[source]
	i := slices.Index(q, w)
	if i < 0 {
		return
	}
	if len(q) > 1 {
		p.queues[source] = slices.Delete(q, i, i+1)
		return
	}
	delete(p.queues, source)
	r := slices.Index(p.ring, source)
	p.ring = slices.Delete(p.ring, r, r+1)
	if r < p.next {
		p.next--
	}
	// The source whose turn it was may have been the one removed: the
	// next in the ring takes it, and may fit where w did not.
	p.dispatchLocked()
}

// Waiting returns the hashes waiting for the pool.
func (p *HashPool) Waiting() int64 { return p.waiting.Load() }

// Running returns the hashes being computed.
func (p *HashPool) Running() int64 { return p.running.Load() }

// TimedOut returns the waits ended by their context.
func (p *HashPool) TimedOut() int64 { return p.timedOut.Load() }

// Done returns the hashes computed.
func (p *HashPool) Done() int64 { return p.done.Load() }
