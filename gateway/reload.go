package gateway

// Configuration reload (SIGHUP in cmd/edgemq, or the admin API): a new
// configuration replaces the certificate sources, authentication chains,
// ACL, MQTT limit profiles and admission limits in force without dropping
// a connection.
//
// Semantics:
//
//   - All or nothing. Every new piece (certificate sources, profiles,
//     authentication chains, the ACL) is built first; only when all are
//     built are they swapped in, and the certificate sources no longer
//     used are closed. On a build error what was built is closed and the
//     old configuration stays in force.
//   - A configuration that fails validation is refused with the reason.
//   - A change that cannot be applied to a running server refuses the
//     whole reload, naming the keys ("listeners[ws].address: needs a
//     restart"), so that what runs is always one coherent configuration:
//     listeners added or removed, or their type, address, websocket,
//     proxy_protocol, trusted_proxies or limits changed; data_dir, store,
//     ops, admin, log, session, retained, sys, auth.scram,
//     auth.brute_force, auth.concurrency, auth.hash_memory and
//     auth.hash_workers; the
//     handshake_timeout of a tls entry in use; and any change to a tls
//     entry whose old or new source is ACME (certmagic, autocert: their
//     HTTP-01 listener and cache are not built twice).
//   - What is applied: tls (new handshakes use the new source; live
//     connections keep theirs), auth.users, auth.backends and a listener's
//     auth, allow_anonymous and tls (new CONNECTs and no re-authentication
//     of live clients: a client keeps the chain it connected with, also for
//     MQTT 5 re-authentication), mqtt and profiles and a listener's profile
//     (new connections; live ones keep their negotiated values; a ws
//     listener's frame limit and upgrade timeout stay the max_packet_size
//     and connect_timeout it started with), acl (live clients are checked
//     against the new rules on their next PUBLISH or SUBSCRIBE, and every
//     session's deliveries at once (proto/owner.go); it replaces an authorizer installed with
//     SetAuthorizer), limits (per-IP and gateway counts are kept; a
//     listener with per-IP limits of its own keeps them, and a change of
//     listeners[].limits needs a restart), overload, a listener's
//     max_connections, drain and shutdown_timeout.
//
// Locks: reloader.mu serialises reloads; the acl file watcher
// (assemble.go) takes it too, so that it never installs rules built from
// a replaced configuration. What it is held around: LOCKS.md.

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"

	"edgemq/certs"
	"edgemq/configs"
	"edgemq/gateway/acl"
	"edgemq/gateway/auth"
	"edgemq/gateway/auth/jwt"
	"edgemq/gateway/auth/passwd"
	"edgemq/gateway/filewatch"
	"edgemq/gateway/internal/lockorder"
	"edgemq/gateway/proto"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// ErrNeedsRestart is wrapped by the error of a reload refused because
// the new configuration changes keys that only a restart applies; the
// ReloadResult's NeedsRestart names them.
var ErrNeedsRestart = errors.New("needs a restart")

// ReloadResult is what a reload found and did. Changed are the key paths
// that differ from the configuration in force (only paths: never values).
// Applied are the keys now in force: all of Changed after a successful
// reload, none after a refusal. NeedsRestart are the changed keys only a
// restart applies; when there are any the reload is refused.
type ReloadResult struct {
	Changed      []string `json:"changed"`
	Applied      []string `json:"applied"`
	NeedsRestart []string `json:"needs_restart"`
}

// nonNil makes the lists empty rather than nil: JSON [] not null.
func (r *ReloadResult) nonNil() {
	for _, l := range []*[]string{&r.Changed, &r.Applied, &r.NeedsRestart} {
		if *l == nil {
			*l = []string{}
		}
	}
}

// WithConfigLoader sets how ReloadConfig re-reads the configuration, e.g.
// configs.Load of the file the server started with.
func WithConfigLoader(load func() (*configs.Config, error)) Option {
	return func(o *options) { o.loader = load }
}

// reloader is the reload state of a Server.
type reloader struct {
	// mu serialises reloads (and the acl file watcher's rebuilds).
	mu lockorder.Mutex[reloaderMu]
	// cur is the configuration in force.
	cur  atomic.Pointer[configs.Config]
	load func() (*configs.Config, error)
	// authHTTP is the server's client of http backends and JWKS URLs.
	authHTTP *http.Client
	// clock is the JWKS caches' clock (withClock); nil: the wall clock.
	clock jwt.Clock
	// aclWatch is the acl file's watcher made before the first rules
	// were built from it (acl.NewFileWatcher), for acl.WatchFile.
	aclWatch *filewatch.Watcher
	// aclWake tells the acl file watcher that the acl section changed,
	// with the new section's watcher (made before its rules were built).
	aclWake chan *filewatch.Watcher

	total *prometheus.CounterVec // edgemq_config_reloads_total{result}
	last  prometheus.Gauge       // last successful reload, unix seconds
}

// initReloader sets up the reload state of a new server with cfg in
// force.
func (s *Server) initReloader(cfg *configs.Config, o options, authHTTP *http.Client) {
	r := &s.reloads
	r.cur.Store(cfg)
	r.load = o.loader
	r.authHTTP = authHTTP
	r.clock = o.clock
	r.aclWatch = acl.NewFileWatcher(cfg.ACL) // before newEngine builds the rules
	r.aclWake = make(chan *filewatch.Watcher, 1)
	r.total = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "edgemq_config_reloads_total",
		Help: "Configuration reloads by result (ok, refused).",
	}, []string{"result"})
	r.last = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "edgemq_config_last_reload_success_timestamp_seconds",
		Help: "Unix time of the last successful configuration reload (0: none since start).",
	})
	r.total.WithLabelValues("ok")
	r.total.WithLabelValues("refused")
	s.metrics.MustRegister(r.total, r.last)
}

// config returns the configuration in force.
func (s *Server) config() *configs.Config { return s.reloads.cur.Load() }

// ReloadConfig loads the configuration with the loader of
// WithConfigLoader and applies it with Reload. A configuration that does
// not load is refused like one Reload refuses.
func (s *Server) ReloadConfig(ctx context.Context) (ReloadResult, error) {
	var none ReloadResult
	none.nonNil()
	if s.reloads.load == nil {
		return none, s.refused(none, errors.New("reloading configuration: no configuration loader (WithConfigLoader)"))
	}
	cfg, err := s.reloads.load()
	if err != nil {
		return none, s.refused(none, fmt.Errorf("loading configuration: %w", err))
	}
	return s.Reload(ctx, cfg)
}

// Reload validates cfg and puts it in force without dropping connections
// (see the semantics at the top of reload.go), or refuses it with the
// reason and keeps the configuration in force. Reloads are serialised;
// it is safe while clients connect. ctx bounds building certificate
// sources. cfg must not be changed afterwards.
func (s *Server) Reload(ctx context.Context, cfg *configs.Config) (ReloadResult, error) {
	s.reloads.mu.Lock()
	defer s.reloads.mu.Unlock()
	res, err := s.reload(ctx, cfg)
	res.nonNil()
	if err != nil {
		return res, s.refused(res, err)
	}
	s.reloads.total.WithLabelValues("ok").Inc()
	s.reloads.last.SetToCurrentTime()
	s.log.Info("configuration reloaded", zap.Strings("changed", res.Changed))
	return res, nil
}

// refused logs and counts a refused reload and returns err.
func (s *Server) refused(res ReloadResult, err error) error {
	s.reloads.total.WithLabelValues("refused").Inc()
	s.log.Warn("configuration reload refused", zap.Strings("changed", res.Changed),
		zap.Strings("needs_restart", res.NeedsRestart), zap.Error(err))
	return err
}

func (s *Server) reload(ctx context.Context, cfg *configs.Config) (ReloadResult, error) {
	if cfg == nil {
		return ReloadResult{}, errors.New("reloading configuration: no configuration")
	}
	if err := cfg.Validate(); err != nil {
		return ReloadResult{}, fmt.Errorf("validating configuration: %w", err)
	}
	old := s.config()
	res := ReloadResult{Changed: configs.Diff(old, cfg)}
	if len(res.Changed) == 0 {
		return res, nil
	}
	res.NeedsRestart = restartKeys(res.Changed, old, cfg)
	if len(res.NeedsRestart) > 0 {
		return res, fmt.Errorf("reloading configuration: %s: %w", strings.Join(res.NeedsRestart, ", "), ErrNeedsRestart)
	}
	p, err := s.buildReload(ctx, cfg, res.Changed)
	if err != nil {
		p.abandon(s.log)
		return res, fmt.Errorf("reloading configuration: %w", err)
	}
	if err := s.swapReload(cfg, res.Changed, p); err != nil {
		p.abandon(s.log)
		return res, fmt.Errorf("reloading configuration: %w", err)
	}
	res.Applied = res.Changed
	return res, nil
}

// restartKeys returns the changed keys that only a restart applies.
func restartKeys(changed []string, old, cfg *configs.Config) []string {
	var out []string
	for _, k := range changed {
		if !liveKey(k, old, cfg) {
			out = append(out, k)
		}
	}
	return out
}

// liveKey reports whether a change of key k can be applied to a running
// server.
func liveKey(k string, old, cfg *configs.Config) bool {
	if _, rest, ok := configs.ListenerKey(k); ok {
		switch rest {
		case "profile", "auth", "allow_anonymous", "max_connections", "tls":
			return true
		}
		return false // added, removed, type, address, websocket, proxy...
	}
	if after, ok := strings.CutPrefix(k, "tls."); ok {
		name, rest, _ := strings.Cut(after, ".")
		acme := func(c *configs.Config) bool {
			src, ok := c.TLS[name]
			return ok && (src.Source == "certmagic" || src.Source == "autocert")
		}
		if acme(old) || acme(cfg) {
			return false
		}
		if rest == "handshake_timeout" {
			return !slices.ContainsFunc(old.Listeners, func(l configs.Listener) bool { return l.TLS == name })
		}
		return true
	}
	for _, live := range []string{"mqtt", "profiles", "auth.users", "auth.backends", "acl", "limits", "overload", "drain", "shutdown_timeout"} {
		if configs.UnderKey(k, live) {
			return true
		}
	}
	return false
}

// reloadPlan is what a reload built, before the swap.
type reloadPlan struct {
	// sources are the certificate sources in force after the swap.
	sources map[string]certs.Source
	// built are the sources built for this reload (closed if abandoned),
	// retired those in force now and not after (closed after the swap).
	built, retired []certs.Source
	// lsts are by index of Server.lsts.
	lsts []listenerPlan
	acl  Authorizer // nil: unchanged
	// aclWatch watches acl.file from before acl's rules were read.
	aclWatch *filewatch.Watcher
}

// listenerPlan is the new state of one listener; nil fields are
// unchanged.
type listenerPlan struct {
	cfg  configs.Listener
	prof *proto.Profile
	auth *auth.Chain
	tls  *tls.Config
	src  certs.Source
}

// abandon closes the sources a failed reload built.
func (p *reloadPlan) abandon(log *zap.Logger) {
	for _, src := range p.built {
		if err := src.Close(); err != nil {
			log.Warn("closing tls source failed", zap.Error(err))
		}
	}
}

// buildReload builds every piece cfg changes; nothing is in force yet.
// The returned plan is never nil.
func (s *Server) buildReload(ctx context.Context, cfg *configs.Config, changed []string) (*reloadPlan, error) {
	s.srcMu.Lock()
	cur := maps.Clone(s.sources)
	s.srcMu.Unlock()
	p := &reloadPlan{sources: map[string]certs.Source{}}
	for _, lc := range cfg.Listeners {
		if lc.Type != "tls" && lc.Type != "wss" {
			continue
		}
		name := lc.TLS
		if _, done := p.sources[name]; done {
			continue
		}
		if src, ok := cur[name]; ok && !configs.HasKey(changed, "tls."+name) {
			p.sources[name] = src
			continue
		}
		src, err := certs.New(ctx, name, cfg.TLS[name], cfg.DataDir, s.log)
		if err != nil {
			return p, fmt.Errorf("building tls source %q: %w", name, err)
		}
		p.sources[name] = src
		p.built = append(p.built, src)
	}
	for name, src := range cur {
		if p.sources[name] != src {
			p.retired = append(p.retired, src)
		}
	}

	profiles := configs.HasKey(changed, "mqtt") || configs.HasKey(changed, "profiles")
	authChanged := configs.HasKey(changed, "auth") || configs.HasKey(changed, "tls")
	users := passwd.NewStaticUsers(cfg.Auth.Users, s.eng.PasswordVerifier())
	backends := s.ext.authenticators() // shared by name, as at start
	for _, l := range s.lsts {
		i := slices.IndexFunc(cfg.Listeners, func(lc configs.Listener) bool { return lc.Name == l.cfg.Name })
		if i < 0 { // restartKeys refused it already
			return p, fmt.Errorf("listener %q: removed: %w", l.cfg.Name, ErrNeedsRestart)
		}
		lc := cfg.Listeners[i]
		key := "listeners[" + lc.Name + "]"
		lp := listenerPlan{cfg: lc}
		if profiles || configs.HasKey(changed, key+".profile") {
			prof, err := proto.NewProfile(cfg.LimitsFor(lc))
			if err != nil {
				return p, fmt.Errorf("listener %q: %w", lc.Name, err)
			}
			lp.prof = prof
		}
		if authChanged || configs.HasKey(changed, key+".auth") || configs.HasKey(changed, key+".allow_anonymous") || configs.HasKey(changed, key+".tls") {
			chain, err := s.buildAuthChain(cfg, lc, users, backends) // assemble.go
			if err != nil {
				return p, fmt.Errorf("listener %q: %w", lc.Name, err)
			}
			a := auth.NewChain(lc.Anonymous(), chain...)
			if l.tls != nil {
				a.SetCertIdentityOf(cfg.TLS[lc.TLS].ClientAuth)
			}
			lp.auth = a
		}
		if l.tls != nil && p.sources[lc.TLS] != l.tls.src {
			lp.src = p.sources[lc.TLS]
			lp.tls = listenerTLS(lc.Type, lp.src)
		}
		p.lsts = append(p.lsts, lp)
	}

	if configs.HasKey(changed, "acl") {
		p.aclWatch = acl.NewFileWatcher(cfg.ACL) // before the rules are read from the file
		a, err := NewStaticACL(cfg.ACL)
		if err != nil {
			return p, fmt.Errorf("building acl: %w", err)
		}
		p.acl = a
	}
	return p, nil
}

// swapReload puts a built plan in force: cfg becomes the configuration
// in force, and the sources no longer used are closed. It fails only when
// the server stopped (closeSources) meanwhile.
func (s *Server) swapReload(cfg *configs.Config, changed []string, p *reloadPlan) error {
	s.srcMu.Lock()
	if s.sourcesClosed {
		s.srcMu.Unlock()
		return errors.New("the server has stopped")
	}
	s.sources = p.sources
	s.srcMu.Unlock()
	for i, l := range s.lsts {
		lp := p.lsts[i]
		if lp.prof != nil {
			l.prof.Store(lp.prof)
		}
		if lp.auth != nil {
			l.auth.Store(lp.auth)
		}
		if lp.tls != nil {
			l.tls.src = lp.src
			l.tls.cur.Store(lp.tls)
		}
		if configs.HasKey(changed, "listeners["+lp.cfg.Name+"].max_connections") {
			s.mu.Lock()
			l.cfg.MaxConnections = lp.cfg.MaxConnections // track reads it under s.mu
			s.mu.Unlock()
		}
	}
	if configs.HasKey(changed, "limits") {
		s.adm.SetLimits(cfg.Limits)
		// Listeners with partial per-IP overrides inherit the rest.
		s.setListenerAdmission(cfg) // assemble.go
	}
	if configs.HasKey(changed, "overload") {
		s.setOverload(cfg) // assemble.go
	}
	if p.acl != nil {
		s.SetAuthorizer(p.acl) // connections drop their cached decisions
	}
	s.reloads.cur.Store(cfg)
	if p.acl != nil {
		// Only the newest watcher matters: one not taken yet is replaced.
		// (Reloads are serialised by reloads.mu: nobody else sends.)
		select {
		case <-s.reloads.aclWake:
		default:
		}
		s.reloads.aclWake <- p.aclWatch
	}
	for _, src := range p.retired {
		if err := src.Close(); err != nil {
			s.log.Warn("closing tls source failed", zap.Error(err))
		}
	}
	return nil
}

// tlsSources returns the certificate sources in force, by tls entry
// name, and their configuration.
func (s *Server) tlsSources() (map[string]certs.Source, map[string]configs.TLSSource) {
	s.srcMu.Lock()
	defer s.srcMu.Unlock()
	return maps.Clone(s.sources), s.config().TLS
}

// listenerTLS is the configuration a listener of type typ serves from
// src. Browsers offer ALPN h2 and http/1.1 and the source only announces
// mqtt: a wss listener speaks HTTP/1.1 for the upgrade, so it announces
// http/1.1 too. (Clients offering neither, e.g. h2 only, are served
// without ALPN.) WithNextProtos, not Clone: it keeps that ALPN fallback
// consistent with the added protocol.
func listenerTLS(typ string, src certs.Source) *tls.Config {
	if typ == "wss" {
		return certs.WithNextProtos(src.TLSConfig(), "http/1.1")
	}
	return src.TLSConfig()
}

// tlsSwitch is the TLS configuration of a tls or wss listener, which a
// reload replaces. cur is read by every handshake; src is the source cur
// comes from, used only under reloader.mu (and by NewContext).
type tlsSwitch struct {
	cur atomic.Pointer[tls.Config]
	src certs.Source
}

func newTLSSwitch(typ string, src certs.Source) *tlsSwitch {
	w := &tlsSwitch{src: src}
	w.cur.Store(listenerTLS(typ, src))
	return w
}

// config returns the *tls.Config the listener is built with. It holds no
// certificate: for each ClientHello, GetConfigForClient hands over the
// configuration in force then or, as that configuration's own
// GetConfigForClient decides, its ALPN fallback (certs serveWithoutALPN).
// So a handshake uses the source in force when it starts, and
// connections already made keep theirs.
func (w *tlsSwitch) config() *tls.Config {
	first := w.cur.Load()
	return &tls.Config{
		NextProtos: slices.Clone(first.NextProtos),
		MinVersion: first.MinVersion,
		GetConfigForClient: func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
			tc := w.cur.Load()
			if tc.GetConfigForClient != nil {
				if c, err := tc.GetConfigForClient(hello); err != nil || c != nil {
					return c, err
				}
			}
			return tc, nil
		},
	}
}
