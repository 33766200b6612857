package park

import (
	"edgemq/gateway/internal/lockorder"
	"errors"
	"sync/atomic"
	"syscall"
	"time"
)

// A Handle's state is one atomic word: the low bits say where its owner
// stands, the rest count the waits begun, so that the sweeper can tell a
// wait that lasted a whole idle period from a new one.
const (
	running = iota // a goroutine owns the connection, outside a wait
	waiting        // the owner is in a wait that may be interrupted
	nudged         // the sweeper interrupted that wait
	parked         // no goroutine: watched in the epoll set
	closed         // forgotten (Close)

	stateBits = 3
	stateMask = 1<<stateBits - 1
)

// ErrClosed is returned by Park once the Poller is closed.
var ErrClosed = errors.New("park: poller closed")

// Owner is the connection a Handle parks.
type Owner interface {
	// Resume runs on a new goroutine each time the parked Handle wakes;
	// it owns the connection.
	Resume()
	// Nudge interrupts the owner's wait (BeginWait): it sets the
	// connection's read deadline in the past. It takes no lock of ours.
	Nudge()
}

// Handle is one connection's registration with a Poller.
type Handle struct {
	p  *Poller
	rc syscall.RawConn
	o  Owner
	// st is the state (low stateBits) and the count of waits begun.
	st atomic.Uint64
	// nmu is held by the sweeper around a nudge, so that an owner that
	// finds its wait nudged knows the nudge is over once it holds it.
	nmu lockorder.Mutex[nudgeMu]
	// seen is the wait count the sweeper saw last (sweeper only).
	seen uint64
	// fd is the socket's descriptor once it is in the epoll set, -1
	// before (owner only, and the poller under Poller.mu).
	fd int32
	// timer wakes the handle at the deadline given to Park; made on the
	// first Park with a deadline (owner only). due is set when it fires;
	// next to fd, so that a Handle fits the 80-byte size class.
	due   atomic.Bool
	timer *time.Timer
}

// Handle registers the connection o whose socket is rc. The calling
// goroutine owns the connection.
func (p *Poller) Handle(rc syscall.RawConn, o Owner) *Handle {
	h := &Handle{p: p, rc: rc, o: o, fd: -1}
	p.unparked(h)
	return h
}

// BeginWait marks the start of a wait for bytes that the sweeper may
// interrupt with the nudge function. Owner only.
func (h *Handle) BeginWait() {
	v := h.st.Load()
	h.st.Store((v>>stateBits+1)<<stateBits | waiting)
}

// EndWait marks the end of the wait BeginWait began, and reports whether
// the sweeper interrupted it: then the read deadline has been set in the
// past, and the owner either parks or sets it again. Owner only.
func (h *Handle) EndWait() (nudgedWait bool) {
	v := h.st.Load()
	if v&stateMask == waiting && h.st.CompareAndSwap(v, v&^stateMask|running) {
		return false
	}
	// Nudged: wait until the nudge is over, so that a deadline set
	// after this cannot be undone by it.
	h.nmu.Lock()
	h.nmu.Unlock() //nolint:staticcheck // an empty critical section orders the nudge before us
	h.st.Store(h.st.Load()&^stateMask | running)
	return true
}

// Park gives up the connection: its goroutine must return right after
// Park reports true, touching nothing of the connection, as resume may
// already be running on another goroutine. resume runs when the socket
// has bytes, an end of stream or an error to read, when Wake is called,
// or at deadline (the zero time: none).
//
// recheck, called after the socket is armed, reports whether the owner
// must go on at once after all (say, a close it must act on was asked for
// meanwhile); then Park takes the connection back and reports false, as
// it does when the socket cannot be watched: the caller reads on.
func (h *Handle) Park(deadline time.Time, recheck func() bool) bool {
	if !deadline.IsZero() {
		// The timer is set before the socket is armed: after that the
		// handle may be another goroutine's at once.
		d := time.Until(deadline)
		if d <= 0 {
			return false // due already: the owner's read reports it
		}
		h.due.Store(false)
		if h.timer == nil {
			h.timer = time.AfterFunc(d, h.expire)
		} else {
			h.timer.Reset(d)
		}
	}
	if !h.p.arm(h) {
		return false
	}
	// A deadline that passed before the socket was armed found the
	// handle running: its owner takes it back and reads.
	if (recheck != nil && recheck()) || h.due.Load() {
		if h.reclaim() {
			return false
		}
	}
	return true
}

// expire wakes the handle at the deadline of its Park.
func (h *Handle) expire() {
	h.due.Store(true)
	h.Wake()
}

// reclaim takes a parked handle back for the goroutine that parked it;
// false when a wake-up took it first (resume runs).
func (h *Handle) reclaim() bool {
	v := h.st.Load()
	if v&stateMask != parked || !h.st.CompareAndSwap(v, v&^stateMask|running) {
		return false
	}
	h.p.unparked(h)
	return true
}

// Wake resumes a parked handle now, on a new goroutine, and reports
// whether it was parked. A running handle's owner sees for itself what
// it was woken for (a closed socket, a deadline). Any goroutine.
func (h *Handle) Wake() bool {
	v := h.st.Load()
	if v&stateMask != parked || !h.st.CompareAndSwap(v, v&^stateMask|running) {
		return false
	}
	h.p.unparked(h)
	go h.o.Resume()
	return true
}

// Parked reports whether the handle is parked now (for tests and the
// admin's view; it may change at once).
func (h *Handle) Parked() bool { return h.st.Load()&stateMask == parked }

// Close forgets the handle: the connection is done. Owner only, not
// while parked.
func (h *Handle) Close() {
	h.st.Store(h.st.Load()&^stateMask | closed)
	if h.timer != nil {
		h.timer.Stop()
	}
	h.p.forget(h)
}
