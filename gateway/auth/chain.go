package auth

import (
	"context"
	"errors"

	"edgemq/configs"
	"edgemq/mqtt"
)

// Kind is the kind of authenticator that decided a refusal, for
// edgemq_auth_backend_failures_total: a fixed set, so the label stays
// bounded whatever the configuration names its backends.
type Kind uint8

// The kinds of backend.
const (
	KindNone      Kind = iota // no backend decided: an unknown user
	KindAnonymous             // no credentials, and the listener wants some
	KindStatic                // auth.users
	KindPasswd                // password_file
	KindJWT
	KindHTTP
	KindCert
	KindEnhanced // an enhanced authentication method (MQTT 5 AUTH)
	KindPlugin   // an Authenticator of the embedding program
	// Kinds is the number of kinds.
	Kinds
)

var kindNames = [Kinds]string{"none", "anonymous", "static", "passwd", "jwt", "http", "cert", "enhanced", "plugin"}

// String is the kind's metric label.
func (k Kind) String() string { return kindNames[k] }

// Backend is an authenticator of a chain with its kind.
type Backend struct {
	Authenticator
	Kind Kind
}

// client_auth.identity_as values that substitute the certificate identity.
const (
	// IdentityAsUsername: the certificate identity replaces the user name.
	IdentityAsUsername = "username"
	// IdentityAsClientID: the certificate identity replaces the client
	// identifier.
	IdentityAsClientID = "client_id"
)

// Chain runs a listener's authenticators in order; the first that does
// not answer ErrNotMine decides. When none decides, anonymous clients are
// let in if the listener allows it. A Chain is read-only once in use (a
// reload builds a new one) and safe for concurrent use.
type Chain struct {
	backends       []Backend
	allowAnonymous bool
	// identityAs (username or client_id; "" for none) and identityField
	// (cn, san_dns, san_email, san_uri) map the client certificate of a
	// tls or wss listener.
	identityAs, identityField string
}

// NewChain returns the chain of backends; allowAnonymous lets in the
// clients that send no credentials and that no backend decides.
func NewChain(allowAnonymous bool, backends ...Backend) *Chain {
	return &Chain{backends: backends, allowAnonymous: allowAnonymous}
}

// SetCertIdentity makes a map the client certificate's identity field
// (cn, san_dns, san_email, san_uri) to as (IdentityAsUsername,
// IdentityAsClientID, or "" for neither). Called while the chain is
// built, before it is in use.
func (a *Chain) SetCertIdentity(as, field string) {
	a.identityAs, a.identityField = as, field
}

// SetCertIdentityOf maps the client certificates as the client_auth
// section ca of the listener's tls entry says: identity_as username or
// client_id replaces that with the certificate's identity field; any
// other value (none, "") replaces nothing, and the field is still what
// ACL rules' cert_identity match. Called while the chain is built.
func (a *Chain) SetCertIdentityOf(ca configs.ClientAuth) {
	as := ""
	switch ca.IdentityAs {
	case IdentityAsUsername, IdentityAsClientID:
		as = ca.IdentityAs
	}
	a.SetCertIdentity(as, ca.Identity)
}

// AllowAnonymous reports whether clients without credentials may connect.
func (a *Chain) AllowAnonymous() bool { return a.allowAnonymous }

// IdentityAs is what the certificate identity replaces:
// IdentityAsUsername, IdentityAsClientID or "".
func (a *Chain) IdentityAs() string { return a.identityAs }

// IdentityField is the certificate field that names the client.
func (a *Chain) IdentityField() string { return a.identityField }

// HasWork reports whether authenticating c runs anything: a backend of
// the listener, or credentials to check. A client with neither is let in
// or refused by the anonymous rule alone, at no cost, so it takes no place
// under the caps on authentications in progress (Gate).
func (a *Chain) HasWork(c *mqtt.Connect) bool {
	return len(a.backends) > 0 || c.UsernameFlag || c.PasswordFlag
}

// Authenticate returns nil or a refusal with its reason code, and the
// kind of backend that decided. It blocks as long as the backends do,
// until ctx ends.
func (a *Chain) Authenticate(ctx context.Context, c ConnInfo) (Kind, error) {
	if c.AuthMethod() != "" {
		// Enhanced authentication (SCRAM) is built in, but it is not the
		// chain's: the channel hands a CONNECT with an Authentication
		// Method to the AUTH exchange, so it never gets here. The
		// backends below check a user name and password or a certificate,
		// none runs an AUTH exchange: a method that reaches the chain
		// anyway is refused [MQTT-4.12.0-1].
		return KindEnhanced, mqtt.Errorf(mqtt.BadAuthenticationMethod, "MQTT-4.12.0-1", "authentication method %q not supported", c.AuthMethod())
	}
	for _, b := range a.backends {
		err := b.Authenticate(ctx, c)
		if errors.Is(err, ErrNotMine) {
			continue
		}
		if err != nil && mqtt.CodeOf(err) == mqtt.UnspecifiedError {
			return b.Kind, mqtt.Errorf(mqtt.NotAuthorized, "", "authenticating: %v", err)
		}
		return b.Kind, err
	}
	if !c.HasUsername() && !c.HasPassword() {
		if a.allowAnonymous {
			return KindAnonymous, nil
		}
		return KindAnonymous, mqtt.Errorf(mqtt.NotAuthorized, "", "anonymous clients are not allowed on listener %q", c.Listener())
	}
	return KindNone, mqtt.Errorf(mqtt.BadUserNameOrPassword, "", "unknown user %q", c.Username())
}
