package gateway

// Authentication is gateway/auth's (and its backends' below it); this file
// names its seams for programs that embed edgemq, and builds each
// listener's chain from the configuration.

import (
	"fmt"
	"net/http"

	"edgemq/configs"
	"edgemq/gateway/auth"
	"edgemq/gateway/auth/cert"
	"edgemq/gateway/auth/httphook"
	"edgemq/gateway/auth/jwt"
	"edgemq/gateway/auth/passwd"

	"go.uber.org/zap"
)

// ConnInfo is the read-only view of a connecting client handed to
// authentication and authorization plugins: auth.ConnInfo.
type ConnInfo = auth.ConnInfo

// Authenticator decides whether a client may connect: auth.Authenticator,
// whose doc comment is its contract.
type Authenticator = auth.Authenticator

// RequestInfo is implemented by the ConnInfo handed to authenticators:
// the WebSocket upgrade request (auth.RequestInfo).
type RequestInfo = auth.RequestInfo

// ACLClaims are topic filters a credential (a JWT's acl claim) carries
// (auth.ACLClaims).
type ACLClaims = auth.ACLClaims

// ErrNotMine is returned by an Authenticator that does not handle a
// client, so that the next one in the chain decides (auth.ErrNotMine).
var ErrNotMine = auth.ErrNotMine

// buildAuthChain returns the backends of listener lc, in order. built
// holds the backends made so far, shared between listeners by name, and
// the embedding program's (type plugin, WithAuthenticator);
// password files check passwords with verify. log is for the backends'
// own events (a password file reload).
func buildAuthChain(cfg *configs.Config, lc configs.Listener, users *passwd.StaticUsers, built map[string]auth.Backend, client *http.Client, verify *passwd.Verifier, log *zap.Logger) ([]auth.Backend, error) {
	var out []auth.Backend
	for _, name := range lc.AuthChain() {
		if name == configs.UsersBackend {
			out = append(out, auth.Backend{Authenticator: users, Kind: auth.KindStatic})
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
			out = append(out, auth.Backend{Authenticator: cert.New(bc.Cert, field), Kind: auth.KindCert})
			continue
		}
		if b, ok := built[name]; ok {
			out = append(out, b)
			continue
		}
		b := auth.Backend{}
		var err error
		switch bc.Type {
		case configs.BackendPasswordFile:
			b.Kind = auth.KindPasswd
			b.Authenticator, err = passwd.NewFileAuth(bc.PasswordFile, verify, log)
		case configs.BackendJWT:
			b.Kind = auth.KindJWT
			b.Authenticator, err = jwt.New(bc.JWT, client)
		case configs.BackendHTTP:
			b.Kind, b.Authenticator = auth.KindHTTP, httphook.New(name, bc.HTTP, client)
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
