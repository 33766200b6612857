package gateway

// The engine's assembly: the broker state and the protocol engine built
// from the configuration (gateway/proto, NewEngine), the store opened
// and restored into the broker, the authorizer put in force, and the
// names a program that embeds edgemq uses for authorization. The
// channel, its CONNECT pipeline and its side of ACL, persistence and
// session ownership are gateway/proto's; the broker's rules are
// gateway/broker's.

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync"
	"time"

	"edgemq/configs"
	"edgemq/gateway/acl"
	"edgemq/gateway/auth"
	"edgemq/gateway/broker"
	"edgemq/gateway/conn"
	"edgemq/gateway/proto"
	"edgemq/gateway/store"
	"edgemq/gateway/store/bolt"
	"edgemq/listeners"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// newEngine builds the server's broker and engine from cfg (the clock of
// o, the counters st), registers their collectors, and puts the
// configured authorizer in force, with the embedding program's
// (options.go). A cluster backend plugs in at the broker's Interest and
// the engine's proto.EngineConfig.Seams (cluster.go); on a single node
// they are the broker's own.
func (s *Server) newEngine(cfg *configs.Config, st *proto.Stats, o options, interest broker.Interest) error {
	clock := o.clockOrWall()
	b := proto.NewBroker(cfg, st, clock, interest, s.log)
	seams, err := s.attachCluster(b) // cluster.go
	if err != nil {
		return err
	}
	eng, err := proto.NewEngine(cfg, proto.EngineConfig{Broker: b, Seams: seams, Stats: st, Clock: clock, Log: s.log})
	if err != nil {
		return err
	}
	s.eng = eng
	s.metrics.MustRegister(auth.LimitsCollector(eng.AuthLimits()))
	s.metrics.MustRegister(takeoverCollector{s})
	authz, err := NewStaticACL(cfg.ACL)
	if err != nil {
		return err
	}
	s.SetAuthorizer(authz)
	return nil
}

// Action is what a client asks to do with a topic (acl.Action).
type Action = acl.Action

const (
	// ActionPublish is a PUBLISH (or a will) to a topic name.
	ActionPublish = acl.ActionPublish
	// ActionSubscribe is one topic filter of a SUBSCRIBE.
	ActionSubscribe = acl.ActionSubscribe
)

// Authorizer decides whether a connected client may publish to a topic or
// subscribe to a topic filter; its contract is acl.Authorizer's.
type Authorizer = acl.Authorizer

// QoSLimiter is an Authorizer that grants subscriptions at most some QoS
// (acl.QoSLimiter).
type QoSLimiter = acl.QoSLimiter

// AllowAll is the Authorizer that allows everything (acl.AllowAll).
type AllowAll = acl.AllowAll

// ConnInfo and acl.ConnInfo must be one type, so that an Authorizer
// written against either is the other's: function types are assignable
// only when identical.
var _ func(ConnInfo) = func(acl.ConnInfo) {}

// NewStaticACL returns the Authorizer of a static rule list (the acl
// section of the configuration): acl.NewStatic.
func NewStaticACL(c configs.ACL) (Authorizer, error) { return acl.NewStatic(c) }

// SetAuthorizer replaces the server's authorizer, which New builds from
// the acl section of the configuration; nil allows everything. It is safe
// while the server runs: each connection drops its cached decisions on its
// next PUBLISH, and every subscription's read decision is made again before
// its next delivery (proto/owner.go): a subscription the new rules refuse
// receives nothing more, and what is queued for it is dropped. An
// authorizer of the embedding program (WithAuthorizer) stays in force
// behind a.
func (s *Server) SetAuthorizer(a Authorizer) {
	s.eng.SetAuthorizer(s.ext.authorizer(a)) // proto/engine.go
}

// isSysTopic reports whether topic is under $SYS, which only the server
// publishes to (acl.IsSysTopic).
func isSysTopic(topic string) bool { return acl.IsSysTopic(topic) }

// withClock makes the engine read the time from c instead of the wall
// clock: for tests that move time by hand. The runtime's timers (session
// expiry, will delay, keep alive) still run on the wall clock.
func withClock(c proto.Clock) Option { return func(o *options) { o.clock = c } }

// clockOrWall is the clock withClock gave, the wall clock otherwise.
func (o *options) clockOrWall() proto.Clock {
	if o.clock == nil {
		return proto.WallClock{}
	}
	return o.clock
}

// StoreFile is the name of the embedded store in the data directory.
const StoreFile = "edgemq.db"

// openStore opens the configured store; nil in memory mode.
func openStore(cfg *configs.Config) (store.Store, error) {
	var interval time.Duration
	switch cfg.Store.Durability {
	case "", "memory":
		return nil, nil
	case "async":
		interval = cfg.Store.FlushInterval
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("creating data directory: %w", err)
	}
	path := filepath.Join(cfg.DataDir, StoreFile)
	db, err := bolt.Open(path, interval)
	if err != nil {
		return nil, broker.StoreError(path, err)
	}
	return db, nil
}

// storeCloser closes the store once.
type storeCloser struct {
	once sync.Once
	st   store.Store
}

func (c *storeCloser) close(log *zap.Logger) {
	c.once.Do(func() {
		if c.st != nil {
			if err := c.st.Close(); err != nil {
				log.Error("closing store failed", zap.Error(err))
			}
		}
	})
}

// openStore opens the configured store and restores it into the engine.
// The embedding program's store (WithStore) takes the place of the
// configured one.
func (s *Server) openStore(ctx context.Context) error {
	st, path := s.ext.store, ""
	if st == nil {
		var err error
		if st, err = openStore(s.config()); err != nil || st == nil {
			return err
		}
		path = filepath.Join(s.config().DataDir, StoreFile)
	}
	s.store.st = st
	return s.eng.Broker().Restore(ctx, st, st, path) // broker/persist.go
}

var descTakeoverRefused = prometheus.NewDesc("edgemq_session_takeover_refused_total",
	"CONNECTs refused because the client id's session belongs to another identity (session.owner_binding strict), by listener.",
	[]string{"listener"}, nil)

// takeoverCollector exports edgemq_session_takeover_refused_total, with
// a series for every listener from the start.
type takeoverCollector struct{ s *Server }

func (c takeoverCollector) Describe(ch chan<- *prometheus.Desc) { ch <- descTakeoverRefused }

func (c takeoverCollector) Collect(ch chan<- prometheus.Metric) {
	t := c.s.eng.Broker().Takeovers()
	names := make([]string, 0, len(c.s.lsts))
	for _, l := range c.s.lsts {
		names = append(names, l.cfg.Name)
	}
	for _, l := range t.Listeners() {
		if !slices.Contains(names, l) {
			names = append(names, l)
		}
	}
	sort.Strings(names)
	for _, l := range names {
		ch <- prometheus.MustNewConstMetric(descTakeoverRefused, prometheus.CounterValue, float64(t.Count(l)), l)
	}
}

// serve hands a new socket of listener l to the connection layer
// (gateway/conn), with the listener's profile and authentication in
// force now, which stay the connection's (reload.go).
func (s *Server) serve(ctx context.Context, nc net.Conn, meta *listeners.Meta, l *listenerState) {
	sc := s.config().Session
	conn.Serve(ctx, nc, conn.Config{
		Channel:    proto.ChannelConfig{Meta: meta, Profile: l.prof.Load(), Auth: l.auth.Load(), Log: s.log},
		Engine:     s.eng,
		Host:       l,
		Queue:      conn.QueueLimits{Items: sc.MaxOutboundQueue, Bytes: sc.MaxOutboundBytes},
		Shed:       s.overload.Shedding(), // limits/overload.go: QoS 0 shed to a backlog while overloaded
		Batches:    &s.batches,
		Bufs:       &s.bufs,
		RateLimits: s.rlim,
		Park:       s.parker,
	})
}

// A listener is the conn.Host of its connections: the server's checks
// and tracking, with the listener's connection count.
var _ conn.Host = (*listenerState)(nil)

// Track implements conn.Host (Server.track).
func (l *listenerState) Track(c *conn.Conn) bool { return l.srv.track(c, l) }

// Untrack implements conn.Host (Server.untrack).
func (l *listenerState) Untrack(c *conn.Conn) { l.srv.untrack(c) }

// ConnectTimeout implements conn.Host (limits/admission.go).
func (l *listenerState) ConnectTimeout(profile time.Duration) time.Duration {
	return l.srv.connectTimeout(profile)
}

// AdmissionBusy implements conn.Host (limits/admission.go).
func (l *listenerState) AdmissionBusy() bool { return l.srv.admissionBusy() }

// RefuseOverloaded implements conn.Host (limits/overload.go).
func (l *listenerState) RefuseOverloaded() bool { return l.srv.refuseOverloaded() }

// ObserveConnect implements conn.Host (ops_source.go).
func (l *listenerState) ObserveConnect(listener string, d time.Duration) {
	l.srv.observeConnect(listener, d)
}
