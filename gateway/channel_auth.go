package gateway

// The channel's side of authentication: the caps on authentications in
// progress, the grant of the backend that allowed the client, the
// credential's expiry, and the accounting of failures (counters, log,
// brute-force delay). The decisions are gateway/auth's; this file calls
// them through its exported API.

import (
	"context"
	"time"

	"edgemq/gateway/auth"
	"edgemq/gateway/logsafe"
	"edgemq/mqtt"

	"go.uber.org/zap"
)

// authExpiry is a connection's credential: its claims, its deadline
// (auth.Expiry) and the timer that disconnects the client then. A timer
// exists only for connections whose credential expires; idle connections
// without one cost nothing.
type authExpiry struct {
	// acl is set by connect and read-only after: ACLClaims.
	acl *ACLClaims
	// rate is set by connect and read-only after: the credential's
	// publish limits (ratelimit.go).
	rate *auth.RateLimitClaims
	// deadline decides when the timer is armed and whether it expired.
	deadline auth.Expiry
	// timer is armed and stopped only by deadline's callbacks, under its
	// lock.
	timer *time.Timer
}

// ACLClaims returns the ACL claims of the credential the client connected
// with (a JWT's acl_claim), nil when it carried none. For the authorizer.
func (ch *channel) ACLClaims() *ACLClaims { return ch.credExp.acl }

// acquireAuth takes the client's place among the authentications in
// progress (connect.go): its address and, when c has one, its user name.
func (ch *channel) acquireAuth(c *mqtt.Connect) (func(), error) {
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
func (ch *channel) applyGrant(c *mqtt.Connect, g *auth.Grant) error {
	if g.Username != "" {
		c.Username, c.UsernameFlag = g.Username, true
	}
	if !g.Expires.IsZero() && !time.Now().Before(g.Expires) {
		return mqtt.Errorf(mqtt.NotAuthorized, "", "credential expired")
	}
	ch.credExp.acl = g.ACL
	ch.credExp.rate = g.Rate
	ch.credExp.deadline.Set(g.Expires)
	return nil
}

// startAuthExpiry arms the expiry timer once the client is connected.
func (ch *channel) startAuthExpiry() { ch.credExp.deadline.Arm(time.Now(), ch.armAuthTimer) }

// extendAuth moves the credential deadline to until (zero: no expiry),
// e.g. after an MQTT 5 re-authentication (AUTH 0x19) succeeded. Safe from
// any goroutine.
func (ch *channel) extendAuth(until time.Time) {
	ch.credExp.deadline.Extend(until, time.Now(), ch.armAuthTimer, ch.stopAuthTimer)
}

// stopAuthExpiry releases the timer when the connection ends.
func (ch *channel) stopAuthExpiry() { ch.credExp.deadline.Stop(ch.stopAuthTimer) }

// armAuthTimer (re)arms the expiry timer to fire after d; under the
// expiry's lock (auth.Expiry).
func (ch *channel) armAuthTimer(d time.Duration) {
	a := &ch.credExp
	if a.timer != nil {
		a.timer.Reset(d)
		return
	}
	a.timer = time.AfterFunc(d, ch.authExpired)
}

// stopAuthTimer stops the expiry timer, if any; under the expiry's lock.
func (ch *channel) stopAuthTimer() {
	if t := ch.credExp.timer; t != nil {
		t.Stop()
	}
}

// authExpired disconnects a client whose credential expired: v5 clients
// get DISCONNECT Not Authorized (0x87), 3.x clients a close. It runs on
// the expiry timer, and does nothing when the deadline moved or the
// connection ended meanwhile.
func (ch *channel) authExpired() {
	if !ch.credExp.deadline.Expired(time.Now()) {
		return
	}
	ch.logAt(zap.InfoLevel, "credential expired: disconnecting", logsafe.String("client_id", ch.neg.ClientID))
	// Read decisions made for the expired credential are made again
	// (owner.go); the session keeps its owner and the claims until its
	// owner connects with a new credential.
	ch.sess.RenewOwner()
	ch.kick(mqtt.NotAuthorized)
}

// authFailed is authFailedBy for an enhanced authentication method.
func (ch *channel) authFailed(ctx context.Context, user string, err error) {
	ch.authFailedBy(ctx, auth.KindEnhanced, user, err)
}

// authFailedBy accounts for a failed authentication of user (the user
// name, "" when none) with err's reason code, decided by backend: it is
// counted, logged (the 1st, 2nd, 4th, 8th... failure of the count, through
// the server's log sampler, connlog.go), and, with brute-force protection,
// waited for on this goroutine until the delay or ctx ends.
func (ch *channel) authFailedBy(ctx context.Context, backend auth.Kind, user string, err error) {
	code := mqtt.CodeOf(err)
	st := ch.env.stats
	st.auth.Fail(backend, code)
	ip := auth.RemoteIP(ch.meta.RemoteAddr)
	var delay time.Duration
	n := 1
	// 0x89: no password was checked (the hash pool's wait ended with the
	// connect deadline, auth.HashPool), so it is no guess to hold back.
	if g := ch.env.guard; g != nil && code != mqtt.ServerBusy {
		delay, n = g.Fail(ip, user, time.Now())
	}
	if n&(n-1) == 0 {
		ch.logSampled(zap.InfoLevel, "authentication failed",
			zap.Uint8("reason_code", byte(code)), zap.String("reason", code.String()),
			zap.String("backend", backend.String()), logsafe.String("username", user), logsafe.Error(err),
			zap.Int("failures", n), zap.Duration("delay", delay))
	}
	ch.bruteWait(ctx, delay)
}

// authSucceeded holds back the CONNACK (or AUTH 0x00) of a successful
// authentication by the delay recent failures of the client's address or
// user name impose (bruteforce.Guard.Pending).
func (ch *channel) authSucceeded(ctx context.Context, user string) {
	if g := ch.env.guard; g != nil {
		ch.bruteWait(ctx, g.Pending(auth.RemoteIP(ch.meta.RemoteAddr), user, time.Now()))
	}
}

// bruteWait waits delay or until ctx ends, on the calling goroutine.
func (ch *channel) bruteWait(ctx context.Context, delay time.Duration) {
	if delay <= 0 {
		return
	}
	ch.env.stats.auth.Delay()
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
