package backend

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"edgemq/gateway/cluster"

	"go.uber.org/zap"
)

// HealthState is whether a node serves, as Health decides it.
type HealthState int32

const (
	// Serving: the link to NATS is up and the liveness record renewed.
	Serving HealthState = iota
	// Down: the link is down, or the record could not be renewed until a
	// heartbeat before it would lapse, or it lapsed. Nothing is
	// acknowledged and no CONNECT is accepted; the node's clients were
	// closed.
	Down
	// Rechecking: the link is back; the record and the sessions' ownership
	// are being checked before the node serves again.
	Rechecking
)

func (s HealthState) String() string {
	switch s {
	case Serving:
		return "serving"
	case Down:
		return "down"
	case Rechecking:
		return "rechecking"
	}
	return "unknown"
}

// ErrNotServing is the error of a QoS 1 or 2 completion (AfterCommit)
// while the node does not serve: the message is not acknowledged, and
// the publisher's connection is closed, so that it sends again to a
// healthy node.
var ErrNotServing = errors.New("node not serving: its link to NATS is down or being rechecked")

// Liveness is what Health needs of the node's liveness record
// (*cluster.Liveness): one revision-checked renewal (ErrFenced when the
// record lapsed or was taken), a new acquisition after that, and its
// timing. Check and Acquire block on JetStream until ctx ends.
type Liveness interface {
	Check(ctx context.Context) error
	Acquire(ctx context.Context) error
	Heartbeat() (heartbeat, ttl time.Duration)
}

var _ Liveness = (*cluster.Liveness)(nil)

// HealthHooks is what Health calls when the node stops and starts
// serving, on Health's goroutine (Run's), holding nothing: each may take
// the broker's locks and block briefly. Either may be nil.
type HealthHooks struct {
	// CloseClients closes every client connected to this node, once per
	// outage, as soon as the node stops serving: the node's ownership
	// records lapse a TTL after its last renewal, and its clients must
	// have moved to healthy nodes by then.
	CloseClients func()
	// Recheck runs after the link heals, before the node serves again;
	// fenced says the liveness record lapsed meanwhile and was acquired
	// anew, so the other nodes may have taken this node's sessions over.
	// An error keeps the node from serving; it is retried at the next
	// heartbeat.
	Recheck func(ctx context.Context, fenced bool) error
}

// Health decides whether the node serves: it follows the link's up and
// down events (LinkUp, LinkDown, from the link's callbacks) and renews
// the liveness record every heartbeat (in place of Liveness.Run). The
// node stops serving at once when the link goes down, when the record
// could not be renewed until a heartbeat before it would lapse (the link
// is up but JetStream has no quorum: NATS itself is partitioned;
// staleAfter), or when it lapsed; then it closes its clients. When the link is back it rechecks the record (acquiring a
// new one if it lapsed) and the hooks' ownership before serving again.
//
// Concurrency: Serving, State and the link events are safe from any
// goroutine and never block (atomics only); the hooks run on Run's
// goroutines (CloseClients once per outage). Health has no lock.
type Health struct {
	live  Liveness
	hooks HealthHooks
	log   *zap.Logger

	state atomic.Int32
	// linkUp is the link's state as its last event said.
	linkUp atomic.Bool
	// wake asks Run's renewal loop to look at the state now, down its
	// link watcher (capacity 1 each: coalesced).
	wake, down chan struct{}
	// closed is set when the clients were closed for this outage, and
	// cleared when the node serves again.
	closed atomic.Bool
	// lastRenew is when the record was last renewed (Run's goroutine).
	lastRenew time.Time

	// Counters for the metrics.
	linkDowns, fenced, closings atomic.Int64
}

// NewHealth returns the health of a node whose record live was acquired
// and whose link is up now; it serves from the start.
func NewHealth(live Liveness, hooks HealthHooks, log *zap.Logger) *Health {
	h := &Health{live: live, hooks: hooks, log: log, wake: make(chan struct{}, 1), down: make(chan struct{}, 1), lastRenew: time.Now()}
	h.linkUp.Store(true)
	return h
}

// Serving reports whether the node serves now: QoS 1 and 2 messages may
// be acknowledged and CONNECTs accepted.
func (h *Health) Serving() bool { return HealthState(h.state.Load()) == Serving }

// State returns the node's state.
func (h *Health) State() HealthState { return HealthState(h.state.Load()) }

// LinkUp records that the link to NATS is up again (the link's OnUp).
func (h *Health) LinkUp() {
	h.linkUp.Store(true)
	h.poke()
}

// LinkDown records that the link is down (the link's OnDown): the node
// stops serving at once; Run closes its clients.
func (h *Health) LinkDown() {
	h.linkUp.Store(false)
	if h.state.Swap(int32(Down)) != int32(Down) {
		h.linkDowns.Add(1)
	}
	signal(h.down)
}

func (h *Health) poke() { signal(h.wake) }

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// HealthStats are Health's counters since start.
type HealthStats struct {
	// LinkUp is the link's state; State the node's.
	LinkUp bool
	State  HealthState
	// LinkDowns counts losses of the link, Fenced the liveness records
	// found lapsed, Closings the outages that closed the node's clients.
	LinkDowns, Fenced, Closings int64
}

// Stats returns the counters.
func (h *Health) Stats() HealthStats {
	return HealthStats{LinkUp: h.linkUp.Load(), State: h.State(), LinkDowns: h.linkDowns.Load(),
		Fenced: h.fenced.Load(), Closings: h.closings.Load()}
}

// Run renews the liveness record every heartbeat and acts on the link's
// events until ctx ends; it returns nil then. The caller then releases
// the record (Node.Close). A lost link closes the clients at once, on a
// goroutine of its own: a renewal under way may block on the client's
// reconnection meanwhile.
func (h *Health) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-h.down:
			}
			if !h.linkUp.Load() {
				h.stopServing("nats link down")
			}
		}
	})
	heartbeat, _ := h.live.Heartbeat()
	t := time.NewTicker(heartbeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-h.wake:
		}
		h.step(ctx)
	}
}

// step looks at the link and the record once.
func (h *Health) step(ctx context.Context) {
	heartbeat, ttl := h.live.Heartbeat()
	if !h.linkUp.Load() {
		h.stopServing("nats link down")
		return
	}
	if h.State() == Serving {
		rctx, cancel := context.WithTimeout(ctx, heartbeat)
		err := h.live.Check(rctx)
		cancel()
		switch {
		case err == nil:
			h.lastRenew = time.Now()
			return
		case errors.Is(err, cluster.ErrFenced):
			h.fenced.Add(1)
			h.log.Warn("liveness record lapsed or taken: the node stops serving", zap.Error(err))
			h.stopServing("liveness record lapsed")
		case time.Since(h.lastRenew) > staleAfter(heartbeat, ttl):
			h.log.Warn("liveness not renewed in time: the node stops serving", zap.Error(err), zap.Duration("since", time.Since(h.lastRenew)))
			h.stopServing("liveness not renewed")
			return
		default:
			if ctx.Err() == nil {
				h.log.Warn("renewing liveness failed", zap.Error(err))
			}
			return
		}
	}
	h.recheck(ctx, heartbeat, ttl)
}

// staleAfter is how long after its last renewal the node stops serving
// when renewals fail: a heartbeat before the record would lapse (the
// server counts the TTL from its write, a little before the node saw
// the acknowledgement), at least half the TTL, so that its clients are
// closed before its sessions can be claimed elsewhere.
func staleAfter(heartbeat, ttl time.Duration) time.Duration {
	return max(ttl/2, ttl-heartbeat)
}

// stopServing marks the node down and closes its clients, once per
// outage.
func (h *Health) stopServing(why string) {
	h.state.Store(int32(Down))
	if !h.closed.CompareAndSwap(false, true) {
		return
	}
	h.closings.Add(1)
	h.log.Warn("node not serving, closing its clients", zap.String("reason", why))
	if h.hooks.CloseClients != nil {
		h.hooks.CloseClients()
	}
}

// recheck brings a node that stopped serving back, once the link is up:
// the record renewed (or acquired anew when it lapsed), then the hooks.
func (h *Health) recheck(ctx context.Context, heartbeat, ttl time.Duration) {
	h.state.CompareAndSwap(int32(Down), int32(Rechecking))
	rctx, cancel := context.WithTimeout(ctx, max(heartbeat, ttl/2))
	defer cancel()
	err := h.live.Check(rctx)
	fenced := errors.Is(err, cluster.ErrFenced)
	if fenced {
		h.fenced.Add(1)
		err = h.live.Acquire(rctx)
	}
	if err == nil && h.hooks.Recheck != nil {
		err = h.hooks.Recheck(rctx, fenced)
	}
	if err != nil {
		if ctx.Err() == nil {
			h.log.Warn("rechecking before serving again failed, retrying", zap.Error(err))
		}
		return
	}
	if !h.linkUp.Load() {
		// Lost again meanwhile: the next step sees it.
		return
	}
	h.lastRenew = time.Now()
	h.closed.Store(false)
	if h.state.CompareAndSwap(int32(Rechecking), int32(Serving)) {
		h.log.Info("node serving again", zap.Bool("record_reacquired", fenced))
	}
}
