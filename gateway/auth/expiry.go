package auth

import (
	"time"

	"edgemq/gateway/internal/lockorder"
)

// Expiry is a connection's credential lifetime. A timer exists only for
// connections whose credential expires; idle connections without one cost
// nothing. The zero value is a credential that never expires. Its methods
// are safe from any goroutine; expired (Start) is called on the timer's
// goroutine with no lock held.
type Expiry struct {
	mu       lockorder.Mutex[authExpiryMu]
	deadline time.Time // zero: never
	timer    *time.Timer
	done     bool // stopped: no timer any more
	expired  func()
}

// Set sets the credential deadline (zero: never) before Start: the
// grant of the backend that allowed the client.
func (e *Expiry) Set(deadline time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.deadline = deadline
}

// Start arms the timer once the client is connected: expired is called
// once when the deadline passes, unless Extend moved it or Stop came
// first.
func (e *Expiry) Start(expired func()) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.expired = expired
	e.armLocked()
}

func (e *Expiry) armLocked() {
	if e.done || e.deadline.IsZero() || e.expired == nil {
		return
	}
	d := time.Until(e.deadline)
	if e.timer != nil {
		e.timer.Reset(d)
		return
	}
	e.timer = time.AfterFunc(d, e.fire)
}

// Expiring reports whether the credential has a deadline: Start arms a
// timer only then.
func (e *Expiry) Expiring() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return !e.deadline.IsZero()
}

// Extend moves the credential deadline to until (zero: no expiry), e.g.
// after an MQTT 5 re-authentication (AUTH 0x19) succeeded; expired is what
// Start was given, for a credential that did not expire before (nil: keep
// the one in force).
func (e *Expiry) Extend(until time.Time, expired func()) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.deadline = until
	if e.expired == nil {
		e.expired = expired
	}
	if until.IsZero() {
		if e.timer != nil {
			e.timer.Stop()
		}
		return
	}
	e.armLocked()
}

// fire runs on the timer: it calls expired unless the deadline moved or
// the expiry stopped meanwhile.
func (e *Expiry) fire() {
	e.mu.Lock()
	if e.done || e.deadline.IsZero() || time.Now().Before(e.deadline) {
		// Extended or stopped meanwhile; a Reset raced with this run.
		e.mu.Unlock()
		return
	}
	e.done = true
	expired := e.expired
	e.mu.Unlock()
	expired()
}

// Stop releases the timer when the connection ends; expired is not
// called after it returns, unless it had already started.
func (e *Expiry) Stop() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.done = true
	if e.timer != nil {
		e.timer.Stop()
	}
}

// Armed reports whether a timer was ever made: only a credential that
// expires costs one.
func (e *Expiry) Armed() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.timer != nil
}
