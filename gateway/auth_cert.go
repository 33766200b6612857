package gateway

import (
	"context"

	"edgemq/certs"
	"edgemq/configs"
	"edgemq/mqtt"
)

// certAuth lets in a client whose verified client certificate carries an
// identity (the listener's tls client_auth.identity field), optionally
// only listed identities. Clients without a verified certificate are not
// its business; an unlisted identity is refused with Not Authorized.
type certAuth struct {
	field string
	allow map[string]bool // nil: any identity
}

func newCertAuth(cfg configs.CertAuth, field string) *certAuth {
	a := &certAuth{field: field}
	if len(cfg.Identities) > 0 {
		a.allow = make(map[string]bool, len(cfg.Identities))
		for _, id := range cfg.Identities {
			a.allow[id] = true
		}
	}
	return a
}

func (a *certAuth) Authenticate(_ context.Context, c ConnInfo) error {
	id := c.CertIdentity()
	if id == "" {
		id = certs.Identity(c.TLS(), a.field)
	}
	if id == "" {
		return ErrNotMine
	}
	if a.allow != nil && !a.allow[id] {
		return mqtt.Errorf(mqtt.NotAuthorized, "", "certificate identity %q is not allowed", id)
	}
	return nil
}
