package backend

import (
	"context"
	"fmt"

	"edgemq/gateway/internal/lockorder"
)

// gates serialise, per client id, what this node does to a session's
// ownership: an Open claiming it, a kick letting it go, a will falling
// due, a lapsed node's session being claimed. A gate is a channel, not a
// mutex, so that waiting for it is bounded by a context. Its holder may
// do NATS I/O and call the broker (registry.mu, session.mu are taken
// under it); nothing holding a broker lock takes a gate.
type gates struct {
	mu lockorder.Mutex[gatesMu] // guards m; a leaf
	m  map[string]*gate
}

type gate struct {
	ch   chan struct{} // holds one token while the gate is held
	refs int           // holders and waiters; guarded by gates.mu
}

// lock takes id's gate, waiting until ctx ends; unlock releases it.
func (g *gates) lock(ctx context.Context, id string) (unlock func(), err error) {
	g.mu.Lock()
	if g.m == nil {
		g.m = make(map[string]*gate)
	}
	gt := g.m[id]
	if gt == nil {
		gt = &gate{ch: make(chan struct{}, 1)}
		g.m[id] = gt
	}
	gt.refs++
	g.mu.Unlock()
	select {
	case gt.ch <- struct{}{}:
		return func() {
			<-gt.ch
			g.release(id, gt)
		}, nil
	case <-ctx.Done():
		g.release(id, gt)
		return nil, fmt.Errorf("waiting for the session of %q: %w", id, ctx.Err())
	}
}

func (g *gates) release(id string, gt *gate) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if gt.refs--; gt.refs == 0 {
		delete(g.m, id)
	}
}

// Lock classes of the sessions (gateway/LOCKS.md).
type (
	sessionsMu struct{}
	subsMu     struct{}
	gatesMu    struct{}
)

func (sessionsMu) LockClass() string { return "clusterSessions.mu" }
func (subsMu) LockClass() string     { return "clusterSubs.mu" }
func (gatesMu) LockClass() string    { return "sessionGates.mu" }
