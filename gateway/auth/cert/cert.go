package cert

import (
	"context"

	"edgemq/certs"
	"edgemq/configs"
	"edgemq/gateway/auth"
	"edgemq/mqtt"
)

// Auth (a backend of type cert) lets in a client whose verified client certificate carries an
// identity (the listener's tls client_auth.identity field), optionally
// only listed identities. Clients without a verified certificate are not
// its business; an unlisted identity is refused with Not Authorized. It
// is immutable once built and safe for concurrent use.
type Auth struct {
	field string
	allow map[string]bool // nil: any identity
}

// New returns the backend of cfg for a listener whose TLS source names
// the client by the certificate field field (client_auth.identity).
func New(cfg configs.CertAuth, field string) *Auth {
	a := &Auth{field: field}
	if len(cfg.Identities) > 0 {
		a.allow = make(map[string]bool, len(cfg.Identities))
		for _, id := range cfg.Identities {
			a.allow[id] = true
		}
	}
	return a
}

// Authenticate checks the identity of c's verified certificate.
func (a *Auth) Authenticate(_ context.Context, c auth.ConnInfo) error {
	id := c.CertIdentity()
	if id == "" {
		id = certs.Identity(c.TLS(), a.field)
	}
	if id == "" {
		return auth.ErrNotMine
	}
	if a.allow != nil && !a.allow[id] {
		return mqtt.Errorf(mqtt.NotAuthorized, "", "certificate identity %q is not allowed", id)
	}
	return nil
}
