package broker

import (
	"time"

	"edgemq/gateway/stats"
	"edgemq/mqtt"
)

// sessionOff is what a session holds only while it is offline or
// persistent: its expiry timer, its will waiting for its Will Delay
// Interval, and what its stored record says of both. A connected session
// of memory mode needs none of it, so it is a side structure made on
// first use (offOrNew) rather than about 80 bytes of every Session
// (issue 17). Guarded by session.mu, like the fields it holds.
type sessionOff struct {
	expiryTimer *time.Timer
	// will waits for its Will Delay Interval while willTimer runs.
	will      *mqtt.Will
	willTimer *time.Timer
	// deadline, pw and pwDeadline are what the stored record says of the
	// session's expiry and will (persist.go).
	deadline   time.Time
	pw         *mqtt.Will
	pwDeadline time.Time
}

// offOrNew returns the session's offline state, made on first use.
// s.mu held, or s not shared yet.
func (s *Session) offOrNew() *sessionOff {
	if s.off == nil {
		s.off = &sessionOff{}
	}
	return s.off
}

// offWill returns the will waiting for its delay, nil for none. s.mu
// held.
func (s *Session) offWill() *mqtt.Will {
	if s.off == nil {
		return nil
	}
	return s.off.will
}

// sessionEnv is the broker's settings as its sessions read them, one
// for all of them rather than a copy in each: the bounds of the pending
// queue (session.max_offline_messages and max_offline_bytes), the
// counters, the read policy (owner.go), the retained store the feed
// reads (retained_feed.go) and the clock (clock.go). Fixed once made.
type sessionEnv struct {
	maxPending      int
	maxPendingBytes int64
	stats           *stats.Counters
	reads           *Reads
	retained        *retainedStore
	clock           Clock
}
