package auth

import (
	"time"

	"edgemq/gateway/internal/lockorder"
)

// Expiry is a connection's credential deadline. It arms no timer and
// reads no clock itself: the channel gives it the time, and the functions
// that arm and stop its timer, which Expiry calls under its lock so that a
// Stop cannot slip between a decision to arm and the arming. The zero
// value is a credential that never expires. Its methods are safe from any
// goroutine; the functions it is given must not block or take a lock
// ordered before authExpiry.mu.
type Expiry struct {
	mu       lockorder.Mutex[authExpiryMu]
	deadline time.Time // zero: never
	done     bool      // stopped or expired: nothing is armed any more
}

// Set sets the credential deadline (zero: never) before Arm: the grant
// of the backend that allowed the client.
func (e *Expiry) Set(deadline time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.deadline = deadline
}

// Expiring reports whether the credential has a deadline.
func (e *Expiry) Expiring() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return !e.deadline.IsZero()
}

// Arm calls arm with the time left from now until the deadline, once the
// client is connected, unless the credential never expires or the expiry
// ended. A credential that does not expire costs no timer.
func (e *Expiry) Arm(now time.Time, arm func(time.Duration)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.armLocked(now, arm)
}

func (e *Expiry) armLocked(now time.Time, arm func(time.Duration)) {
	if e.done || e.deadline.IsZero() {
		return
	}
	arm(e.deadline.Sub(now))
}

// Extend moves the credential deadline to until (zero: no expiry), e.g.
// after an MQTT 5 re-authentication (AUTH 0x19) succeeded: it arms the
// timer again (arm), or stops it (stop) for a credential that no longer
// expires.
func (e *Expiry) Extend(until, now time.Time, arm func(time.Duration), stop func()) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.deadline = until
	if until.IsZero() {
		stop()
		return
	}
	e.armLocked(now, arm)
}

// Expired is the timer's event: it reports, once, that the deadline
// passed by now. False when the deadline moved or the expiry ended
// meanwhile (a timer run racing with Extend or Stop).
func (e *Expiry) Expired(now time.Time) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.done || e.deadline.IsZero() || now.Before(e.deadline) {
		return false
	}
	e.done = true
	return true
}

// Stop ends the expiry when the connection ends, and calls stop to
// release the timer.
func (e *Expiry) Stop(stop func()) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.done = true
	stop()
}
