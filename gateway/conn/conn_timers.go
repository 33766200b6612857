package conn

import "time"

// The connection is its channel's proto.TimerHost (proto/timers.go): it arms the
// timers the channel asks for with the runtime's timers. authTimer is
// guarded by the lock of the channel's credential expiry (auth.Expiry,
// authExpiry.mu), under which the channel calls these.

// ArmAuthExpiry arms the credential-expiry timer: authExpired after d.
func (c *Conn) ArmAuthExpiry(d time.Duration) {
	if c.authTimer != nil {
		c.authTimer.Reset(d)
		return
	}
	c.authTimer = time.AfterFunc(d, c.ch.AuthExpired)
}

// StopAuthExpiry stops the credential-expiry timer, if any.
func (c *Conn) StopAuthExpiry() {
	if c.authTimer != nil {
		c.authTimer.Stop()
	}
}
