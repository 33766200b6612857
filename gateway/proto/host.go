package proto

// The channel as its host sees it: how the connection (gateway/conn), or
// a test's harness, makes a channel and reads what CONNECT settled. The
// events the host delivers (Connect, Handle, DelayElapsed, AuthExpired,
// Fail, Closed...) are in the files of their concern.

import (
	"errors"

	"edgemq/configs"
	"edgemq/gateway/auth"
	"edgemq/gateway/broker"
	"edgemq/listeners"
	"edgemq/mqtt"

	"go.uber.org/zap"
)

// ChannelConfig is what a channel is made of besides its engine.
type ChannelConfig struct {
	// Meta is the connection's listener, remote address, transport and
	// TLS state.
	Meta *listeners.Meta
	// Profile is the listener profile in force when the connection
	// started; it stays the connection's.
	Profile *Profile
	// Auth is the listener's authentication chain in force then.
	Auth *auth.Chain
	// Out is where the channel's packets go: the connection's write
	// queue.
	Out Outbound
	// Wire is the encoder's settings, which the channel fixes while
	// connecting (wire.go).
	Wire *Wire
	// Log is the server's logger.
	Log *zap.Logger
	// Timers arms the timers the channel asks for; nil: none (a test's
	// channel without a host).
	Timers TimerHost
}

// Init makes ch a new channel of engine e, before its first packet. A
// Channel is used by pointer once initialised; the host may hold it by
// value in its own struct, so that a connection costs one allocation.
func (ch *Channel) Init(e *Engine, c ChannelConfig) {
	*ch = Channel{env: e, meta: c.Meta, prof: c.Profile, auth: c.Auth, out: c.Out, wire: c.Wire, log: c.Log, timers: c.Timers}
}

// Meta returns the connection's metadata (ChannelConfig.Meta).
func (ch *Channel) Meta() *listeners.Meta { return ch.meta }

// Stats returns the counters of the channel's engine (Engine.Stats).
func (ch *Channel) Stats() *Stats { return ch.env.stats }

// Log returns the logger the channel was made with (ChannelConfig.Log),
// for its host's entries; never nil once Init ran.
func (ch *Channel) Log() *zap.Logger { return ch.log }

// Profile returns the listener profile of the connection.
func (ch *Channel) Profile() *Profile { return ch.prof }

// Negotiated returns what CONNECT and CONNACK agreed. It is written by
// Connect on the connection's goroutine and read-only once the client is
// connected: another goroutine may read it after it saw the client
// connected through a happens-before edge of the host's (the admin API's
// connectedAt).
func (ch *Channel) Negotiated() *Negotiated { return &ch.neg }

// Username returns the user name the client is authorized as (after
// substitution and enhanced authentication); "" before. Read-only once
// connected, like Negotiated.
func (ch *Channel) Username() string { return ch.acl.View().Username() }

// Session returns the client's session once connected, nil before.
// Read-only once connected, like Negotiated.
func (ch *Channel) Session() *broker.Session { return ch.sess }

// RateClaims returns the publish limits the client's credential carries,
// nil for none. Read-only once connected.
func (ch *Channel) RateClaims() *auth.RateLimitClaims {
	if c := ch.cred(); c != nil {
		return c.rate
	}
	return nil
}

// PublishRate returns the client's publish limits: the listener
// profile's publish_rate with the credential's claims applied
// (auth.RateLimitClaims.Apply). Read-only once connected.
func (ch *Channel) PublishRate() configs.PublishRate {
	return ch.RateClaims().Apply(ch.prof.PublishRate)
}

// Version returns the protocol version once the client is connected, 0
// before. Safe from any goroutine.
func (ch *Channel) Version() mqtt.Version { return mqtt.Version(ch.kickVersion.Load()) }

// Kicked reports whether the server decided to end the connection (a
// kick, a takeover, a drain): the host acts on nothing it reads after
// it. Safe from any goroutine.
func (ch *Channel) Kicked() bool { return ch.kicked.Load() }

// AuthExpiring reports whether the client's credential has an expiry
// deadline (auth.Expiry.Expiring). Safe from any goroutine.
func (ch *Channel) AuthExpiring() bool {
	c := ch.cred()
	return c != nil && c.deadline.Expiring()
}

// IsPacketError reports whether err is a protocol fault of the peer (as
// opposed to I/O).
func IsPacketError(err error) bool {
	var e *mqtt.Error
	var rc mqtt.ReasonCode
	return errors.As(err, &e) || errors.As(err, &rc)
}
