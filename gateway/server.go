package gateway

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"edgemq/certs"
	"edgemq/configs"
	"edgemq/gateway/admin"
	"edgemq/gateway/auth"
	"edgemq/gateway/auth/passwd"
	"edgemq/gateway/conn"
	"edgemq/gateway/internal/lockorder"
	"edgemq/gateway/internal/park"
	"edgemq/gateway/limits"
	"edgemq/gateway/ops"
	"edgemq/gateway/proto"
	"edgemq/gateway/stats"
	"edgemq/listeners"
	"edgemq/mqtt"

	"go.uber.org/zap"
)

// listenerState is a listener with its effective profile and
// authentication, which a reload replaces (reload.go): a connection
// takes the ones in force when it starts.
type listenerState struct {
	ln   listeners.Listener
	cfg  configs.Listener
	prof atomic.Pointer[proto.Profile]
	auth atomic.Pointer[auth.Chain]
	// tls is the TLS configuration of tls and wss listeners, nil for
	// others.
	tls *tlsSwitch
	// count is the number of tracked connections; Server.mu guards it.
	count int
	// up is set while the listener serves (readiness, ops_source.go).
	up atomic.Bool
	// srv is the server, for the connections' Host (engine.go).
	srv *Server
}

// Server is the running gateway.
type Server struct {
	// The configuration in force has one home, the reloader
	// (s.config(), reload.go): Server keeps no copy that a reload would
	// leave stale.
	log  *zap.Logger
	eng  *proto.Engine
	bufs mqtt.BufferPool
	// parker watches the sockets of idle connections, which then hold no
	// goroutine (gateway/conn/park.go); nil where connections cannot
	// park. Set by Run before any connection is served.
	parker *park.Poller
	// parkIdle is how long a connection waits for bytes before it parks
	// (conn.ParkIdle); tests shorten it before Run.
	parkIdle time.Duration
	// batches lends the connections' writers their output buffers
	// (conn/writequeue.go).
	batches conn.BatchPool
	lsts    []*listenerState

	mu       lockorder.Mutex[serverMu]
	conns    map[*conn.Conn]*listenerState
	draining bool
	wg       sync.WaitGroup

	sys sysState // the $SYS publisher (sys.go)

	adm *limits.Admission // limits before authentication (assemble.go)
	// rlim counts and logs publish rate limiting (ratelimit.go); overload
	// is the overload protection, reloaded by setOverload (assemble.go).
	rlim     *limits.RateLimits
	overload *limits.Overload

	// sources are the certificate sources by tls entry name, shared by
	// the listeners that use them; closed when Run returns. A reload
	// replaces the map under srcMu (tlsSources reads it).
	srcMu         lockorder.Mutex[serverSrcMu]
	sources       map[string]certs.Source
	sourcesClosed bool // set by closeSources: a reload swaps no more

	reloads reloader // configuration reload (reload.go)
	// store is the persistence store, closed with the sources (engine.go).
	store storeCloser

	metrics     *ops.Metrics // Prometheus metrics (package ops)
	ops         *ops.Server  // ops HTTP listener, nil when disabled (ops_source.go)
	storeClosed atomic.Bool

	// admin is the admin API listener, nil when disabled; drainReq is
	// closed, once, to ask Run to drain (admin_source.go).
	admin     *admin.Server
	drainReq  chan struct{}
	drainOnce sync.Once

	// ext are the embedding program's backends, authorizer and store
	// (options.go).
	ext extensions

	startedAt time.Time // when NewContext built it: uptime (admin_source.go)

	cluster *clusterState // nil without a cluster section (cluster.go)
}

// Option adjusts a Server being built.
type Option func(*options)

type options struct {
	page   http.Handler
	loader func() (*configs.Config, error) // WithConfigLoader (reload.go)
	ext    extensions                      // WithAuthenticator, WithAuthorizer, WithStore (options.go)
	clock  proto.Clock                     // withClock (engine.go); nil: the wall clock
}

// WithPage serves h at "/" of the ws and wss listeners that set
// websocket.page (the diagnostic page of package listeners/web).
func WithPage(h http.Handler) Option { return func(o *options) { o.page = h } }

// New is NewContext with a background context.
func New(cfg *configs.Config, log *zap.Logger, opts ...Option) (*Server, error) {
	return NewContext(context.Background(), cfg, log, opts...)
}

// NewContext binds the configured listeners and returns a Server ready to
// Run. cfg must be valid (configs.Load validates). ctx bounds start-up
// work: building the certificate sources (an ACME source may obtain
// certificates). One certs.Source is built per entry of cfg.TLS that a
// listener uses, shared by those listeners, and closed when Run returns
// (or here, on failure). opts may supply authentication backends, an
// authorizer and a store of the embedding program (options.go).
func NewContext(ctx context.Context, cfg *configs.Config, log *zap.Logger, opts ...Option) (*Server, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	st := &proto.Stats{}
	s := &Server{log: log, conns: make(map[*conn.Conn]*listenerState), sources: make(map[string]certs.Source), drainReq: make(chan struct{}), ext: o.ext, startedAt: time.Now()}
	started := false
	defer func() {
		if !started {
			s.ext.closeUnused(s) // options.go
		}
	}()
	if err := s.ext.check(cfg); err != nil {
		return nil, err
	}
	s.metrics = ops.NewMetrics(&st.Counters, opsSource{s}) // ops_source.go
	// One client, so one connection pool, for the http backends and
	// JWKS URLs of this server.
	authHTTP := &http.Client{Timeout: 30 * time.Second}
	s.initReloader(cfg, o, authHTTP) // reload.go
	s.adm = limits.NewAdmission(cfg.Limits)
	s.rlim = limits.NewRateLimits(log)                 // ratelimit.go
	s.overload = limits.NewOverload(cfg.Overload, log) // assemble.go
	s.metrics.MustRegister(limitCollector{s})          // ops_source.go
	interest, err := s.joinCluster(ctx, cfg, st)       // cluster.go
	if err != nil {
		return nil, err
	}
	defer func() {
		if !started {
			s.closeCluster()
		}
	}()

	// engine.go: the broker, the protocol engine (SCRAM, brute-force
	// guard, authentication caps), the authorizer; a cluster backend's
	// seams (cluster.go).
	if err := s.newEngine(cfg, st, o, interest); err != nil {
		return nil, err
	}
	s.adm.SetLog(admissionLog{s.eng.ConnLog()})                     // refusals are logged, sampled (proto/connlog.go)
	s.metrics.MustRegister(quotaCollector{s.eng.Broker().Quotas()}) // ops_source.go
	users := passwd.NewStaticUsers(cfg.Auth.Users, s.eng.PasswordVerifier())
	built := s.ext.authenticators() // auth backends by name, from the embedding program's (options.go)
	for _, lc := range cfg.Listeners {
		prof, err := proto.NewProfile(cfg.LimitsFor(lc))
		if err != nil {
			s.closeListeners()
			return nil, fmt.Errorf("listener %q: %w", lc.Name, err)
		}
		backends, err := s.buildAuthChain(cfg, lc, users, built) // assemble.go
		if err != nil {
			s.closeListeners()
			s.closeSources()
			return nil, fmt.Errorf("listener %q: %w", lc.Name, err)
		}
		chain := auth.NewChain(lc.Anonymous(), backends...)
		ln, tsw, err := s.listen(ctx, lc, prof, chain, o)
		if err != nil {
			s.closeListeners()
			s.closeSources()
			return nil, fmt.Errorf("starting listener %q: %w", lc.Name, err)
		}
		l := &listenerState{ln: ln, cfg: lc, tls: tsw, srv: s}
		l.prof.Store(prof)
		l.auth.Store(chain)
		s.lsts = append(s.lsts, l)
	}
	if err := s.openStore(ctx); err != nil { // persist.go
		s.closeListeners()
		s.closeSources()
		return nil, err
	}
	if err := s.newOps(); err != nil { // ops_source.go: metrics, health
		s.closeListeners()
		s.closeSources()
		return nil, fmt.Errorf("starting ops listener: %w", err)
	}
	if err := s.newAdmin(); err != nil { // admin_source.go: the admin API
		s.closeOps()
		s.closeListeners()
		s.closeSources()
		return nil, fmt.Errorf("starting admin listener: %w", err)
	}
	started = true
	return s, nil
}

// listen binds one listener, building its certificate source on first
// use, and sets auth's certificate identity mapping. tls and wss
// listeners also return the switch a reload replaces their TLS
// configuration with (reload.go).
func (s *Server) listen(ctx context.Context, lc configs.Listener, prof *proto.Profile, chain *auth.Chain, o options) (listeners.Listener, *tlsSwitch, error) {
	lcfg := listeners.Config{Name: lc.Name, Address: lc.Address, Log: s.log, Gate: s.adm.GateFor(lc.Name, s.config().AdmissionFor(lc))} // assemble.go
	var (
		tsw *tlsSwitch
		err error
	)
	if lcfg.Proxy.Trusted, err = parsePrefixes(lc.ProxyProtocol.Trusted); err != nil {
		return nil, nil, fmt.Errorf("parsing proxy_protocol.trusted: %w", err)
	}
	lcfg.Proxy.HeaderTimeout = lc.ProxyProtocol.HeaderTimeout
	if lc.Type == "tls" || lc.Type == "wss" {
		src, ok := s.sources[lc.TLS]
		if !ok {
			scfg, defined := s.config().TLS[lc.TLS]
			if !defined {
				return nil, nil, fmt.Errorf("tls source %q is not defined", lc.TLS)
			}
			if src, err = certs.New(ctx, lc.TLS, scfg, s.config().DataDir, s.log); err != nil {
				return nil, nil, fmt.Errorf("building tls source %q: %w", lc.TLS, err)
			}
			s.sources[lc.TLS] = src
		}
		scfg := s.config().TLS[lc.TLS]
		// Handshakes take the configuration in force through tsw, so
		// that a reload can replace the source (reload.go).
		tsw = newTLSSwitch(lc.Type, src)
		if lc.Type == "tls" {
			// The listener times its handshakes: no per-handshake
			// configuration clone.
			lcfg.TLS = tsw.config()
			lcfg.OnHandshake = s.metrics.HandshakeObserver(lc.Name) // package ops
		} else {
			lcfg.TLS = s.metrics.TimeHandshakes(lc.Name, tsw.config()) // package ops
		}
		lcfg.HandshakeTimeout = certs.HandshakeTimeout(scfg)
		chain.SetCertIdentityOf(scfg.ClientAuth)
	}
	if lcfg.HandshakeTimeout <= 0 {
		// A plain ws upgrade request is bounded like CONNECT is.
		lcfg.HandshakeTimeout = prof.ConnectTimeout
	}
	switch lc.Type {
	case "tcp":
		ln, err := listeners.ListenTCPConfig(lcfg)
		return ln, nil, err
	case "tls":
		ln, err := listeners.ListenTLS(lcfg)
		return ln, tsw, err
	case "ws", "wss":
		// A wss listener's configuration also announces http/1.1
		// (listenerTLS, reload.go).
		ws := lc.WebSocket
		lcfg.WebSocket = listeners.WSConfig{
			Path:               ws.Path,
			Subprotocols:       ws.Subprotocols,
			RequireSubprotocol: ws.RequireSubprotocol,
			CheckOrigin:        ws.CheckOrigin == nil || *ws.CheckOrigin,
			AllowedOrigins:     ws.AllowedOrigins,
			ServerNames:        ws.ServerNames,
			Compression:        ws.Compression,
			MaxPacketSize:      int64(prof.MaxPacketSize),
		}
		if lcfg.WebSocket.TrustedProxies, err = parsePrefixes(lc.TrustedProxies); err != nil {
			return nil, nil, fmt.Errorf("parsing trusted_proxies: %w", err)
		}
		if lcfg.WebSocket.ProxyHeader, err = listeners.ParseProxyHeader(lc.TrustedProxyHeader); err != nil {
			return nil, nil, fmt.Errorf("parsing trusted_proxy_header: %w", err)
		}
		if ws.Page && o.page != nil {
			lcfg.WebSocket.Page = o.page
		}
		ln, err := listeners.ListenWS(lcfg)
		return ln, tsw, err
	}
	return nil, nil, fmt.Errorf("listener type %q is not supported", lc.Type)
}

func parsePrefixes(cidrs []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, c := range cidrs {
		p, err := configs.ParsePrefix(c)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// Addr returns the bound address of the named listener, or nil.
func (s *Server) Addr(listener string) net.Addr {
	for _, l := range s.lsts {
		if l.cfg.Name == listener {
			return l.ln.Addr()
		}
	}
	return nil
}

// Run serves until ctx is cancelled, then shuts down gracefully: it stops
// accepting, disconnects clients spread over drain.period — v5 clients
// with Server Shutting Down (0x8B), or Use Another Server (0x9C) with a
// Server Reference when drain.server_reference is set; 3.x clients are
// closed — and waits for connections to end, at most shutdown_timeout
// after the drain period. It returns nil after a graceful shutdown.
func (s *Server) Run(ctx context.Context) error {
	s.startParking()
	errc := make(chan error, len(s.lsts))
	var lwg sync.WaitGroup
	for _, l := range s.lsts {
		s.log.Info("listening", append([]zap.Field{zap.String("listener", l.cfg.Name), zap.String("type", l.cfg.Type), zap.Stringer("address", l.ln.Addr()), zap.Bool("anonymous", l.auth.Load().AllowAnonymous())}, s.listenerURLFields(l)...)...) // endpoints.go
		lwg.Add(1)
		go func() {
			defer lwg.Done()
			l.up.Store(true)
			defer l.up.Store(false)
			err := l.ln.Serve(ctx, func(nc net.Conn, meta *listeners.Meta) { s.serve(ctx, nc, meta, l) })
			if err != nil {
				errc <- err
			}
		}()
	}
	stopCluster := s.runCluster(ctx)     // cluster.go
	stopOps := s.startOps()              // ops_source.go: /metrics, /healthz, /readyz
	stopAdmin := s.startAdmin()          // admin_source.go: /api/v1
	stopSys := s.startSys(ctx)           // sys.go
	stopACL := s.watchACLFile(ctx)       // assemble.go
	stopOverload := s.startOverload(ctx) // assemble.go
	var runErr error
	select {
	case <-ctx.Done():
	case <-s.drainReq: // RequestDrain (admin_source.go)
	case runErr = <-errc:
		s.log.Error("listener failed", zap.Error(runErr))
	}
	s.closeListeners()
	lwg.Wait()
	stopSys()
	stopACL()
	stopOverload()
	s.shutdown()
	stopCluster()
	if s.parker != nil {
		s.parker.Close() // every connection ended: nothing is parked
	}
	s.closeSources()
	s.storeClosed.Store(true)
	stopAdmin()
	stopOps()
	return runErr
}

func (s *Server) closeListeners() {
	for _, l := range s.lsts {
		l.ln.Close()
	}
}

// startParking starts the poller that idle connections park on
// (gateway/internal/park), where the system has one.
func (s *Server) startParking() {
	if !park.Supported() {
		return
	}
	if s.parkIdle == 0 {
		s.parkIdle = conn.ParkIdle
	}
	p, err := park.New(s.parkIdle)
	if err != nil {
		s.log.Warn("idle connections keep their goroutines", zap.Error(err))
		return
	}
	s.parker = p
}

// closeSources closes the certificate sources (idempotent).
func (s *Server) closeSources() {
	s.store.close(s.log)
	s.srcMu.Lock()
	defer s.srcMu.Unlock()
	s.sourcesClosed = true
	for name, src := range s.sources {
		if err := src.Close(); err != nil {
			s.log.Warn("closing tls source failed", zap.String("tls_source", name), zap.Error(err))
		}
	}
}

// shutdown disconnects every client, spread evenly over drain.period so
// that they do not all reconnect at once, and waits for their connections
// to end, at most shutdown_timeout after the drain period. Sessions are
// kept: each connection detaches as on any close.
func (s *Server) shutdown() {
	s.mu.Lock()
	s.draining = true
	conns := make([]*conn.Conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	cfg := s.config() // drain and shutdown_timeout as last reloaded
	period := cfg.Drain.Period
	code, ref := mqtt.ServerShuttingDown, cfg.Drain.ServerReference
	if ref != "" {
		code = mqtt.UseAnotherServer
	}
	s.log.Info("shutting down", zap.Int("connections", len(conns)), zap.Duration("drain_period", period), zap.String("server_reference", ref))
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	if period <= 0 || len(conns) <= 1 {
		for _, c := range conns {
			c.Channel().KickRef(s.clusterKick(code, ref)) // cluster.go: another node's address
		}
	} else {
		// The i-th client goes at i*period/(n-1): the first at once, the
		// last at the end of the period.
		start := time.Now()
		step := period / time.Duration(len(conns)-1)
		for i, c := range conns {
			if wait := time.Until(start.Add(time.Duration(i) * step)); wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-t.C:
				case <-done:
					t.Stop()
				}
			}
			c.Channel().KickRef(s.clusterKick(code, ref)) // cluster.go: another node's address
		}
	}
	t := time.NewTimer(cfg.ShutdownTimeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		s.mu.Lock()
		for c := range s.conns {
			c.Abort()
		}
		s.mu.Unlock()
		<-done
	}
	s.eng.Broker().CloseAll()
	s.log.Info("stopped")
}

// track registers a connection of listener l; it refuses once shutdown
// began or the listener is full.
func (s *Server) track(c *conn.Conn, l *listenerState) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.draining {
		return false
	}
	if max := l.cfg.MaxConnections; max > 0 && l.count >= max {
		s.eng.ConnLog().AdmissionRefused(l.cfg.Name, "listener_max_connections", c.Channel().Meta().RemoteAddr) // proto/connlog.go
		return false
	}
	l.count++
	s.conns[c] = l
	s.wg.Add(1)
	return true
}

func (s *Server) untrack(c *conn.Conn) {
	s.mu.Lock()
	if l := s.conns[c]; l != nil {
		l.count--
	}
	delete(s.conns, c)
	s.mu.Unlock()
	releaseTicket(c.Channel().Meta()) // assemble.go
	s.wg.Done()
}

// connections returns the tracked connections, in no order. Safe from
// any goroutine holding none of our locks: Server.mu is held only to copy
// the set and nothing is taken under it, so the caller may take a
// connection's or session's lock afterwards. A connection may end right
// after the copy.
func (s *Server) connections() []*conn.Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*conn.Conn, 0, len(s.conns))
	for c := range s.conns {
		out = append(out, c)
	}
	return out
}

// isDraining reports whether shutdown began. It takes Server.mu alone.
func (s *Server) isDraining() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.draining
}

// Stats is a snapshot of the engine's counters.
type Stats struct {
	Connections int64
	Sessions    int
	MessagesIn  int64
	MessagesOut int64
	Dropped     map[string]int64
	// AuthFailures counts failed authentications by reason:
	// bad_credentials (0x86), not_authorized (0x87), bad_method (0x8C),
	// other; AuthDelayed the refusals held back by brute-force protection.
	AuthFailures map[string]int64
	AuthDelayed  int64
	// AdmissionRefused counts sockets refused before authentication by
	// reason (limits/admission.go); Unauthenticated is the number of sockets not
	// yet through CONNACK.
	AdmissionRefused map[string]int64
	Unauthenticated  int
	// RateLimited counts PUBLISH packets over a client's publish_rate by
	// action (backpressure, disconnect); Overloaded says whether the
	// overload state is on, OverloadRefused counts the clients refused
	// in it (limits/ratelimit.go, limits/overload.go).
	RateLimited     map[string]int64
	Overloaded      bool
	OverloadRefused int64
}

// Stats returns a snapshot of the engine's counters.
func (s *Server) Stats() Stats {
	st := s.eng.Stats()
	out := Stats{
		Connections: st.Connections.Load(),
		Sessions:    s.eng.Broker().SessionCount(),
		MessagesIn:  st.MsgsIn.Load(),
		MessagesOut: st.MsgsOut.Load(),
		Dropped:     make(map[string]int64),
	}
	for _, r := range stats.DropReasons() {
		out.Dropped[r.String()] = st.Dropped(r)
	}
	out.AuthFailures, out.AuthDelayed = st.Auth.FailuresByReason(), st.Auth.Delayed()
	s.admissionSnapshot(&out) // assemble.go
	s.limitsSnapshot(&out)    // assemble.go
	return out
}
