package gateway

import (
	"fmt"
	"net/http"
	"time"

	"edgemq/configs"
	"edgemq/gateway/internal/lockorder"
	"edgemq/gateway/logsafe"
	"edgemq/mqtt"

	"go.uber.org/zap"
)

// RequestInfo is implemented by the ConnInfo handed to authenticators: a
// narrow read-only view of the WebSocket upgrade request. Every method
// returns "" on tcp and tls connections.
type RequestInfo interface {
	// Header returns the first value of the upgrade request's header.
	Header(name string) string
	// Cookie returns the value of the upgrade request's cookie.
	Cookie(name string) string
	// Query returns the first value of the upgrade URL's query parameter.
	Query(name string) string
}

func (v *connView) Header(name string) string {
	if r := v.meta.Request; r != nil {
		return r.Header.Get(name)
	}
	return ""
}

func (v *connView) Cookie(name string) string {
	if r := v.meta.Request; r != nil {
		if c, err := r.Cookie(name); err == nil {
			return c.Value
		}
	}
	return ""
}

func (v *connView) Query(name string) string {
	if r := v.meta.Request; r != nil && r.URL != nil {
		return r.URL.Query().Get(name)
	}
	return ""
}

// ACLClaims are topic filters a credential (a JWT's acl claim) carries.
// They are read-only once the client is connected.
type ACLClaims struct {
	// Pub are the topic filters the client may publish to.
	Pub []string
	// Sub are the topic filters the client may subscribe to.
	Sub []string
}

// authGrant is what the deciding backend hands on with an allow, beyond
// the yes: built-in backends set it through grantOf.
type authGrant struct {
	// username, when set, replaces the CONNECT user name (a JWT's
	// username claim).
	username string
	// expires, when set, is when the credential stops being valid: the
	// client is disconnected then (authExpiry).
	expires time.Time
	// acl are the credential's ACL claims, nil for none.
	acl *ACLClaims
	// rate are the credential's publish limits, nil for none
	// (ratelimit.go).
	rate *RateLimitClaims
}

// grantOf returns the grant a backend may fill for c, nil when c is not
// the gateway's own view (a test's ConnInfo).
func grantOf(c ConnInfo) *authGrant {
	if v, ok := c.(*connView); ok {
		return &v.grant
	}
	return nil
}

// applyGrant hands the grant of the authenticator that allowed the client
// on: the user name it names replaces the CONNECT one (so ACL %u, logs and
// the will see it), and its ACL claims and expiry go to the channel. A
// credential that already expired refuses the client.
func (ch *channel) applyGrant(c *mqtt.Connect, g *authGrant) error {
	if g.username != "" {
		c.Username, c.UsernameFlag = g.username, true
	}
	if !g.expires.IsZero() && !time.Now().Before(g.expires) {
		return mqtt.Errorf(mqtt.NotAuthorized, "", "credential expired")
	}
	ch.credExp.acl = g.acl
	ch.credExp.rate = g.rate
	ch.credExp.deadline = g.expires
	return nil
}

// authExpiry is a connection's credential lifetime. A timer exists only
// for connections whose credential expires; idle connections without one
// cost nothing.
type authExpiry struct {
	// acl is set by connect and read-only after: ACLClaims.
	acl *ACLClaims
	// rate is set by connect and read-only after: the credential's
	// publish limits (ratelimit.go).
	rate *RateLimitClaims

	mu       lockorder.Mutex[authExpiryMu]
	deadline time.Time // zero: never
	timer    *time.Timer
	done     bool // closed: no timer any more
}

// ACLClaims returns the ACL claims of the credential the client connected
// with (a JWT's acl_claim), nil when it carried none. For the authorizer.
func (ch *channel) ACLClaims() *ACLClaims { return ch.credExp.acl }

// startAuthExpiry arms the expiry timer once the client is connected.
func (ch *channel) startAuthExpiry() {
	a := &ch.credExp
	a.mu.Lock()
	defer a.mu.Unlock()
	ch.armLocked()
}

func (ch *channel) armLocked() {
	a := &ch.credExp
	if a.done || a.deadline.IsZero() {
		return
	}
	d := time.Until(a.deadline)
	if a.timer != nil {
		a.timer.Reset(d)
		return
	}
	a.timer = time.AfterFunc(d, ch.authExpired)
}

// extendAuth moves the credential deadline to until (zero: no expiry),
// e.g. after an MQTT 5 re-authentication (AUTH 0x19) succeeded. Safe from
// any goroutine.
func (ch *channel) extendAuth(until time.Time) {
	a := &ch.credExp
	a.mu.Lock()
	defer a.mu.Unlock()
	a.deadline = until
	if until.IsZero() {
		if a.timer != nil {
			a.timer.Stop()
		}
		return
	}
	ch.armLocked()
}

// authExpired disconnects a client whose credential expired: v5 clients
// get DISCONNECT Not Authorized (0x87), 3.x clients a close.
func (ch *channel) authExpired() {
	a := &ch.credExp
	a.mu.Lock()
	if a.done || a.deadline.IsZero() || time.Now().Before(a.deadline) {
		// Extended or stopped meanwhile; a Reset raced with this run.
		a.mu.Unlock()
		return
	}
	a.done = true
	a.mu.Unlock()
	ch.logAt(zap.InfoLevel, "credential expired: disconnecting", logsafe.String("client_id", ch.neg.ClientID))
	// Read decisions made for the expired credential are made again
	// (owner.go); the session keeps its owner and the claims until its
	// owner connects with a new credential.
	ch.sess.RenewOwner()
	ch.kick(mqtt.NotAuthorized)
}

// stopAuthExpiry releases the timer when the connection ends.
func (ch *channel) stopAuthExpiry() {
	a := &ch.credExp
	a.mu.Lock()
	defer a.mu.Unlock()
	a.done = true
	if a.timer != nil {
		a.timer.Stop()
	}
}

// buildAuthChain returns the backends of listener lc, in order. built
// holds the backends made so far, shared between listeners by name, and
// the embedding program's (type plugin, WithAuthenticator);
// password files check passwords with verify. log is for the backends'
// own events (a password file reload).
func buildAuthChain(cfg *configs.Config, lc configs.Listener, users *staticUsers, built map[string]Authenticator, client *http.Client, verify *passwordVerifier, log *zap.Logger) ([]Authenticator, error) {
	var out []Authenticator
	for _, name := range lc.AuthChain() {
		if name == configs.UsersBackend {
			out = append(out, users)
			continue
		}
		bc, ok := cfg.Auth.Backends[name]
		if !ok {
			return nil, fmt.Errorf("auth backend %q is not defined", name)
		}
		if bc.Type == configs.BackendCert {
			// Per listener: the identity field is the listener's.
			field := ""
			if scfg, ok := cfg.TLS[lc.TLS]; ok {
				field = scfg.ClientAuth.Identity
			}
			out = append(out, newCertAuth(bc.Cert, field))
			continue
		}
		if b, ok := built[name]; ok {
			out = append(out, b)
			continue
		}
		var b Authenticator
		var err error
		switch bc.Type {
		case configs.BackendPasswordFile:
			b, err = newPasswordFileAuth(bc.PasswordFile, verify, log)
		case configs.BackendJWT:
			b, err = newJWTAuth(bc.JWT, client)
		case configs.BackendHTTP:
			b = newHTTPAuth(name, bc.HTTP, client)
		case configs.BackendPlugin:
			// Supplied ones are in built already (options.go).
			err = pluginMissing(name)
		default:
			err = fmt.Errorf("type %q is not supported", bc.Type)
		}
		if err != nil {
			return nil, fmt.Errorf("auth backend %q: %w", name, err)
		}
		built[name] = b
		out = append(out, b)
	}
	return out, nil
}

// authBackend is the kind of authenticator that decided a refusal, for
// edgemq_auth_backend_failures_total: a fixed set, so the label stays
// bounded whatever the configuration names its backends.
type authBackend uint8

const (
	backendNone      authBackend = iota // no backend decided: an unknown user
	backendAnonymous                    // no credentials, and the listener wants some
	backendStatic                       // auth.users
	backendPasswd                       // password_file
	backendJWT
	backendHTTP
	backendCert
	backendEnhanced // an enhanced authentication method (enhauth.go)
	backendPlugin   // an Authenticator of the embedding program
	authBackends
)

var authBackendNames = [authBackends]string{"none", "anonymous", "static", "passwd", "jwt", "http", "cert", "enhanced", "plugin"}

func (b authBackend) String() string { return authBackendNames[b] }

// backendOf returns the kind of a.
func backendOf(a Authenticator) authBackend {
	switch a.(type) {
	case *staticUsers:
		return backendStatic
	case *passwordFileAuth:
		return backendPasswd
	case *jwtAuth:
		return backendJWT
	case *httpAuth:
		return backendHTTP
	case *certAuth:
		return backendCert
	}
	return backendPlugin
}
