package proto

// The channel's side of authentication: the caps on authentications in
// progress, the grant of the backend that allowed the client, the
// credential's expiry, and the accounting of failures (counters, log,
// brute-force delay). The decisions are gateway/auth's; this file calls
// them through its exported API. The channel reads the time from its
// clock (clock.go), and neither waits out the brute-force delay nor arms
// the expiry timer: it asks its host for both (effects.go).

import (
	"time"

	"edgemq/gateway/auth"
	"edgemq/gateway/logsafe"
	"edgemq/mqtt"

	"go.uber.org/zap"
)

// authExpiry is a connection's credential: its claims and its deadline
// (auth.Expiry). The timer that disconnects the client then is the
// host's (TimerHost), asked for only for connections whose
// credential expires; idle connections without one cost nothing.
type authExpiry struct {
	// acl is set by connect and read-only after: ACLClaims.
	acl *auth.ACLClaims
	// rate is set by connect and read-only after: the credential's
	// publish limits (gateway/conn/ratelimit.go).
	rate *auth.RateLimitClaims
	// deadline decides when the timer is armed and whether it expired.
	deadline auth.Expiry
}

// ACLClaims returns the ACL claims of the credential the client connected
// with (a JWT's acl_claim), nil when it carried none. For the authorizer.
func (ch *Channel) ACLClaims() *auth.ACLClaims { return ch.aclClaims() }

// acquireAuth takes the client's place among the authentications in
// progress (connect.go): its address and, when c has one, its user name.
func (ch *Channel) acquireAuth(c *mqtt.Connect) (func(), error) {
	user := ""
	if c.UsernameFlag {
		user = c.Username
	}
	// The refusal is logged, sampled, by refuse (connlog.go).
	return ch.env.authLim.Gate().Acquire(auth.RemoteIP(ch.meta.RemoteAddr), user)
}

// applyGrant hands the grant of the authenticator that allowed the client
// on: the user name it names replaces the CONNECT one (so ACL %u, logs and
// the will see it), and its ACL claims and expiry go to the channel. A
// credential that already expired refuses the client.
func (ch *Channel) applyGrant(c *mqtt.Connect, g *auth.Grant) error {
	if g.Username != "" {
		c.Username, c.UsernameFlag = g.Username, true
	}
	if !g.Expires.IsZero() && !ch.now().Before(g.Expires) {
		return mqtt.Errorf(mqtt.NotAuthorized, "", "credential expired")
	}
	if g.ACL == nil && g.Rate == nil && g.Expires.IsZero() {
		return nil // most credentials: no state kept (channel_rare.go)
	}
	cr := ch.credOrNew()
	cr.acl, cr.rate = g.ACL, g.Rate
	cr.deadline.Set(g.Expires)
	return nil
}

// startAuthExpiry asks for the expiry timer once the client is
// connected.
func (ch *Channel) startAuthExpiry() {
	if c := ch.cred(); c != nil {
		c.deadline.Arm(ch.now(), ch.armAuthTimer)
	}
}

// ExtendAuth moves the credential deadline to until (zero: no expiry),
// e.g. after an MQTT 5 re-authentication (AUTH 0x19) succeeded. Safe from
// any goroutine.
func (ch *Channel) ExtendAuth(until time.Time) {
	c := ch.cred()
	if c == nil {
		if until.IsZero() {
			return // it never expired
		}
		c = ch.credOrNew()
	}
	c.deadline.Extend(until, ch.now(), ch.armAuthTimer, ch.stopAuthTimer)
	if ch.credEnded.Load() {
		// The connection ended meanwhile: stopAuthExpiry may have seen
		// no credential state yet.
		c.deadline.Stop(ch.stopAuthTimer)
	}
}

// stopAuthExpiry releases the timer when the connection ends.
func (ch *Channel) stopAuthExpiry() {
	ch.credEnded.Store(true) // before the load: see ExtendAuth
	if c := ch.cred(); c != nil {
		c.deadline.Stop(ch.stopAuthTimer)
	}
}

// armAuthTimer asks the host to (re)arm the expiry timer to fire after
// d; under the expiry's lock (auth.Expiry). A channel without a host (a
// test's) asks nothing.
func (ch *Channel) armAuthTimer(d time.Duration) {
	if ch.timers != nil {
		ch.timers.ArmAuthExpiry(d) // effects.go
	}
}

// stopAuthTimer asks the host to stop the expiry timer; under the
// expiry's lock.
func (ch *Channel) stopAuthTimer() {
	if ch.timers != nil {
		ch.timers.StopAuthExpiry()
	}
}

// AuthExpired is the event that the expiry timer fired: it disconnects a
// client whose credential expired by the channel's clock. v5 clients get
// DISCONNECT Not Authorized (0x87), 3.x clients a close. It runs on the
// host's timer, and does nothing when the deadline moved or the
// connection ended meanwhile.
func (ch *Channel) AuthExpired() {
	if c := ch.cred(); c == nil || !c.deadline.Expired(ch.now()) {
		return
	}
	ch.LogAt(zap.InfoLevel, "credential expired: disconnecting", logsafe.String("client_id", ch.neg.ClientID))
	// Read decisions made for the expired credential are made again
	// (owner.go); the session keeps its owner and the claims until its
	// owner connects with a new credential.
	ch.sess.RenewOwner()
	ch.kick(mqtt.NotAuthorized)
}

// authFailed is authFailedBy for an enhanced authentication method.
func (ch *Channel) authFailed(user string, err error) time.Duration {
	return ch.authFailedBy(auth.KindEnhanced, user, err)
}

// authFailedBy accounts for a failed authentication of user (the user
// name, "" when none) with err's reason code, decided by backend: it is
// counted, logged (the 1st, 2nd, 4th, 8th... failure of the count, through
// the server's log sampler, connlog.go). It returns the delay brute-force
// protection holds the refusal back by, for the host to wait out
// (effects.go); 0 without one.
func (ch *Channel) authFailedBy(backend auth.Kind, user string, err error) time.Duration {
	code := mqtt.CodeOf(err)
	st := ch.env.stats
	st.Auth.Fail(backend, code)
	ip := auth.RemoteIP(ch.meta.RemoteAddr)
	var delay time.Duration
	n := 1
	// 0x89: no password was checked (the hash pool's wait ended with the
	// connect deadline, auth.HashPool), so it is no guess to hold back.
	if g := ch.env.guard; g != nil && code != mqtt.ServerBusy {
		delay, n = g.Fail(ip, user, ch.now())
	}
	if n&(n-1) == 0 {
		ch.logSampled(zap.InfoLevel, "authentication failed",
			zap.Uint8("reason_code", byte(code)), zap.String("reason", code.String()),
			zap.String("backend", backend.String()), logsafe.String("username", user), logsafe.Error(err),
			zap.Int("failures", n), zap.Duration("delay", delay))
	}
	return delay
}

// authSucceeded returns the delay by which the CONNACK (or AUTH 0x00) of
// a successful authentication is held back: the one recent failures of
// the client's address or user name impose (bruteforce.Guard.Pending).
func (ch *Channel) authSucceeded(user string) time.Duration {
	if g := ch.env.guard; g != nil {
		return g.Pending(auth.RemoteIP(ch.meta.RemoteAddr), user, ch.now())
	}
	return 0
}
