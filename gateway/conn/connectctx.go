package conn

import (
	"context"
	"sync"
	"time"
)

// connectCtx is the context of a handshake's authenticators: its parent's
// values and cancellation, and the connect deadline. Unlike
// context.WithDeadline it arms no timer until someone asks for Done: most
// authenticators (password file, anonymous, certificates, JWT with local
// keys) never wait, and a timer stopped by cancel stays in the runtime's
// timer heap, with the context it would cancel, until its deadline
// passes: the connect timeout's worth of connections would each hold one
// after the handshake. Err and Deadline need no timer.
//
// Safe for concurrent use, as a context must be. mu is a plain
// sync.Mutex, outside the lock order (LOCKS.md): like the context
// package's own lock it is taken under whatever lock an authenticator
// holds when it asks for Done or Err, and no lock of ours is taken under
// it (context.AfterFunc's registration with the parent takes only the
// context package's).
type connectCtx struct {
	parent   context.Context
	deadline time.Time

	mu sync.Mutex
	// done is made by the first Done, closed with err set.
	done chan struct{}
	err  error
	// timer and stopParent are armed by the first Done, released by
	// cancel or expiry.
	timer      *time.Timer
	stopParent func() bool
}

// withConnectDeadline returns a context of parent that ends at deadline,
// and the function that releases it (call it when the handshake ends).
func withConnectDeadline(parent context.Context, deadline time.Time) (*connectCtx, func()) {
	c := &connectCtx{parent: parent, deadline: deadline}
	return c, func() { c.end(context.Canceled) }
}

// Deadline implements context.Context: the earlier of the connect deadline
// and the parent's.
func (c *connectCtx) Deadline() (time.Time, bool) {
	if d, ok := c.parent.Deadline(); ok && d.Before(c.deadline) {
		return d, true
	}
	return c.deadline, true
}

// Done implements context.Context; the first call arms the timer and
// watches the parent.
func (c *connectCtx) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done != nil {
		return c.done
	}
	ended := c.errLocked() != nil
	c.done = make(chan struct{})
	if ended {
		close(c.done)
		return c.done
	}
	c.timer = time.AfterFunc(time.Until(c.deadline), func() { c.end(context.DeadlineExceeded) })
	if c.parent.Done() != nil {
		c.stopParent = context.AfterFunc(c.parent, func() { c.end(c.parent.Err()) })
	}
	return c.done
}

// Err implements context.Context: the cause once ended (cancelled, the
// parent ended, or the deadline passed), nil before.
func (c *connectCtx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.errLocked()
}

// errLocked notices an end that no timer reported (none armed, or not run
// yet) and records it, closing done if it was made.
func (c *connectCtx) errLocked() error {
	if c.err != nil {
		return c.err
	}
	if err := c.parent.Err(); err != nil {
		c.endLocked(err)
	} else if !time.Now().Before(c.deadline) {
		c.endLocked(context.DeadlineExceeded)
	}
	return c.err
}

// Value implements context.Context: the parent's values.
func (c *connectCtx) Value(key any) any { return c.parent.Value(key) }

// end ends the context with err, once, and releases its timer and its
// registration with the parent.
func (c *connectCtx) end(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.endLocked(err)
}

func (c *connectCtx) endLocked(err error) {
	if c.err == nil {
		c.err = err
		if c.done != nil {
			close(c.done)
		}
	}
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	if c.stopParent != nil {
		c.stopParent()
		c.stopParent = nil
	}
}
