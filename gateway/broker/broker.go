package broker

import (
	"time"

	"edgemq/gateway/internal/lockorder"
	"edgemq/gateway/stats"
	"edgemq/mqtt"

	"go.uber.org/zap"
)

// Broker is the broker state of one server: the sessions, the router,
// the retained messages, the quotas and the persistence glue. Safe for
// concurrent use; each method says which locks it takes (LOCKS.md).
type Broker struct {
	router   *router
	retained *retainedStore
	sessions *registry
	quota    *Quotas
	stats    *stats.Counters
	log      *zap.Logger
	// reads is the owners' read check (owner.go).
	reads Reads
	// takeover counts CONNECTs refused for a session of another
	// identity (owner.go).
	takeover Takeovers
	// clock is the time of routing (clock.go); nil: the wall clock.
	clock Clock
	// order is held shared by RouteAt and exclusively by Subscribing
	// (see there). Only a store group (bolt.DB.gate) may be held when it
	// is taken: LOCKS.md.
	order lockorder.RWMutex[engineOrder]
	// willRoute routes the wills of this broker's sessions instead of
	// RouteAt when set (SetWillRoute, route_cluster.go); set before use.
	willRoute func(m *Message, buf *[]Match, now time.Time) int
	// sharedOrphan takes a shared delivery no member here took when its
	// session ended (SetSharedOrphan, route_cluster.go); set before use.
	sharedOrphan func(share, filter string, m *Message)
}

// Config is what a Broker is built from; zero values bound nothing.
type Config struct {
	// MaxPending and MaxPendingBytes bound a session's pending queue
	// (session.max_offline_messages, max_offline_bytes).
	MaxPending      int
	MaxPendingBytes int64
	// MaxRetained, MaxRetainedBytes and RetainedPerClient bound the
	// retained messages (retained.max_messages, max_bytes,
	// max_per_client).
	MaxRetained       int
	MaxRetainedBytes  int64
	RetainedPerClient int
	// SharedRandom picks shared subscription members at random instead
	// of round robin (session.shared_subscription_strategy random).
	SharedRandom bool
	// StrictOwner refuses a connection of another identity than a
	// session's owner (session.owner_binding strict).
	StrictOwner bool
	// Quotas are the per-client quotas.
	Quotas QuotaConfig
	// Interest hears of the filters this broker needs (seams.go); nil:
	// nothing to tell (in-process, NoInterest).
	Interest Interest
	// Clock is the time of routing and delivery (clock.go); nil: the
	// wall clock.
	Clock Clock
}

// New returns a broker in memory mode (Restore gives it a store). st
// counts what it routes and drops; reads decides the owners' read
// permission (owner.go).
func New(cfg Config, st *stats.Counters, reads ReadChecker, log *zap.Logger) *Broker {
	rt := newRouter()
	rt.sharedRandom = cfg.SharedRandom
	if _, none := cfg.Interest.(NoInterest); !none {
		rt.interest = cfg.Interest
	}
	b := &Broker{router: rt, retained: newRetainedStore(cfg.MaxRetained, cfg.MaxRetainedBytes, st), stats: st, log: log,
		quota: newQuotas(cfg.Quotas), clock: cfg.Clock}
	b.reads.check = reads
	b.retained.limitPerClient(cfg.RetainedPerClient) // retained_quota.go
	b.sessions = newRegistry(cfg.MaxPending, cfg.MaxPendingBytes, st, b.endSession, b.publishWill)
	b.sessions.strictOwner = cfg.StrictOwner
	b.sessions.reads = &b.reads
	b.sessions.retained = b.retained
	b.sessions.clock = cfg.Clock
	return b
}

// Reads returns the owners' read policy, which the server sets with its
// authorizer.
func (e *Broker) Reads() *Reads { return &e.reads }

// Quotas returns the per-client quotas.
func (e *Broker) Quotas() *Quotas { return e.quota }

// Takeovers returns the counts of refused takeovers.
func (e *Broker) Takeovers() *Takeovers { return &e.takeover }

// OpenRequest is a connection asking for the session of its client id.
type OpenRequest struct {
	ClientID string
	// Clean is the CONNECT's Clean Start.
	Clean bool
	// Expiry is the Session Expiry Interval in force, in seconds.
	Expiry uint32
	// Client is the connection; Owner its identity and permissions;
	// Will its will (nil: none), stored with a persistent session.
	Client Client
	Owner  *Owner
	Will   *mqtt.Will
}

// Open implements Sessions (registry.open): it takes registry.mu, then
// the session's lock, under which attach runs.
func (e *Broker) Open(req OpenRequest, attach func(s *Session, present bool)) (*Session, Client, error) {
	return e.sessions.open(req, attach)
}

// Detach implements Sessions (registry.detach): the caller holds none of
// our locks.
func (e *Broker) Detach(s *Session, c Client, will *mqtt.Will) {
	e.sessions.detach(s, c, will)
}

// Subscribing runs fn with routing stopped: engine.order held
// exclusively, so that registering filters (Subscribe), reading the
// retained store's sequence number (RetainedSeq) and queueing SUBACK and
// the retained delivery happen while no message is routed, and a message
// published meanwhile arrives once, either as retained or live, and after
// the older retained ones. fn may take session.mu, router.mu,
// retainedStore.mu and writeQueue.mu, never registry.mu, and must not
// route. It returns fn's error.
func (e *Broker) Subscribing(fn func() error) error {
	e.order.Lock()
	defer e.order.Unlock()
	return fn()
}

// Subscribe adds sub to the session s, or replaces its subscription to
// the same filter [MQTT-3.8.4-3], unless a new filter is over the
// session's subscription quota (full, counted; nothing changes). A
// retained delivery under way for the filter takes the new options
// (retained_feed.go). It reports whether the filter was subscribed
// before. It takes session.mu, then router.mu, in turn; call it inside
// Subscribing.
func (e *Broker) Subscribe(s *Session, sub *Subscription) (existed, full bool) {
	s.mu.Lock()
	_, existed = s.st.subs[sub.filter]
	if !existed && e.quota.subscriptionsFull(&s.st, sub.filter) { // quota.go
		s.mu.Unlock()
		return false, true
	}
	s.st.putSub(sub)
	s.retargetRetainedLocked(sub)
	s.mu.Unlock()
	e.router.subscribe(s, sub)
	return existed, false
}

// Unsubscribe removes the session's subscription to filter, ending its
// retained delivery, and reports whether there was one. It takes
// session.mu, then router.mu, in turn.
func (e *Broker) Unsubscribe(s *Session, filter string) bool {
	s.mu.Lock()
	existed := s.st.dropSub(filter) // quota.go
	s.stopRetainedLocked(filter)    // retained_feed.go
	s.mu.Unlock()
	if existed {
		e.router.unsubscribe(s, filter)
	}
	return existed
}

// Matches appends to dst every subscription matching topic (the router's
// view; a test's wait for a subscription to register). It takes
// router.mu shared.
func (e *Broker) Matches(dst []Match, topic string) []Match { return e.router.matches(dst, topic) }

// RetainedSeq returns the retained store's sequence number: a retained
// delivery started from it (Session.StartRetained) skips what was stored
// later, which went live. It takes retainedStore.mu shared.
func (e *Broker) RetainedSeq() uint64 { return e.retained.lastSeq() }

// Sessions returns the sessions, by client id (registry.snapshot).
func (e *Broker) Sessions() []*Session { return e.sessions.snapshot() }

// Lookup returns the session of clientID, or nil (registry.lookup).
func (e *Broker) Lookup(clientID string) *Session { return e.sessions.lookup(clientID) }

// Discard ends the offline session of clientID as its expiry would
// (registry.discard).
func (e *Broker) Discard(clientID string) (found, busy bool) { return e.sessions.discard(clientID) }

// Gauges counts sessions, subscriptions, inflight and queued messages
// (registry.gauges).
func (e *Broker) Gauges() (sessions, subs, inflight, queued int) { return e.sessions.gauges() }

// SessionCount returns the number of sessions.
func (e *Broker) SessionCount() int { return e.sessions.count() }

// CloseAll stops every session timer, for shutdown.
func (e *Broker) CloseAll() { e.sessions.closeAll() }

// RetainedMatch returns the unexpired retained messages matching filter
// (retainedStore.match): the admin API's read.
func (e *Broker) RetainedMatch(filter string, now time.Time) []*Message {
	return e.retained.match(filter, now)
}

// RemoveRetained deletes topic's retained message, reporting whether
// there was one (retainedStore.remove).
func (e *Broker) RemoveRetained(topic string) bool { return e.retained.remove(topic) }

// RetainedSize returns the number of retained messages and their bytes.
func (e *Broker) RetainedSize() (int, int64) { return e.retained.size() }

func boolByte(b bool) byte {
	if b {
		return 1
	}
	return 0
}
