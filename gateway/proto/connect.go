package proto

import (
	"context"
	"errors"
	"time"

	"edgemq/certs"
	"edgemq/gateway/auth"
	"edgemq/gateway/broker"
	"edgemq/gateway/limits"
	"edgemq/gateway/logsafe"

	"edgemq/mqtt"

	"go.uber.org/zap"
)

// connect runs the CONNECT pipeline: validate → negotiate → authenticate
// → authorize the will → open or take over the session → CONNACK. It
// reports whether the client is connected; on refusal the CONNACK (or
// nothing) is queued and the connection set to close. A brute-force delay
// is not waited for: the step returned asks the host to wait it out and
// call DelayElapsed, which queues the answer (effects.go). With an
// Authentication Method it reports not connected while the AUTH exchange
// is pending (AuthPending, enhauth.go): gateway/conn's Conn.handshake goes on with
// ContinueConnectAuth. ctx bounds the authenticators.
func (ch *Channel) Connect(ctx context.Context, c *mqtt.Connect) Step {
	n := &ch.neg
	ack := &mqtt.Connack{}
	certID := ch.substituteCertIdentity(c)
	err := ValidateConnect(c, ch.prof, n)
	if err == nil {
		err = Negotiate(c, ch.prof, n, &ack.Properties)
	}
	if err == nil && c.Properties.AuthenticationMethod != "" {
		// Enhanced authentication (enhauth.go): AUTH packets until CONNACK.
		return ch.startConnectAuth(c, certID, ack)
	}
	var release func() // the place among the authentications in progress
	if err == nil && ch.auth.HasWork(c) {
		// auth.Gate: over a concurrency cap, 0x89 Server busy
		var rel func()
		if rel, err = ch.acquireAuth(c); err == nil {
			release = rel
		}
	}
	var delay time.Duration // channel_auth.go: the brute-force delay
	if err == nil {
		view := auth.NewView(ch.meta, c, n.ClientID, certID, certID != "" && ch.auth.IdentityAs() == auth.IdentityAsUsername)
		var backend auth.Kind
		// The hash pool shares its turns between remote addresses.
		actx := auth.WithHashSource(ctx, auth.RemoteIP(ch.meta.RemoteAddr))
		if backend, err = ch.auth.Authenticate(actx, view); err == nil {
			err = ch.applyGrant(c, view.Grant()) // channel_auth.go
			// channel_auth.go: the delay recent failures impose on any answer
			delay = ch.authSucceeded(c.Username)
		} else {
			delay = ch.authFailedBy(backend, c.Username, err) // channel_auth.go: count, log, delay
		}
	}
	// effects.go: admit now, or after the delay; the place is released
	// once answered, the delay included.
	return ch.holdConnect(delay, c, certID, ack, err, release)
}

// admit ends the CONNECT pipeline once the client is authenticated (err
// nil) or refused (err): authorize the will, open or take over the
// session, CONNACK.
func (ch *Channel) admit(c *mqtt.Connect, certID string, ack *mqtt.Connack, err error) bool {
	n := &ch.neg
	if err == nil {
		err = ch.authorizeConnect(c, n.ClientID, certID) // acl.go: the will
	}
	if err == nil {
		err = ch.admitWill(c) // retained_quota.go: its retained topic's length
	}
	b := ch.env.broker
	var claim *broker.SessionClaim
	if err == nil {
		claim, err = b.Quotas().AdmitSession(n.ClientID, limits.IPOf(ch.meta.RemoteAddr), c.Username) // broker/quota.go
	}
	defer claim.Drop() // a no-op once bound
	if err != nil {
		ch.Refuse(c, err)
		return false
	}

	ch.will = c.Will
	if w := ch.will; w != nil && c.Version != mqtt.V5 {
		// 3.x has no way to refuse these: the will is published within
		// what the server supports.
		w.QoS = min(w.QoS, n.MaximumQoS)
		w.Retain = w.Retain && n.RetainAvailable
	}
	ch.wire.Version = c.Version
	ch.wire.MaxSize = n.ClientMaxPacketSize
	ch.wire.ProblemInfo = n.ProblemInfo
	ch.wire.Aliases = NewTopicAliases(n.OutboundTopicAliases)

	req := broker.OpenRequest{ClientID: n.ClientID, Clean: c.CleanStart, Expiry: n.SessionExpiry,
		Client: ch, Owner: ch.ownerOf(), Will: ch.will} // owner.go
	s, prev, err := ch.env.sessions.Open(req, func(s *broker.Session, present bool) {
		// Connected from here: kick (other goroutines) needs the version
		// once the session names this connection.
		ch.connected = true
		ch.kickVersion.Store(uint32(c.Version))
		// Runs under the session lock, with the expiry set, before any
		// delivery can reach this connection, so CONNACK is the first
		// packet out; a resumed session's deliveries in flight go next
		// (broker/delivery.go resendLocked).
		n.SessionPresent = present
		// Session Present is 0 for a clean start [MQTT-3.2.2-2] and says
		// whether a session was resumed [MQTT-3.2.2-3].
		ack.SessionPresent = present
		ch.out.Send(ack)
	})
	if err != nil {
		// A session of another identity (broker/owner.go): refused, Not
		// Authorized (v5 0x87, 3.x return code 5) [MQTT-3.1.4-2]; the
		// session and its client are left alone. A cluster node that
		// does not serve refuses with 0x88 (cluster/backend): not a
		// takeover refusal.
		if mqtt.CodeOf(err) == mqtt.NotAuthorized {
			b.Takeovers().Add(ch.meta.Listener)
		}
		ch.Refuse(c, err) // logged through the sampler (connlog.go)
		return false
	}
	ch.sess = s
	claim.Bind(s)        // broker/quota.go
	ch.startAuthExpiry() // channel_auth.go: disconnect when the credential expires
	if prev != nil {
		prev.Kick(mqtt.SessionTakenOver) // [MQTT-3.1.4-3]
	}
	ch.logConnected(c.Username) // connlog.go
	ch.LogAt(zap.DebugLevel, "negotiated", logsafe.String("client_id", n.ClientID), zap.Object("negotiated", n))
	return true
}

// substituteCertIdentity applies client_auth.identity_as on a tls or wss
// listener: when the client presented a certificate that verified and
// carries the configured identity field (certs.Identity), that identity
// replaces, before validation, negotiation and authentication, either the
// CONNECT user name (identity_as: username; the User Name Flag is set,
// whatever the client sent is discarded, the password is kept) or the
// client identifier (identity_as: client_id). Everything after —
// authenticators, ACL %u/%c, the session — sees the substituted value.
// Without such a certificate (client_auth.mode optional) nothing is
// replaced. It returns the identity, "" when none was substituted.
func (ch *Channel) substituteCertIdentity(c *mqtt.Connect) string {
	if ch.auth.IdentityAs() == "" {
		return ""
	}
	id := certs.Identity(ch.meta.TLS, ch.auth.IdentityField())
	if id == "" {
		return ""
	}
	switch ch.auth.IdentityAs() {
	case auth.IdentityAsUsername:
		c.Username, c.UsernameFlag = id, true
	case auth.IdentityAsClientID:
		c.ClientID = id
	}
	return id
}

// refuse answers a refused CONNECT: a v5 client gets CONNACK with the
// reason code (and the Server Reference of a redirect), a 3.x client the
// mapped return code. Session Present is 0 [MQTT-3.2.2-4, MQTT-3.2.2-6].
func (ch *Channel) Refuse(c *mqtt.Connect, err error) {
	code := mqtt.CodeOf(err)
	ack := &mqtt.Connack{ReasonCode: code}
	if c.Version == mqtt.V5 {
		if code == mqtt.UseAnotherServer || code == mqtt.ServerMoved {
			ack.Properties.SetString(mqtt.PropServerReference, ch.prof.Redirect.Server)
		}
		if wantsProblemInfo(c) {
			ack.Properties.SetString(mqtt.PropReasonString, err.Error())
		}
	}
	ch.wire.Version = c.Version
	ch.wire.ProblemInfo = wantsProblemInfo(c)
	if c.Version == mqtt.V5 && c.Properties.Has(mqtt.PropMaximumPacketSize) {
		// The refusal keeps the client's limit too: the Reason String goes
		// when the CONNACK would not fit [MQTT-3.2.2-19, MQTT-3.1.2-24].
		ch.wire.MaxSize = c.Properties.MaximumPacketSize
	}
	// connlog.go: sampled
	ch.logRefused(c, code, err)
	ch.out.Close(ack) // [MQTT-3.2.2-7 (3.1.1 MQTT-3.2.2-5)]: close after a refusal
}

// refuseMalformed answers a CONNECT that failed to decode. Its version is
// known when the level was read: an unsupported level gets 0x84 in the
// 5.0 format from level 5 up and return code 0x01 below [MQTT-3.1.2-2]; a
// v5 client gets CONNACK with the reason code of any other error
// [MQTT-4.13.1-1]; anything else is closed without an answer, as a wrong
// protocol name is [MQTT-3.1.2-1].
func (ch *Channel) RefuseMalformed(c *mqtt.Connect, err error) {
	code := mqtt.CodeOf(err)
	if c == nil && !IsPacketError(err) {
		// Closed or silent before CONNECT (a TCP probe, a timeout): not a
		// refusal.
		ch.LogAt(zap.DebugLevel, "connection closed before connect", zap.Error(err))
	} else {
		ch.logRefused(c, code, err) // connlog.go: sampled
	}
	switch {
	case c == nil:
		ch.out.Close(nil)
	case code == mqtt.UnsupportedProtocolVersion:
		v := mqtt.V311
		if c.Version >= mqtt.V5 {
			v = mqtt.V5
		}
		ch.wire.Version, ch.wire.ProblemInfo = v, false
		ch.out.Close(&mqtt.Connack{ReasonCode: code})
	case c.Version == mqtt.V5:
		ch.wire.Version, ch.wire.ProblemInfo = mqtt.V5, false
		ch.out.Close(&mqtt.Connack{ReasonCode: code})
	default:
		ch.out.Close(nil)
	}
}

func wantsProblemInfo(c *mqtt.Connect) bool {
	p := &c.Properties
	return !p.Has(mqtt.PropRequestProblemInformation) || p.RequestProblemInformation == 1
}

// errClientDisconnected ends the read loop after the client's DISCONNECT.
var errClientDisconnected = errors.New("client disconnected")
