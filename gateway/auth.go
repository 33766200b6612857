package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"

	"edgemq/configs"
	"edgemq/listeners"
	"edgemq/mqtt"
)

// ConnInfo is the read-only view of a connecting client handed to
// authentication and authorization plugins. Plugins never see the
// connection itself. Its methods are safe for concurrent use, and the
// byte slices it returns must not be modified. The ConnInfo handed to
// authenticators also implements RequestInfo (auth_chain.go): the
// WebSocket upgrade request's headers, cookies and query. It is an alias
// of an interface literal, the same type as acl.ConnInfo (acl.go).
type ConnInfo = interface {
	// Listener is the name of the listener the client came in on.
	Listener() string
	// Transport is tcp, tls, ws or wss.
	Transport() listeners.Transport
	// RemoteAddr is the client's real address.
	RemoteAddr() net.Addr
	// TLS is the connection's TLS state, nil for plain transports.
	TLS() *tls.ConnectionState
	// ProtocolVersion is the MQTT version of CONNECT.
	ProtocolVersion() mqtt.Version
	// ClientID is the client identifier (the assigned one when the client
	// sent none).
	ClientID() string
	// Username and HasUsername report the CONNECT user name.
	Username() string
	HasUsername() bool
	// Password and HasPassword report the CONNECT password.
	Password() []byte
	HasPassword() bool
	// AuthMethod and AuthData are the v5 Authentication Method and Data.
	AuthMethod() string
	AuthData() []byte
	// CertIdentity is the identity of the client's verified certificate
	// (the field named by the TLS source's client_auth.identity) when the
	// source maps it to authentication (client_auth.identity_as username
	// or client_id), else "". When it is not empty it has already
	// replaced the CONNECT user name (Username, HasUsername true) or the
	// client identifier (ClientID) as configured.
	CertIdentity() string
}

// ErrNotMine is returned by an Authenticator that does not handle a
// client, so that the next one in the chain decides.
var ErrNotMine = errors.New("authenticator does not handle this client")

// Authenticator decides whether a client may connect. The built-in ones
// are the backends of auth.backends; a Go program embedding edgemq
// supplies its own with WithAuthenticator (a backend of type plugin).
//
// Authenticate is called concurrently for many clients. ctx is cancelled
// when the client goes away or its connect deadline passes; a backend that
// blocks must honour it. It returns nil to allow the client, ErrNotMine to
// leave the decision to the next authenticator, or an error carrying the
// refusal's reason code (see mqtt.CodeOf): mqtt.BadUserNameOrPassword,
// mqtt.NotAuthorized or mqtt.BadAuthenticationMethod. Any other error
// refuses the client as not authorized.
type Authenticator interface {
	Authenticate(ctx context.Context, c ConnInfo) error
}

// authChain runs authenticators in order; the first that does not answer
// ErrNotMine decides. When none decides, anonymous clients are let in if
// the listener allows it.
type authChain struct {
	backends       []Authenticator
	allowAnonymous bool
	// identityAs (username or client_id; "" for none) and identityField
	// (cn, san_dns, san_email, san_uri) map the client certificate of a
	// tls or wss listener (certIdentity, connect.go).
	identityAs, identityField string
}

// hasWork reports whether authenticating c runs anything: a backend of
// the listener, or credentials to check. A client with neither is let in
// or refused by the anonymous rule alone, at no cost, so it takes no place
// under the caps on authentications in progress (auth_limit.go).
func (a *authChain) hasWork(c *mqtt.Connect) bool {
	return len(a.backends) > 0 || c.UsernameFlag || c.PasswordFlag
}

// client_auth.identity_as values that substitute the certificate identity.
const (
	identityAsUsername = "username"
	identityAsClientID = "client_id"
)

// authenticate returns nil or a refusal with its reason code, and the
// kind of backend that decided (auth_chain.go).
func (a *authChain) authenticate(ctx context.Context, c ConnInfo) (authBackend, error) {
	if c.AuthMethod() != "" {
		// Enhanced authentication (SCRAM) is built in, but it is not the
		// chain's: connect hands a CONNECT with an Authentication Method
		// to the AUTH exchange (enhauth.go), so it never gets here. The
		// backends below check a user name and password or a certificate,
		// none runs an AUTH exchange: a method that reaches the chain
		// anyway is refused [MQTT-4.12.0-1].
		return backendEnhanced, mqtt.Errorf(mqtt.BadAuthenticationMethod, "MQTT-4.12.0-1", "authentication method %q not supported", c.AuthMethod())
	}
	for _, b := range a.backends {
		err := b.Authenticate(ctx, c)
		if errors.Is(err, ErrNotMine) {
			continue
		}
		if err != nil && mqtt.CodeOf(err) == mqtt.UnspecifiedError {
			return backendOf(b), mqtt.Errorf(mqtt.NotAuthorized, "", "authenticating: %v", err)
		}
		return backendOf(b), err
	}
	if !c.HasUsername() && !c.HasPassword() {
		if a.allowAnonymous {
			return backendAnonymous, nil
		}
		return backendAnonymous, mqtt.Errorf(mqtt.NotAuthorized, "", "anonymous clients are not allowed on listener %q", c.Listener())
	}
	return backendNone, mqtt.Errorf(mqtt.BadUserNameOrPassword, "", "unknown user %q", c.Username())
}

// staticUsers authenticates the users listed in the configuration.
type staticUsers struct {
	hashes map[string]string
	verify *passwordVerifier // auth_verify.go
}

// newStaticUsers builds the users of auth.users, warning (through
// verify) that their bcrypt hashes refuse passwords over 72 bytes.
func newStaticUsers(users []configs.User, verify *passwordVerifier) *staticUsers {
	s := &staticUsers{hashes: make(map[string]string, len(users)), verify: verify}
	names := make([]string, 0, len(users))
	for _, u := range users {
		s.hashes[u.Username] = u.PasswordHash
		names = append(names, u.Username)
	}
	verify.warnBcrypt("auth.users", names) // all of them are bcrypt (configs)
	return s
}

// Authenticate checks the password of a listed user; other clients are
// not its business. A listed user whose name came from a verified client
// certificate (client_auth.identity_as: username) and who sends no
// password is let in: the certificate stands for the password. The hash
// waits for the hash pool until ctx ends (then 0x89 Server busy).
func (s *staticUsers) Authenticate(ctx context.Context, c ConnInfo) error {
	if !c.HasUsername() {
		return ErrNotMine
	}
	hash, ok := s.hashes[c.Username()]
	if !ok {
		return ErrNotMine
	}
	if v, isView := c.(*connView); isView && v.certAsUser && !c.HasPassword() {
		return nil
	}
	match, err := s.verify.check(ctx, hash, c.Password())
	if mqtt.CodeOf(err) == mqtt.ServerBusy {
		return err
	}
	if !match {
		return mqtt.Errorf(mqtt.BadUserNameOrPassword, "", "wrong password for user %q", c.Username())
	}
	return nil
}

// connView implements ConnInfo over a CONNECT and its connection metadata.
type connView struct {
	meta     *listeners.Meta
	connect  *mqtt.Connect
	clientID string
	certID   string
	// certAsUser: certID replaced the user name.
	certAsUser bool
	// grant is filled by the backend that allows the client
	// (auth_chain.go).
	grant authGrant
}

func (v *connView) Listener() string               { return v.meta.Listener }
func (v *connView) Transport() listeners.Transport { return v.meta.Transport }
func (v *connView) RemoteAddr() net.Addr           { return v.meta.RemoteAddr }
func (v *connView) TLS() *tls.ConnectionState      { return v.meta.TLS }
func (v *connView) ProtocolVersion() mqtt.Version  { return v.connect.Version }
func (v *connView) ClientID() string               { return v.clientID }
func (v *connView) Username() string               { return v.connect.Username }
func (v *connView) HasUsername() bool              { return v.connect.UsernameFlag }
func (v *connView) Password() []byte               { return v.connect.Password }
func (v *connView) HasPassword() bool              { return v.connect.PasswordFlag }
func (v *connView) AuthMethod() string             { return v.connect.Properties.AuthenticationMethod }
func (v *connView) AuthData() []byte               { return v.connect.Properties.AuthenticationData }
func (v *connView) CertIdentity() string           { return v.certID }

func (v *connView) String() string {
	return fmt.Sprintf("%s@%s", v.clientID, v.meta.RemoteAddr)
}
