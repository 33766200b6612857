package auth

import (
	"context"
	"crypto/tls"
	"errors"
	"net"

	"edgemq/listeners"
	"edgemq/mqtt"
)

// ConnInfo is the read-only view of a connecting client handed to
// authentication and authorization plugins. Plugins never see the
// connection itself. Its methods are safe for concurrent use, and the
// byte slices it returns must not be modified. The ConnInfo handed to
// authenticators (a *View) also implements RequestInfo: the WebSocket
// upgrade request's headers, cookies and query.
//
// It is an alias of an interface literal, not a defined type, so that the
// ConnInfo of gateway/acl, declared the same way, is the very same type
// without either package importing the other. Keep the two method sets
// identical.
//
//   - Listener is the name of the listener the client came in on.
//   - Transport is tcp, tls, ws or wss.
//   - RemoteAddr is the client's real address.
//   - TLS is the connection's TLS state, nil for plain transports.
//   - ProtocolVersion is the MQTT version of CONNECT.
//   - ClientID is the client identifier (the assigned one when the
//     client sent none).
//   - Username and HasUsername report the CONNECT user name.
//   - Password and HasPassword report the CONNECT password.
//   - AuthMethod and AuthData are the v5 Authentication Method and Data.
//   - CertIdentity is the identity of the client's verified certificate
//     (the field named by the TLS source's client_auth.identity) when the
//     source maps it to authentication (client_auth.identity_as username
//     or client_id), else "". When it is not empty it has already
//     replaced the CONNECT user name (Username, HasUsername true) or the
//     client identifier (ClientID) as configured.
type ConnInfo = interface {
	Listener() string
	Transport() listeners.Transport
	RemoteAddr() net.Addr
	TLS() *tls.ConnectionState
	ProtocolVersion() mqtt.Version
	ClientID() string
	Username() string
	HasUsername() bool
	Password() []byte
	HasPassword() bool
	AuthMethod() string
	AuthData() []byte
	CertIdentity() string
}

// ErrNotMine is returned by an Authenticator that does not handle a
// client, so that the next one in the chain decides.
var ErrNotMine = errors.New("authenticator does not handle this client")

// Authenticator decides whether a client may connect. The built-in ones
// are the backends of auth.backends (the packages below this one); a Go
// program embedding edgemq supplies its own with gateway.WithAuthenticator
// (a backend of type plugin).
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

// RemoteIP is the address part of a remote address: the key of the
// per-address authentication caps and brute-force counts.
func RemoteIP(a net.Addr) string {
	switch a := a.(type) {
	case *net.TCPAddr:
		return a.IP.String()
	case nil:
		return ""
	}
	s := a.String()
	if h, _, err := net.SplitHostPort(s); err == nil {
		return h
	}
	return s
}
