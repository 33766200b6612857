package conn

import (
	"errors"
	"io"
	"os"
	"sync/atomic"
	"time"

	"edgemq/gateway/internal/park"
	"edgemq/listeners"
)

// Parking (gateway/internal/park): a connected client with nothing to read
// and nothing to write holds no goroutine. Its reader parks right after
// the handshake when nothing came with the CONNECT, and after a wait for
// bytes that lasted a whole idle period (the poller's sweeper interrupts
// it); bytes, the keep-alive deadline, or a close from another goroutine
// (a kick, a takeover, drain, a failed write: writeQueue.shutdown calls
// wakeForClose) start it again on a new goroutine.
//
// The waits that may be interrupted are those that lose nothing when cut
// short: WaitReadable of tls and ws connections, and the first read of a
// packet on tcp, when the reader holds no byte of it (parkSrc).

// ParkIdle is how long a connection waits for bytes before it parks: its
// waits are interrupted at the first sweep that finds them already under
// way at the one before, so between one and two periods.
const ParkIdle = time.Second

// errParkNow is what an interrupted first read of a packet returns: no
// byte was read, and the connection may park.
var errParkNow = errors.New("idle: park")

// aLongTimeAgo is a read deadline that has passed: it interrupts a read.
var aLongTimeAgo = time.Unix(1, 0)

// connPark is a connection's part in parking; the zero value parks
// nothing.
type connPark struct {
	h *park.Handle
	// closing is set by wakeForClose: the reader must not park again,
	// nor set a read deadline of its own over the one shutdown set.
	closing atomic.Bool
	// first is set before a packet is read with nothing buffered, on tcp
	// (parkSrc; reader goroutine only).
	first bool
}

// parkSrc is the reader's byte source on tcp: the socket, whose first
// Read of a packet is a wait the poller may interrupt.
// The connection itself, as another type: a struct pointing back to it
// would cost every connection 16 bytes.
type parkSrc Conn

func (s *parkSrc) Read(b []byte) (int, error) {
	c := (*Conn)(s)
	nc := c.nc
	if !c.park.first {
		return nc.Read(b)
	}
	c.park.first = false
	h := c.park.h
	h.BeginWait()
	n, err := nc.Read(b)
	if h.EndWait() {
		if n == 0 && errors.Is(err, os.ErrDeadlineExceeded) {
			return 0, errParkNow
		}
		// Bytes came as the wait was interrupted: the rest of the
		// packet is read under the deadline in force before.
		c.restoreDeadline()
	}
	return n, err
}

// initPark makes the connection parkable where its transport allows, and
// the reader's source.
func (c *Conn) initPark(p *park.Poller) io.Reader {
	if p == nil {
		return c.nc
	}
	rc := listeners.Socket(c.nc)
	if rc == nil {
		return c.nc
	}
	c.park.h = p.Handle(rc, parkOwner{c})
	if _, ok := c.nc.(listeners.IdleWaiter); ok {
		return c.nc
	}
	return (*parkSrc)(c)
}

// parkOwner is the connection as its park.Handle's Owner.
type parkOwner struct{ c *Conn }

// Nudge interrupts the reader's wait (the sweeper calls it).
func (o parkOwner) Nudge() { o.c.nc.SetReadDeadline(aLongTimeAgo) }

// Resume runs the read loop again after a park.
func (o parkOwner) Resume() { o.c.resume() }

// wakeForClose is called before the socket is closed or half-closed by
// another goroutine than the reader: a parked reader starts again, to see
// the close and end the connection.
func (c *Conn) wakeForClose() {
	if c.park.h == nil {
		return
	}
	c.park.closing.Store(true)
	c.park.h.Wake()
}

// mustRun reports whether the reader must go on rather than park.
func (c *Conn) mustRun() bool { return c.park.closing.Load() || c.ch.Kicked() }

// tryPark parks the reader if nothing may stop it: it reports true when
// the reader must return at once (parked; resume runs it again).
func (c *Conn) tryPark() bool {
	if c.park.h == nil || c.mustRun() || c.rd.Buffered() > 0 || !listeners.Quiet(c.nc) {
		return false
	}
	var deadline time.Time
	if c.dl != 0 {
		deadline = time.Unix(0, int64(c.dl))
	}
	c.out.trimIdle() // writequeue.go: an idle connection keeps no slice
	return c.park.h.Park(deadline, c.mustRun)
}

// parkAfterHandshake parks a client that sent nothing after CONNECT; it
// reports whether it did.
func (c *Conn) parkAfterHandshake() bool {
	if c.park.h == nil {
		return false
	}
	if ka := c.ch.KeepAliveTimeout(); ka > 0 {
		// The deadline the read loop would set first.
		c.dl.next(ka)
	}
	// The connect deadline is no longer the socket's: parked, the poller
	// keeps the deadline, and resume sets it on the socket again. Left
	// set, it would be a timer in the runtime's heap until it passed.
	c.nc.SetReadDeadline(time.Time{})
	if c.tryPark() {
		return true // the connection may be another goroutine's already
	}
	c.dl = 0 // the read loop sets the socket's deadline afresh
	return false
}

// resume runs the read loop again after a park.
func (c *Conn) resume() {
	if !c.park.closing.Load() {
		// The deadline in force when it parked; the keep-alive deadline
		// may have passed, which the read then reports.
		c.nc.SetReadDeadline(c.dl.time())
	}
	c.readLoop(true)
}

// restoreDeadline sets the read deadline again after a nudge that did not
// park the reader (bytes came meanwhile).
func (c *Conn) restoreDeadline() {
	if !c.park.closing.Load() {
		c.nc.SetReadDeadline(c.dl.time())
	}
}

// time is the deadline as a time; zero for none.
func (d lazyDeadline) time() time.Time {
	if d == 0 {
		return time.Time{}
	}
	return time.Unix(0, int64(d))
}

// Parked reports whether the connection is parked now: no goroutine
// reads it (for the admin's view and tests; it may change at once).
func (c *Conn) Parked() bool { return c.park.h != nil && c.park.h.Parked() }
