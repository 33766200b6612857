// Package lockorder is the gateway's mutex with a lock-order check.
//
// Mutex and RWMutex wrap sync.Mutex and sync.RWMutex. Each is declared
// with a class: a marker type whose LockClass method names the lock as
// gateway/LOCKS.md does ("session.mu"). The zero value is an unlocked
// mutex of its class, as with sync, so structs that embed one need no
// constructor.
//
// In a normal build the wrappers add nothing: every method is a direct,
// inlined call of the sync method (BenchmarkMutex compares them).
//
// Built with -tags lockorder, every acquisition is checked against Order
// before it blocks. Each goroutine's held locks are recorded with the
// stack that took them; taking B while holding A needs A → B in Order,
// and a class taken while a lock of the same class is held needs
// A → A. A violation panics with both stacks: where A was taken and
// where B is being taken. Order is checked to be acyclic when the
// checker starts, so an order that passes cannot deadlock through these
// locks. Run it over the tests:
//
//	go test -tags lockorder -count=1 ./gateway/...
//
// With EDGEMQ_LOCKORDER_EDGES=file set, each edge the run takes (held →
// taken), once per place taking it, is appended to file with its stack:
// the evidence for LOCKS.md. EDGEMQ_LOCKORDER=survey logs an edge outside
// the order there instead of panicking, to see all of them in one run.
//
// Concurrency: the checker's own bookkeeping is process-wide (it has to
// see every goroutine) and exists only in the lockorder build.
package lockorder

// Class is a lock class: a marker type (usually struct{}) whose
// LockClass names the lock in Order and in gateway/LOCKS.md.
type Class interface {
	LockClass() string
}
