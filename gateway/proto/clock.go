package proto

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

// WallClock is the Clock of a running server: time.Now.
type WallClock struct{}

// Now returns time.Now().
func (WallClock) Now() time.Time { return time.Now() }
