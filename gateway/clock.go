package gateway

import "time"

// Clock is where the protocol state machine reads the time: the channel's
// packet handling (publish, connect, credential expiry, brute-force
// counts, message expiry on delivery) and the engine's routing ask it,
// never the wall clock directly, so that a test can drive them with a
// clock it moves by hand.
//
// Now must be safe for concurrent use and must not block: it is called on
// the publish path, from every connection's goroutine, under a session's
// lock or authExpiry.mu; it must take none of the engine's locks.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
}

// wallClock is the Clock of a running server: time.Now.
type wallClock struct{}

// Now returns time.Now().
func (wallClock) Now() time.Time { return time.Now() }

// withClock makes the engine read the time from c instead of the wall
// clock: for tests that move time by hand. The runtime's timers (session
// expiry, will delay, keep alive) still run on the wall clock.
func withClock(c Clock) Option { return func(o *options) { o.clock = c } }

// clockOrWall is the clock withClock gave, the wall clock otherwise.
func (o *options) clockOrWall() Clock {
	if o.clock == nil {
		return wallClock{}
	}
	return o.clock
}

// now returns the engine's time: its clock's, the wall clock's when none
// was given (an engine a test assembled by hand).
func (e *engine) now() time.Time {
	if e.clock == nil {
		return time.Now()
	}
	return e.clock.Now()
}

// now returns the encoder's time (one reading per batch).
func (e *encoder) now() time.Time {
	if e.clock == nil {
		return time.Now()
	}
	return e.clock.Now()
}

// now returns the time by the channel's clock (engine.now).
func (ch *channel) now() time.Time { return ch.env.now() }
