// Package testclock is the clock tests move by hand: it implements the
// Clock of proto, broker, conn and auth/jwt (a Now method) and moves only
// when Add is called. It is for tests only, imports nothing of ours and
// holds no lock (an atomic pointer).
package testclock

import (
	"sync/atomic"
	"time"
)

// Clock is a clock that moves only when a test moves it. Safe for
// concurrent use.
type Clock struct{ t atomic.Pointer[time.Time] }

// New returns a clock that reads t until moved.
func New(t time.Time) *Clock {
	c := &Clock{}
	c.t.Store(&t)
	return c
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time { return *c.t.Load() }

// Add moves the clock by d.
func (c *Clock) Add(d time.Duration) {
	for {
		old := c.t.Load()
		t := old.Add(d)
		if c.t.CompareAndSwap(old, &t) {
			return
		}
	}
}
