package gateway

// Extension points for a Go program that embeds edgemq: its own
// authentication backends, authorizer and store, handed to New as
// options, and the names of the authentication seams they implement
// (gateway/auth's). The configuration still decides where each applies: a
// listener names a programmatic authentication backend in its auth list
// like any other (a backend of type plugin under auth.backends); the
// programmatic authorizer narrows the acl section; the programmatic store
// replaces the embedded bbolt store.

import (
	"errors"
	"fmt"
	"maps"
	"slices"

	"edgemq/configs"
	"edgemq/gateway/acl"
	"edgemq/gateway/auth"
	"edgemq/gateway/store"
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

// extensions are what the embedding program supplied (WithAuthenticator,
// WithAuthorizer, WithStore). Set by New, read-only after.
type extensions struct {
	// auth are the programmatic authentication backends by name.
	auth map[string]Authenticator
	// authz narrows the configured authorizer; nil for none.
	authz Authorizer
	// store replaces the embedded store; nil for none.
	store store.Store
	// errs are the options' own mistakes, reported by New.
	errs []error
}

// WithAuthenticator supplies the authentication backend named name: the
// auth.backends entry of that name, which must have type plugin. Every
// listener whose auth list names it asks a in that place of its chain,
// like a built-in backend, and keeps doing so across configuration
// reloads. One Authenticator may serve many listeners; it tells them apart
// by ConnInfo.Listener.
//
// a is asked about CONNECTs without an MQTT 5 Authentication Method
// (those go to enhanced authentication, enhauth.go), once the client has
// its place among the authentications in progress (auth.Gate), so a
// slow a holds up no more clients than those limits allow. It can allow,
// refuse or pass; it cannot rename the user or give the credential an
// expiry, ACL claims or rate limits as the jwt and http backends do.
//
// a gets a ConnInfo, a read-only view of the connecting client (never the
// connection itself), valid only until Authenticate returns; the one the
// server passes also implements RequestInfo. a must follow the contract of
// Authenticator: safe for concurrent use, honour ctx, answer nil,
// ErrNotMine or an error with a reason code (mqtt.Errorf). Its refusals
// are counted under backend "plugin" in
// edgemq_auth_backend_failures_total.
//
// New fails when name is not an auth.backends entry of type plugin, when
// it is supplied twice, or when a is nil; a listener that names a plugin
// backend no option supplies fails New (or the reload that adds it).
func WithAuthenticator(name string, a Authenticator) Option {
	return func(o *options) {
		x := &o.ext
		switch {
		case a == nil:
			x.errs = append(x.errs, fmt.Errorf("WithAuthenticator(%q): the authenticator is nil", name))
		case x.auth[name] != nil:
			x.errs = append(x.errs, fmt.Errorf("WithAuthenticator(%q): supplied twice", name))
		default:
			if x.auth == nil {
				x.auth = make(map[string]Authenticator)
			}
			x.auth[name] = a
		}
	}
}

// WithAuthorizer adds a to the authorization of every client: a topic is
// allowed only when both the configured authorizer (the acl section, or
// the one given to SetAuthorizer) and a allow it. The configured one is
// asked first; a is asked only about what it allows, so with the default
// acl section (default allow, no rules) a alone decides. a stays in force
// across configuration reloads, acl file reloads and SetAuthorizer, which
// replace the configured part only.
//
// a must follow the contract of Authorizer: safe for concurrent use, no
// blocking, and decisions that depend on the arguments only, because they
// are cached: a connection's publish decisions, and the read decision of
// each granted subscription, are kept until the authorizer in force is
// replaced (a reload that changes the acl section, an acl file reload,
// SetAuthorizer) or RefreshAuthorizer is called. A program whose
// authorizer decides from state it changes (revocations) calls
// RefreshAuthorizer after each change. The ConnInfo it gets carries no credentials and must
// not be kept. When a is also a QoSLimiter, a granted subscription gets
// the lower of the two maximum QoS. New fails when a is nil.
func WithAuthorizer(a Authorizer) Option {
	return func(o *options) {
		if a == nil {
			o.ext.errs = append(o.ext.errs, errors.New("WithAuthorizer: the authorizer is nil"))
			return
		}
		o.ext.authz = a
	}
}

// WithStore makes st the server's persistence in place of the embedded
// bbolt store (store.durability, store.flush_interval and the data
// directory's edgemq.db are then not used): sessions with a Session
// Expiry Interval, their subscriptions and QoS 1 and 2 deliveries, and
// retained messages are loaded from st by New and written to it as they
// change. st must follow the contract of package store: Apply never
// blocks and keeps the order of calls; done runs once the operations are
// as durable as st promises, and a QoS 1 or 2 PUBLISH is acknowledged
// only then; done must not run inside Apply.
//
// The server owns st once New is called: it closes st when Run returns,
// or when New fails. New fails when st is nil.
func WithStore(st store.Store) Option {
	return func(o *options) {
		if st == nil {
			o.ext.errs = append(o.ext.errs, errors.New("WithStore: the store is nil"))
			return
		}
		o.ext.store = st
	}
}

// RefreshAuthorizer tells the server that the decisions of its
// authorizer changed although the authorizer did not (a WithAuthorizer
// authorizer over state the program updates, such as a revocation list):
// every connection drops its cached publish decisions, and every granted
// subscription's read decision is made again before its next delivery, so
// a subscription now refused receives nothing more. Safe while the server
// runs; a no-op before New returns.
func (s *Server) RefreshAuthorizer() {
	s.eng.RenewAuthorizer() // proto/engine.go
}

// check reports the options' mistakes against cfg: a programmatic
// authentication backend must be an auth.backends entry of type plugin.
func (x *extensions) check(cfg *configs.Config) error {
	errs := slices.Clone(x.errs)
	for _, name := range slices.Sorted(maps.Keys(x.auth)) {
		b, ok := cfg.Auth.Backends[name]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("WithAuthenticator(%q): auth.backends has no entry %q (one of type %s)", name, name, configs.BackendPlugin))
		case b.Type != configs.BackendPlugin:
			errs = append(errs, fmt.Errorf("WithAuthenticator(%q): auth.backends.%s has type %s, want %s", name, name, b.Type, configs.BackendPlugin))
		}
	}
	return errors.Join(errs...)
}

// authenticators returns a new map of the programmatic authentication
// backends by name, for buildAuthChain to start from (it adds the
// backends it builds).
func (x *extensions) authenticators() map[string]auth.Backend {
	m := make(map[string]auth.Backend, len(x.auth))
	for name, a := range x.auth {
		m[name] = auth.Backend{Authenticator: a, Kind: auth.KindPlugin}
	}
	return m
}

// authorizer returns the authorizer to put in force for the configured
// one: configured itself without a programmatic authorizer, else both.
func (x *extensions) authorizer(configured Authorizer) Authorizer {
	return acl.Both(configured, x.authz)
}

// closeUnused closes the programmatic store when New fails before
// handing it to the server (which then closes it with its sources).
func (x *extensions) closeUnused(s *Server) {
	if x.store != nil && s.store.st == nil {
		_ = x.store.Close() // New's error is the one to report
	}
}

// pluginMissing is the error of a listener naming a plugin backend that
// no WithAuthenticator supplied (buildAuthChain).
func pluginMissing(name string) error {
	return fmt.Errorf("type %s: no authenticator supplied for it: a Go program embedding edgemq passes gateway.WithAuthenticator(%q, ...) to gateway.New; the edgemq binary supplies none", configs.BackendPlugin, name)
}
