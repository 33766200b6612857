package auth

// Password hashes (argon2id, bcrypt) are the one step of authentication
// whose memory an attacker chooses by sending wrong passwords: argon2id
// allocates its m parameter (19 MiB for edgemq passwd entries) for every
// verification. They run through a hashPool: at most workers at once, and
// no more at once than their memory allows within the budget
// (auth.hash_memory). A verification waiting for its turn holds no hash
// memory, only its connection's goroutine, whose number the
// authentication caps bound (Gate). The wait is FIFO and ends
// with the connection's CONNECT deadline.

import (
	"context"
	"runtime"
	"sync/atomic"

	"edgemq/configs"
	"edgemq/mqtt"

	"golang.org/x/sync/semaphore"
)

// DefaultHashMemory is the hash memory budget of auth.hash_memory 0.
const DefaultHashMemory = 64 << 20

// HashPool bounds the expensive password hashes computed at once. Safe
// for concurrent use.
type HashPool struct {
	budget  int64
	memory  *semaphore.Weighted // bytes of hash memory, budget in all
	workers *semaphore.Weighted

	waiting, running atomic.Int64 // gauges
	timedOut         atomic.Int64 // waits ended by the connection's context
	done             atomic.Int64 // hashes computed
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
	return &HashPool{budget: budget, memory: semaphore.NewWeighted(budget), workers: semaphore.NewWeighted(int64(workers))}
}

// Run calls hash, which takes about mem bytes while it runs, once the
// pool has room for it, on the calling goroutine. It returns an error
// carrying 0x89 Server busy without calling hash when ctx ends first.
// Waiters are served in FIFO order.
func (p *HashPool) Run(ctx context.Context, mem int64, hash func()) error {
	mem = min(max(mem, 1), p.budget) // one larger than the budget runs alone
	p.waiting.Add(1)
	err := p.memory.Acquire(ctx, mem)
	if err == nil {
		if err = p.workers.Acquire(ctx, 1); err != nil {
			p.memory.Release(mem)
		}
	}
	p.waiting.Add(-1)
	if err != nil {
		p.timedOut.Add(1)
		return mqtt.Errorf(mqtt.ServerBusy, "", "waiting for a password hash worker: %v", err)
	}
	p.running.Add(1)
	defer func() {
		p.running.Add(-1)
		p.done.Add(1)
		p.workers.Release(1)
		p.memory.Release(mem)
	}()
	hash()
	return nil
}

// Waiting returns the hashes waiting for the pool.
func (p *HashPool) Waiting() int64 { return p.waiting.Load() }

// Running returns the hashes being computed.
func (p *HashPool) Running() int64 { return p.running.Load() }

// TimedOut returns the waits ended by their context.
func (p *HashPool) TimedOut() int64 { return p.timedOut.Load() }

// Done returns the hashes computed.
func (p *HashPool) Done() int64 { return p.done.Load() }
