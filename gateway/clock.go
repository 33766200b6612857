package gateway

import (
	"time"

	"edgemq/gateway/proto"
)

// withClock makes the engine read the time from c instead of the wall
// clock: for tests that move time by hand. The runtime's timers (session
// expiry, will delay, keep alive) still run on the wall clock.
func withClock(c proto.Clock) Option { return func(o *options) { o.clock = c } }

// clockOrWall is the clock withClock gave, the wall clock otherwise.
func (o *options) clockOrWall() proto.Clock {
	if o.clock == nil {
		return proto.WallClock{}
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
