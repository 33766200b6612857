package proto

// What a channel asks of its host. The channel is the protocol state
// machine of one connection (channel.go): it sleeps on no timer and arms
// none. A delay (brute-force protection, channel_auth.go) is returned for
// the host to wait out; a timer (the credential's expiry, channel_auth.go)
// is asked of the host through TimerHost, and comes back as an event
// method of the channel when it fires. The host is the connection
// (gateway/conn) in a running server, and a test's harness with a manual
// Clock (harness_test.go).

import (
	"time"

	"edgemq/mqtt"
)

// Step is what a channel asks of its host after a step of the
// CONNECT handshake: Connect, ContinueConnectAuth, DelayElapsed.
type Step struct {
	// Connected reports that the client is connected: CONNACK 0x00 is
	// queued.
	Connected bool
	// Delay, when positive, holds the answer back: the host waits this
	// long (bounded by the connect deadline), then calls DelayElapsed,
	// which queues the held answer and returns the next step. Nothing
	// was queued yet. The host must call DelayElapsed, even when the
	// deadline cut the wait short: the answer releases what the CONNECT
	// holds.
	Delay time.Duration
}

// heldConnect is a CONNECT whose answer waits for a brute-force delay:
// admit runs on it when the delay ends, refusing it when err is set;
// then release, when set, ends its place among the authentications in
// progress (auth_limit.go), which the delay counts in.
type heldConnect struct {
	pendingConnect
	err     error
	release func()
}

// holdConnect returns the step for a CONNECT whose authentication ended
// (err nil: allowed) with the brute-force delay d: at once admit (d 0),
// or hold the answer until the host calls DelayElapsed. release (nil:
// none) is called once the answer is queued.
func (ch *Channel) holdConnect(d time.Duration, c *mqtt.Connect, certID string, ack *mqtt.Connack, err error, release func()) Step {
	if d <= 0 {
		connected := ch.admit(c, certID, ack, err)
		if release != nil {
			release()
		}
		return Step{Connected: connected}
	}
	ch.env.stats.Auth.Delay()
	ch.rareOrNew().held = &heldConnect{pendingConnect: pendingConnect{c: c, certID: certID, ack: ack}, err: err, release: release}
	return Step{Delay: d}
}

// DelayElapsed is the event that the delay of the last handshake step is
// over (or the connect deadline came first): the held answer is queued.
// The host calls it on the connection's goroutine.
func (ch *Channel) DelayElapsed() Step {
	if ch.rare == nil || ch.rare.held == nil {
		return Step{}
	}
	h := ch.rare.held
	ch.rare.held = nil
	connected := ch.admit(h.c, h.certID, h.ack, h.err)
	if h.release != nil {
		h.release()
	}
	return Step{Connected: connected}
}

// holdError asks the host to wait d before it acts on the error handle
// returns next (a failed re-authentication's DISCONNECT, enhauth.go).
func (ch *Channel) holdError(d time.Duration) {
	if d > 0 {
		ch.env.stats.Auth.Delay()
		ch.rareOrNew().errDelay = d
	}
}

// TakeErrorDelay returns, and forgets, the delay holdError asked for; 0
// for none. The host calls it before it acts on an error of handle.
func (ch *Channel) TakeErrorDelay() time.Duration {
	if ch.rare == nil {
		return 0
	}
	d := ch.rare.errDelay
	ch.rare.errDelay = 0
	return d
}
