package gateway

// The assembly of the concerns the configuration builds and a reload
// rebuilds: each listener's authentication chain (gateway/auth and its
// backends), the ACL file watch (gateway/acl), the admission limits and
// the overload protection (gateway/limits); and the glue of each to the
// server: the hooks a connection calls (connHost), the counters of
// Stats, the refusal log. What each concern does is its package's; this
// file only picks and wires. Their metrics are in ops_source.go.

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	"edgemq/configs"
	"edgemq/gateway/acl"
	"edgemq/gateway/auth"
	"edgemq/gateway/auth/cert"
	"edgemq/gateway/auth/httphook"
	"edgemq/gateway/auth/jwt"
	"edgemq/gateway/auth/passwd"
	"edgemq/gateway/limits"
	"edgemq/gateway/proto"
	"edgemq/listeners"

	"go.uber.org/zap"
)

// buildAuthChain returns the backends of listener lc of cfg, in order.
// built holds the backends made so far, shared between listeners by name,
// and the embedding program's (type plugin, WithAuthenticator, options.go).
// Password files check passwords with the server's verifier and log
// their reloads to its log; http backends and JWKS URLs are fetched with
// its client; the JWKS caches read its clock (withClock).
func (s *Server) buildAuthChain(cfg *configs.Config, lc configs.Listener, users *passwd.StaticUsers, built map[string]auth.Backend) ([]auth.Backend, error) {
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
			b.Authenticator, err = passwd.NewFileAuth(bc.PasswordFile, s.eng.PasswordVerifier(), s.log)
		case configs.BackendJWT:
			b.Kind = auth.KindJWT
			b.Authenticator, err = jwt.New(bc.JWT, s.reloads.authHTTP, jwt.WithClock(s.reloads.clock))
		case configs.BackendHTTP:
			b.Kind, b.Authenticator = auth.KindHTTP, httphook.New(name, bc.HTTP, s.reloads.authHTTP)
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

// watchACLFile watches acl.file every acl.reload_interval
// (acl.WatchFile) and, on a change, rebuilds the static ACL (acl.rules
// then the file's) and installs it with SetAuthorizer: every connection
// drops its cached decisions. A file that fails to load is logged and the
// rules in force stay. A reload replaces an authorizer set with
// SetAuthorizer. It follows the acl section in force: a configuration
// reload that changes it (reload.go) wakes it. It returns a function that
// stops the polling.
func (s *Server) watchACLFile(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		acl.WatchFile(ctx, s.log, s.reloads.aclWatch, func() configs.ACL { return s.config().ACL }, s.reloads.aclWake, s.reloadACLFile)
	}()
	return func() { cancel(); wg.Wait() }
}

// reloadACLFile rebuilds the ACL of the configuration in force, under
// the reload lock so that it never installs rules of a replaced
// configuration.
func (s *Server) reloadACLFile() {
	s.reloads.mu.Lock()
	defer s.reloads.mu.Unlock()
	cfg := s.config().ACL
	a, err := acl.NewStatic(cfg)
	if err != nil {
		s.log.Error("acl file not reloaded: keeping the rules in force", zap.String("file", cfg.File), zap.Error(err))
		return
	}
	s.SetAuthorizer(a)
	s.log.Info("acl file reloaded", zap.String("file", cfg.File))
}

// admissionLog logs admission refusals to the connection-life log
// (proto/connlog.go, sampled: it takes none of the limits' locks).
type admissionLog struct{ cl *proto.ConnLog }

// AdmissionRefused implements limits.RefusalLog.
func (l admissionLog) AdmissionRefused(listener, reason string, remote net.Addr) {
	l.cl.AdmissionRefused(listener, reason, remote)
}

// setListenerAdmission installs the per-IP overrides of cfg's listeners
// (listeners[].limits) on their gates, for a configuration reload: call it
// after the gateway-wide limits are set (limits.Admission.SetLimits).
// Connections are not touched. Safe from any goroutine.
func (s *Server) setListenerAdmission(cfg *configs.Config) { s.adm.SetListeners(cfg) }

// releaseTicket releases the connection's ticket, if any.
func releaseTicket(m *listeners.Meta) { limits.Release(m) }

// admissionBusy reports whether a reconnect storm refuses a CONNECT now
// (limits.Admission.Busy), for a connection (connHost).
func (s *Server) admissionBusy() bool { return s.adm.Busy() }

// connectTimeout is the time a new socket has to send CONNECT
// (limits.Admission.ConnectTimeout), for a connection (connHost).
func (s *Server) connectTimeout(profile time.Duration) time.Duration {
	return s.adm.ConnectTimeout(profile)
}

// setOverload installs the overload section of cfg (at start and on a
// configuration reload); the sampler picks it up at once. Connections are
// not touched. Safe from any goroutine.
func (s *Server) setOverload(cfg *configs.Config) { s.overload.Set(cfg.Overload) }

// refuseOverloaded reports whether the gateway is overloaded now, and
// then counts the CONNECT it refuses (connHost).
func (s *Server) refuseOverloaded() bool { return s.overload.Refuse() }

// startOverload runs the overload sampler until ctx ends or the returned
// stop is called; stop waits for it.
func (s *Server) startOverload(ctx context.Context) (stop func()) { return s.overload.Start(ctx) }

// admissionSnapshot fills the admission part of a Stats snapshot.
func (s *Server) admissionSnapshot(out *Stats) {
	out.AdmissionRefused = s.adm.Refused()
	out.Unauthenticated = s.adm.Unauthenticated()
}

// limitsSnapshot fills the rate limit and overload part of Stats.
func (s *Server) limitsSnapshot(out *Stats) {
	out.RateLimited = s.rlim.Limited()
	out.Overloaded = s.overload.Active()
	out.OverloadRefused = s.overload.Refused()
}
