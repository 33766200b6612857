package gateway

// What a channel asks of its host. The channel is the protocol state
// machine of one connection (channel.go): it sleeps on no timer and arms
// none. A delay (brute-force protection, channel_auth.go) is returned for
// the host to wait out; a timer (the credential's expiry, channel_auth.go)
// is asked of the host through proto.TimerHost, and comes back as an event
// method of the channel when it fires. The host is the connection
// (conn.go, conn_timers.go) in a running server, and a test's harness
// with a manual Clock (proto_harness_test.go).

import (
	"context"
	"time"

	"edgemq/mqtt"
)

// connectStep is what a channel asks of its host after a step of the
// CONNECT handshake: connect, continueConnectAuth, delayElapsed.
type connectStep struct {
	// connected reports that the client is connected: CONNACK 0x00 is
	// queued.
	connected bool
	// delay, when positive, holds the answer back: the host waits this
	// long (bounded by the connect deadline), then calls delayElapsed,
	// which queues the held answer and returns the next step. Nothing
	// was queued yet. The host must call delayElapsed, even when the
	// deadline cut the wait short: the answer releases what the CONNECT
	// holds.
	delay time.Duration
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
// or hold the answer until the host calls delayElapsed. release (nil:
// none) is called once the answer is queued.
func (ch *channel) holdConnect(d time.Duration, c *mqtt.Connect, certID string, ack *mqtt.Connack, err error, release func()) connectStep {
	if d <= 0 {
		connected := ch.admit(c, certID, ack, err)
		if release != nil {
			release()
		}
		return connectStep{connected: connected}
	}
	ch.env.stats.Auth.Delay()
	ch.held = &heldConnect{pendingConnect: pendingConnect{c: c, certID: certID, ack: ack}, err: err, release: release}
	return connectStep{delay: d}
}

// delayElapsed is the event that the delay of the last handshake step is
// over (or the connect deadline came first): the held answer is queued.
// The host calls it on the connection's goroutine.
func (ch *channel) delayElapsed() connectStep {
	h := ch.held
	if h == nil {
		return connectStep{}
	}
	ch.held = nil
	connected := ch.admit(h.c, h.certID, h.ack, h.err)
	if h.release != nil {
		h.release()
	}
	return connectStep{connected: connected}
}

// holdError asks the host to wait d before it acts on the error handle
// returns next (a failed re-authentication's DISCONNECT, enhauth.go).
func (ch *channel) holdError(d time.Duration) {
	if d > 0 {
		ch.env.stats.Auth.Delay()
		ch.errDelay = d
	}
}

// takeErrorDelay returns, and forgets, the delay holdError asked for; 0
// for none. The host calls it before it acts on an error of handle.
func (ch *channel) takeErrorDelay() time.Duration {
	d := ch.errDelay
	ch.errDelay = 0
	return d
}

// waitDelay waits d, or until ctx ends, on the calling goroutine: how a
// connection performs the delays its channel asks for.
func waitDelay(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
