package broker

import "time"

// Clock is where the broker reads the time of routing and delivery
// (message expiry, the restore's deadlines), so that a test can move it
// by hand. Now must be safe for concurrent use and must not block: it is
// called on the publish path under a session's lock, and takes none of
// the gateway's locks. Timers (session expiry, will delay) run on the
// wall clock.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
}

// now returns the broker's time: its clock's, the wall clock's when none
// was given.
func (e *Broker) now() time.Time {
	if e.clock == nil {
		return time.Now()
	}
	return e.clock.Now()
}

// now returns the time by the session's broker's clock.
func (s *Session) now() time.Time {
	if s.env.clock == nil {
		return time.Now()
	}
	return s.env.clock.Now()
}
