package gateway

// Password hashes (argon2id, bcrypt) are the one step of authentication
// whose memory an attacker chooses by sending wrong passwords: argon2id
// allocates its m parameter (19 MiB for edgemq passwd entries) for every
// verification. They run through a hashPool: at most workers at once, and
// no more at once than their memory allows within the budget
// (auth.hash_memory). A verification waiting for its turn holds no hash
// memory, only its connection's goroutine, whose number the
// authentication caps bound (auth_limit.go). The wait is FIFO and ends
// with the connection's CONNECT deadline.

import (
	"context"
	"runtime"
	"sync/atomic"

	"edgemq/configs"
	"edgemq/mqtt"

	"golang.org/x/sync/semaphore"
)

// defaultHashMemory is the hash memory budget of auth.hash_memory 0.
const defaultHashMemory = 64 << 20

// bcryptMemory is what a bcrypt verification is charged: its Blowfish
// state (4 KiB of S-boxes and the key schedule) with room to spare.
const bcryptMemory = 16 << 10

// hashPool bounds the expensive password hashes computed at once.
type hashPool struct {
	budget  int64
	memory  *semaphore.Weighted // bytes of hash memory, budget in all
	workers *semaphore.Weighted

	waiting, running atomic.Int64 // gauges
	timedOut         atomic.Int64 // waits ended by the connection's context
	done             atomic.Int64 // hashes computed
}

func newHashPool(cfg configs.Auth) *hashPool {
	budget := cfg.HashMemory
	if budget <= 0 {
		budget = defaultHashMemory
	}
	workers := cfg.HashWorkers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	return &hashPool{budget: budget, memory: semaphore.NewWeighted(budget), workers: semaphore.NewWeighted(int64(workers))}
}

// run calls hash, which takes about mem bytes while it runs, once the
// pool has room for it, on the calling goroutine. It returns an error
// carrying 0x89 Server busy without calling hash when ctx ends first.
func (p *hashPool) run(ctx context.Context, mem int64, hash func()) error {
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
