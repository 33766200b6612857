package proto

// MQTT 5 enhanced authentication (4.12): the AUTH exchange in the CONNECT
// pipeline and re-authentication of a connected client. The channel
// drives it and owns no socket: the connection's handshake (gateway/conn) reads the AUTH packets of
// a pending CONNECT and hands them to ContinueConnectAuth; the read loop
// hands those of a connected client to handleAuth. The per-method logic is
// an auth.Exchange of an auth.Method (gateway/auth/scram for SCRAM).

import (
	"errors"
	"os"

	"edgemq/gateway/auth"
	"edgemq/gateway/auth/scram"
	"edgemq/gateway/logsafe"
	"edgemq/mqtt"

	"go.uber.org/zap"
)

// enhancedAuth holds the methods built in, by name.
type enhancedAuth struct {
	methods map[string]auth.Method
}

func (e *enhancedAuth) method(name string) auth.Method {
	if e == nil {
		return nil
	}
	return e.methods[name]
}

// newEnhancedAuth builds the methods a store allows; nil store: none.
func newEnhancedAuth(store scram.Store) (*enhancedAuth, error) {
	e := &enhancedAuth{methods: map[string]auth.Method{}}
	if store == nil {
		return e, nil
	}
	for _, name := range []string{scram.MethodSHA256, scram.MethodSHA512} {
		m, err := scram.NewMethod(name, store)
		if err != nil {
			return nil, err
		}
		e.methods[name] = m
	}
	return e, nil
}

// authFlow is a channel's enhanced authentication state.
type authFlow struct {
	// method is the Authentication Method of CONNECT; "" when the client
	// did not use enhanced authentication.
	method string
	// ex is the exchange under way, nil when none.
	ex auth.Exchange
	// pending is the CONNECT waiting for its exchange; nil once answered.
	pending *pendingConnect
}

type pendingConnect struct {
	c      *mqtt.Connect
	certID string
	ack    *mqtt.Connack
}

// AuthPending reports whether a CONNECT waits for the client's next AUTH.
func (ch *Channel) AuthPending() bool { return ch.authFlowOf().pending != nil }

// startConnectAuth begins the exchange of a CONNECT with an
// Authentication Method: 0x8C when the method is not built in
// [MQTT-4.12.0-1], else the first step on the CONNECT's data.
func (ch *Channel) startConnectAuth(c *mqtt.Connect, certID string, ack *mqtt.Connack) Step {
	name := c.Properties.AuthenticationMethod
	m := ch.env.enh.method(name)
	if m == nil {
		err := mqtt.Errorf(mqtt.BadAuthenticationMethod, "MQTT-4.12.0-1", "authentication method %q not supported", name)
		d := ch.authFailed(c.Username, err) // channel_auth.go
		return ch.holdConnect(d, c, certID, ack, err, nil)
	}
	ch.rareOrNew().authx = authFlow{method: name, ex: m.Start(), pending: &pendingConnect{c: c, certID: certID, ack: ack}}
	return ch.connectAuthStep(c.Properties.AuthenticationData)
}

// ContinueConnectAuth takes the packet read after the server's AUTH
// 0x18 to a pending CONNECT (or the read error): only AUTH 0x18 with the
// same method continues [MQTT-4.12.0-3, MQTT-4.12.0-4]; a DISCONNECT or a
// failed read abandons the CONNECT; anything else is a protocol error.
func (ch *Channel) ContinueConnectAuth(p mqtt.Packet, err error) Step {
	pc := ch.rare.authx.pending
	if err != nil {
		ch.rare.authx = authFlow{}
		if IsPacketError(err) {
			ch.Refuse(pc.c, err)
		} else {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				ch.LogAt(zap.InfoLevel, "enhanced authentication timed out", logsafe.String("client_id", pc.c.ClientID))
			}
			ch.out.Close(nil)
		}
		return Step{}
	}
	switch a := p.(type) {
	case *mqtt.Auth:
		if method := ch.rare.authx.method; a.ReasonCode != mqtt.ContinueAuthentication || a.Properties.AuthenticationMethod != method {
			ch.rare.authx = authFlow{}
			ch.Refuse(pc.c, mqtt.Errorf(mqtt.ProtocolError, "MQTT-4.12.0-4", "AUTH %v with method %q during authentication with %q", a.ReasonCode, a.Properties.AuthenticationMethod, method))
			return Step{}
		}
		return ch.connectAuthStep(a.Properties.AuthenticationData)
	case *mqtt.Disconnect:
		ch.rare.authx = authFlow{}
		ch.out.Close(nil)
		return Step{}
	default:
		ch.rare.authx = authFlow{}
		ch.Refuse(pc.c, mqtt.Errorf(mqtt.ProtocolError, "MQTT-3.1.0-1", "%v before CONNACK", p.Type()))
		return Step{}
	}
}

// connectAuthStep runs one step for the pending CONNECT: AUTH 0x18 when
// the method wants more, else CONNACK (after the brute-force delay, for
// the host to wait out: effects.go).
func (ch *Channel) connectAuthStep(data []byte) Step {
	pc := ch.rare.authx.pending
	c := pc.c
	out, done, err := ch.rare.authx.ex.Step(data)
	if !done {
		a := &mqtt.Auth{ReasonCode: mqtt.ContinueAuthentication}
		a.Properties.SetString(mqtt.PropAuthenticationMethod, ch.rare.authx.method)
		a.Properties.SetBinary(mqtt.PropAuthenticationData, out)
		ch.wire.Version = mqtt.V5
		ch.out.Send(a)
		return Step{}
	}
	user := ch.rare.authx.ex.Username()
	ch.rare.authx.ex, ch.rare.authx.pending = nil, nil
	if err == nil && c.UsernameFlag && c.Username != user {
		err = mqtt.Errorf(mqtt.NotAuthorized, "", "user name %q differs from the authenticated %q", c.Username, user)
	}
	if err != nil {
		if user == "" {
			user = c.Username
		}
		return ch.holdConnect(ch.authFailed(user, err), c, pc.certID, pc.ack, err, nil)
	}
	// The authenticated identity is the client's user name, for the ACL
	// (%u) and the logs.
	c.Username, c.UsernameFlag = user, true
	pc.ack.Properties.SetString(mqtt.PropAuthenticationMethod, ch.rare.authx.method)
	if len(out) > 0 {
		pc.ack.Properties.SetBinary(mqtt.PropAuthenticationData, out)
	}
	return ch.holdConnect(ch.authSucceeded(user), c, pc.certID, pc.ack, nil, nil) // channel_auth.go
}

// handleAuth handles AUTH from a connected client: re-authentication
// (4.12.1). It starts with 0x19 and the method of CONNECT
// [MQTT-4.12.1-1]; the exchange goes on with 0x18 and ends with AUTH
// 0x00 and the final data. A failure ends the connection with 0x87
// (DISCONNECT) after the brute-force delay, which the host waits out
// (holdError, effects.go); the session stays.
func (ch *Channel) handleAuth(a *mqtt.Auth) error {
	if ch.neg.Version != mqtt.V5 || ch.authFlowOf().method == "" {
		return mqtt.Errorf(mqtt.ProtocolError, "MQTT-4.12.0-2", "AUTH without enhanced authentication")
	}
	f := &ch.rare.authx
	if a.Properties.AuthenticationMethod != f.method {
		return mqtt.Errorf(mqtt.ProtocolError, "MQTT-4.12.1-1", "re-authentication with method %q, not %q", a.Properties.AuthenticationMethod, f.method)
	}
	switch {
	case a.ReasonCode == mqtt.ReAuthenticate && f.ex == nil:
		f.ex = ch.env.enh.method(f.method).Start()
	case a.ReasonCode == mqtt.ContinueAuthentication && f.ex != nil:
	default:
		return mqtt.Errorf(mqtt.ProtocolError, "4.12.1", "AUTH %v out of sequence", a.ReasonCode)
	}
	out, done, err := f.ex.Step(a.Properties.AuthenticationData)
	if !done {
		r := &mqtt.Auth{ReasonCode: mqtt.ContinueAuthentication}
		r.Properties.SetString(mqtt.PropAuthenticationMethod, f.method)
		r.Properties.SetBinary(mqtt.PropAuthenticationData, out)
		ch.out.Send(r)
		return nil
	}
	user := f.ex.Username()
	f.ex = nil
	// The identity cannot change mid-session: the one re-authenticated
	// must be the session's owner (owner.go).
	re := ch.acl.View().WithUsername(user)
	if err == nil && !ch.sess.OwnedBy(identityOf(&re)) {
		err = mqtt.Errorf(mqtt.NotAuthorized, "", "re-authenticated as %q, not the identity that owns the session", user)
	}
	if err != nil {
		ch.holdError(ch.authFailed(user, err)) // channel_auth.go, effects.go
		// Whatever the step said, a failed re-authentication is Not
		// Authorized (4.12.1).
		return mqtt.Errorf(mqtt.NotAuthorized, "4.12.1", "re-authentication failed: %v", err)
	}
	// SCRAM credentials do not expire, so there is no credential deadline
	// to move (ch.ExtendAuth, channel_auth.go): a method whose credential
	// expires (a token) would call ch.ExtendAuth(newExpiry) here.
	// The credential was replaced: read decisions are made again.
	ch.sess.RenewOwner() // owner.go
	ch.LogAt(zap.DebugLevel, "client re-authenticated", logsafe.String("client_id", ch.neg.ClientID), logsafe.String("username", user))
	r := &mqtt.Auth{ReasonCode: mqtt.Success}
	r.Properties.SetString(mqtt.PropAuthenticationMethod, f.method)
	if len(out) > 0 {
		r.Properties.SetBinary(mqtt.PropAuthenticationData, out)
	}
	ch.out.Send(r)
	return nil
}
