package proto

import "time"

// TimerHost arms the timers a channel asks for. When a timer fires, the
// host calls the channel's event method for it, on any goroutine:
// AuthExpired for the credential expiry. The channel calls these methods
// under its credExp.mu, so one at a time; they must not block or call
// back into the channel before they return.
type TimerHost interface {
	// ArmAuthExpiry arms the credential-expiry timer to fire after d,
	// replacing the one armed before, if any.
	ArmAuthExpiry(d time.Duration)
	// StopAuthExpiry stops it. An expiry already firing may still call
	// AuthExpired, which then finds the credential stopped or extended.
	StopAuthExpiry()
}
