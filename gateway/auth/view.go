package auth

import (
	"crypto/tls"
	"fmt"
	"net"

	"edgemq/listeners"
	"edgemq/mqtt"
)

// View is the one implementation of ConnInfo (and RequestInfo) the
// server hands to authenticators: a CONNECT and its connection metadata.
// The backend that allows the client fills its Grant.
type View struct {
	meta     *listeners.Meta
	connect  *mqtt.Connect
	clientID string
	certID   string
	// certAsUser: certID replaced the user name.
	certAsUser bool
	grant      Grant
}

// NewView returns the view of CONNECT c from the connection meta, with
// the client identifier clientID (the assigned one when c has none) and
// the certificate identity certID ("" for none); certAsUser says certID
// replaced the user name (client_auth.identity_as username).
func NewView(meta *listeners.Meta, c *mqtt.Connect, clientID, certID string, certAsUser bool) *View {
	return &View{meta: meta, connect: c, clientID: clientID, certID: certID, certAsUser: certAsUser}
}

// Grant returns what the backend that allowed the client handed on.
func (v *View) Grant() *Grant { return &v.grant }

// Listener implements ConnInfo.
func (v *View) Listener() string { return v.meta.Listener }

// Transport implements ConnInfo.
func (v *View) Transport() listeners.Transport { return v.meta.Transport }

// RemoteAddr implements ConnInfo.
func (v *View) RemoteAddr() net.Addr { return v.meta.RemoteAddr }

// TLS implements ConnInfo.
func (v *View) TLS() *tls.ConnectionState { return v.meta.TLS }

// ProtocolVersion implements ConnInfo.
func (v *View) ProtocolVersion() mqtt.Version { return v.connect.Version }

// ClientID implements ConnInfo.
func (v *View) ClientID() string { return v.clientID }

// Username implements ConnInfo.
func (v *View) Username() string { return v.connect.Username }

// HasUsername implements ConnInfo.
func (v *View) HasUsername() bool { return v.connect.UsernameFlag }

// Password implements ConnInfo.
func (v *View) Password() []byte { return v.connect.Password }

// HasPassword implements ConnInfo.
func (v *View) HasPassword() bool { return v.connect.PasswordFlag }

// AuthMethod implements ConnInfo.
func (v *View) AuthMethod() string { return v.connect.Properties.AuthenticationMethod }

// AuthData implements ConnInfo.
func (v *View) AuthData() []byte { return v.connect.Properties.AuthenticationData }

// CertIdentity implements ConnInfo.
func (v *View) CertIdentity() string { return v.certID }

// Header implements RequestInfo.
func (v *View) Header(name string) string { return v.meta.Request.Header(name) }

// Cookie implements RequestInfo.
func (v *View) Cookie(name string) string { return v.meta.Request.Cookie(name) }

// Query implements RequestInfo.
func (v *View) Query(name string) string { return v.meta.Request.Query(name) }

// String names the client for logs: client id@address.
func (v *View) String() string {
	return fmt.Sprintf("%s@%s", v.clientID, v.meta.RemoteAddr)
}

// CertAsUser reports whether c is the server's view of a client whose
// user name came from its verified certificate (client_auth.identity_as:
// username): the certificate stands for a password.
func CertAsUser(c ConnInfo) bool {
	v, ok := c.(*View)
	return ok && v.certAsUser
}

// GrantOf returns the grant a backend may fill for c, nil when c is not
// the server's own view (a test's ConnInfo).
func GrantOf(c ConnInfo) *Grant {
	if v, ok := c.(*View); ok {
		return &v.grant
	}
	return nil
}
