// Package gateway is the edgemq engine: connection I/O (conn, writeQueue),
// a socket-free protocol state machine (channel, with the CONNECT
// pipeline in connect.go and negotiate.go), session state (sessionState,
// registry) and the router (topic trie and retained messages).
package gateway

import (
	"context"
	"fmt"
	"net"
	"sync"
	"time"

	"edgemq/configs"
	"edgemq/listeners"
	"edgemq/mqtt"

	"go.uber.org/zap"
)

// listenerState is a listener with its effective profile and
// authentication.
type listenerState struct {
	ln   listeners.Listener
	cfg  configs.Listener
	prof *profile
	auth *authChain
	// count is the number of tracked connections; Server.mu guards it.
	count int
}

// Server is the running gateway.
type Server struct {
	cfg  *configs.Config
	log  *zap.Logger
	eng  *engine
	bufs mqtt.BufferPool
	lsts []*listenerState

	mu       sync.Mutex
	conns    map[*conn]struct{}
	draining bool
	wg       sync.WaitGroup

	sys sysState // the $SYS publisher (sys.go)
}

// New binds the configured listeners and returns a Server ready to Run.
// cfg must be valid (configs.Load validates).
func New(cfg *configs.Config, log *zap.Logger) (*Server, error) {
	st := &stats{}
	s := &Server{cfg: cfg, log: log, conns: make(map[*conn]struct{})}
	rt := newRouter()
	rt.sharedRandom = cfg.Session.SharedSubscriptionStrategy == "random"
	s.eng = &engine{router: rt, retained: newRetainedStore(cfg.Retained.MaxMessages, cfg.Retained.MaxBytes, st), stats: st, log: log}
	s.eng.sessions = newRegistry(cfg.Session.MaxOfflineMessages, cfg.Session.MaxOfflineBytes, st, s.eng.endSession, s.eng.publishWill)
	authz, err := NewStaticACL(cfg.ACL)
	if err != nil {
		return nil, err
	}
	s.eng.acl.set(authz)
	users := newStaticUsers(cfg.Auth.Users)
	for _, lc := range cfg.Listeners {
		prof, err := newProfile(cfg.LimitsFor(lc))
		if err != nil {
			s.closeListeners()
			return nil, fmt.Errorf("listener %q: %w", lc.Name, err)
		}
		var ln listeners.Listener
		switch lc.Type {
		case "tcp":
			ln, err = listeners.ListenTCP(lc.Name, lc.Address)
		default:
			err = fmt.Errorf("listener type %q is not supported", lc.Type)
		}
		if err != nil {
			s.closeListeners()
			return nil, fmt.Errorf("starting listener %q: %w", lc.Name, err)
		}
		auth := &authChain{backends: []Authenticator{users}, allowAnonymous: lc.Anonymous()}
		s.lsts = append(s.lsts, &listenerState{ln: ln, cfg: lc, prof: prof, auth: auth})
	}
	return s, nil
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
// accepting, disconnects v5 clients with Server Shutting Down (0x8B),
// closes 3.x clients, and waits for connections to end, at most
// shutdown_timeout. It returns nil after a graceful shutdown.
func (s *Server) Run(ctx context.Context) error {
	errc := make(chan error, len(s.lsts))
	var lwg sync.WaitGroup
	for _, l := range s.lsts {
		s.log.Info("listening", zap.String("listener", l.cfg.Name), zap.String("type", l.cfg.Type), zap.Stringer("address", l.ln.Addr()), zap.Bool("anonymous", l.auth.allowAnonymous))
		lwg.Add(1)
		go func() {
			defer lwg.Done()
			err := l.ln.Serve(ctx, func(nc net.Conn, meta *listeners.Meta) { s.serve(ctx, nc, meta, l) })
			if err != nil {
				errc <- err
			}
		}()
	}
	stopSys := s.startSys(ctx) // sys.go
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
		s.log.Error("listener failed", zap.Error(runErr))
	}
	s.closeListeners()
	lwg.Wait()
	stopSys()
	s.shutdown()
	return runErr
}

func (s *Server) closeListeners() {
	for _, l := range s.lsts {
		l.ln.Close()
	}
}

// shutdown disconnects every client and waits for their connections to
// end, at most shutdown_timeout.
func (s *Server) shutdown() {
	s.mu.Lock()
	s.draining = true
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	s.log.Info("shutting down", zap.Int("connections", len(conns)))
	for _, c := range conns {
		c.ch.kick(mqtt.ServerShuttingDown)
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	t := time.NewTimer(s.cfg.ShutdownTimeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		s.mu.Lock()
		for c := range s.conns {
			c.out.abort()
		}
		s.mu.Unlock()
		<-done
	}
	s.eng.sessions.closeAll()
	s.log.Info("stopped")
}

// track registers a connection; it refuses once shutdown began or the
// listener is full.
func (s *Server) track(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.draining {
		return false
	}
	if max := c.lst.cfg.MaxConnections; max > 0 && c.lst.count >= max {
		s.log.Info("connection refused", zap.String("listener", c.lst.cfg.Name), zap.String("reason", "listener max_connections"))
		return false
	}
	c.lst.count++
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	return true
}

func (s *Server) untrack(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	c.lst.count--
	s.mu.Unlock()
	s.wg.Done()
}

// Stats is a snapshot of the engine's counters.
type Stats struct {
	Connections int64
	Sessions    int
	MessagesIn  int64
	MessagesOut int64
	Dropped     map[string]int64
}

// Stats returns a snapshot of the engine's counters.
func (s *Server) Stats() Stats {
	st := s.eng.stats
	out := Stats{
		Connections: st.connections.Load(),
		Sessions:    s.eng.sessions.count(),
		MessagesIn:  st.msgsIn.Load(),
		MessagesOut: st.msgsOut.Load(),
		Dropped:     make(map[string]int64, len(dropNames)),
	}
	for i, n := range dropNames {
		out.Dropped[n] = st.dropped[i].Load()
	}
	return out
}
