package broker

import (
	"cmp"
	"context"
	"math"
	"slices"
	"sync/atomic"
	"time"

	"edgemq/gateway/internal/lockorder"
	"edgemq/gateway/stats"
	"edgemq/mqtt"
)

// The lock order of registry.mu, session.mu and every other mutex of
// the gateway is written in LOCKS.md (checked with -tags lockorder).

// Session is a live MQTT session: its plain state, the connection (Client)
// that owns it while connected, and its timers.
type Session struct {
	mu    lockorder.Mutex[sessionMu]
	st    sessionState
	owner Client // nil while no connection holds the session
	// link is what deliveries read of owner (client.go): zero with no
	// owner.
	link Link

	// ownerGen is the id of the owner (ownerv) shifted left by one,
	// with bit 0 set when it carries ACL claims; 0 for no owner. Next to
	// owner, link and ended: the delivery path reads it with the lines
	// deliver reads next (owner.go).
	ownerGen atomic.Uint64
	// ended is set once the session is discarded or expired; late
	// deliveries to it are dropped.
	ended bool
	// env is the broker's settings every session shares (session_off.go).
	env *sessionEnv
	// seq orders sessions; fixed at creation.
	seq uint64
	// off is the expiry and will of a session offline, or persistent,
	// nil until one is needed (session_off.go).
	off *sessionOff
	// p stores the session's changes, nil when it is not persistent
	// (persist.go).
	p *persister
	// ownerv is who the session belongs to, nil for a session restored
	// from a record without one (owner.go).
	ownerv atomic.Pointer[Owner]
	// feed holds the retained deliveries still owed (retained_feed.go),
	// nil when none; feeding says whether it holds any, read by the
	// writer without the lock.
	feed    *retainedFeed
	feeding atomic.Bool
	// cl is the session's cluster bookkeeping, nil on a single node
	// (cluster.go).
	cl *clusterState
}

// registry maps client ids to sessions and performs takeover.
type registry struct {
	mu       lockorder.Mutex[registryMu]
	sessions map[string]*Session
	// onEnd is called, without locks held, for each session that ends, to
	// drop its subscriptions.
	onEnd func(*Session)
	// onWill publishes a will, without locks held.
	onWill func(clientID string, w *mqtt.Will)

	maxPending      int
	maxPendingBytes int64
	stats           *stats.Counters
	nextSeq         uint64
	p               *persister // nil: memory mode
	// strictOwner refuses a connection of another identity than the
	// session's owner (session.owner_binding strict, owner.go); reads is
	// the read policy (never nil), whose counter numbers the owners.
	strictOwner bool
	reads       *Reads
	// retained is where the sessions' retained feeds read
	// (retained_feed.go); clock their time (clock.go).
	retained *retainedStore
	clock    Clock
	// cluster gives new sessions cluster state (cluster.go), and
	// clusterChange hears of their changes (OnClusterChange).
	cluster       bool
	clusterChange func(*Session)
	// env is what newSession gives every session, made by the first.
	env *sessionEnv
}

func newRegistry(maxPending int, maxPendingBytes int64, st *stats.Counters, onEnd func(*Session), onWill func(string, *mqtt.Will)) *registry {
	return &registry{sessions: make(map[string]*Session), maxPending: maxPending, maxPendingBytes: maxPendingBytes, stats: st, onEnd: onEnd, onWill: onWill,
		reads: &Reads{}}
}

// newSession makes a session of the registry's settings; not yet shared.
func (r *registry) newSession(clientID string) *Session {
	r.nextSeq++
	if r.env == nil {
		// Once: the registry's settings are fixed before its first
		// session (New).
		r.env = &sessionEnv{maxPending: r.maxPending, maxPendingBytes: r.maxPendingBytes, stats: r.stats,
			reads: r.reads, retained: r.retained, clock: r.clock}
	}
	s := &Session{st: newSessionState(clientID), env: r.env, seq: r.nextSeq}
	if r.cluster {
		s.cl = &clusterState{notify: r.clusterChange} // cluster.go
	}
	return s
}

// open attaches req.Client, whose identity and permissions are
// req.Owner, to the session of req.ClientID, creating it, or replacing it
// when req.Clean is set [MQTT-3.1.2-4, MQTT-3.1.2-5], with the Session
// Expiry Interval req.Expiry. attach runs under the session's lock with
// whether an existing session was resumed (Session Present), before any
// delivery can reach the client; then a resumed session's deliveries in
// flight are sent again (resendLocked). open returns the client that held
// the session before, which the caller must disconnect with Session Taken
// Over [MQTT-3.1.4-3]. A new connection cancels a will still waiting for
// its delay. With strictOwner, a session of another identity is neither
// resumed, taken over nor replaced: open returns errSessionOwned and
// changes nothing (owner.go).
func (r *registry) open(req OpenRequest, attach func(s *Session, present bool)) (s *Session, prev Client, err error) {
	clientID, owner, view := req.ClientID, req.Client, req.Owner
	r.mu.Lock()
	old := r.sessions[clientID]
	if old != nil && !r.mayTake(old, view.Identity) {
		r.mu.Unlock()
		return nil, nil, errSessionOwned
	}
	view.id = r.reads.ids.Add(1) // owner.go
	if old != nil && !req.Clean {
		old.mu.Lock()
		prev = old.owner
		old.owner, old.link = owner, owner.Link()
		old.setOwner(view, r.reads)
		old.stopTimers()
		old.st.expiry, old.st.connectExpiry = req.Expiry, req.Expiry
		attach(old, true)
		old.resendLocked(owner) // delivery.go
		r.persistOpenLocked(old, req.Will)
		old.mu.Unlock()
		r.mu.Unlock()
		return old, prev, nil
	}
	if old != nil && r.p != nil {
		old.mu.Lock()
		old.forgetLocked()
		old.mu.Unlock()
	}
	s = r.newSession(clientID)
	s.owner, s.link = owner, owner.Link()
	s.setOwner(view, r.reads)
	s.mu.Lock()
	r.sessions[clientID] = s
	s.st.expiry, s.st.connectExpiry = req.Expiry, req.Expiry
	attach(s, false)
	r.persistOpenLocked(s, req.Will)
	s.mu.Unlock()
	r.mu.Unlock()
	if old != nil {
		old.mu.Lock()
		prev = old.owner
		old.owner, old.link = nil, Link{}
		old.ended = true
		old.stopTimers()
		old.mu.Unlock()
		r.onEnd(old)
	}
	return s, prev, nil
}

// detach releases the session from owner when the connection ends, with
// the will to publish (nil when there is none or it was discarded by
// DISCONNECT). A session with expiry 0 ends now; otherwise it ends when the
// interval passes without a new connection [MQTT-3.1.2-23]. The will goes
// now when it has no delay or the session ends now, and otherwise after
// its Will Delay Interval, unless a new connection for the client id comes
// first, or at once if the session ends first [MQTT-3.1.3-9]. A session
// already taken over is left alone, but a will without delay still goes.
func (r *registry) detach(s *Session, owner Client, will *mqtt.Will) {
	var publishNow *mqtt.Will
	defer func() {
		if publishNow != nil {
			r.onWill(s.st.clientID, publishNow)
		}
	}()
	r.mu.Lock()
	s.mu.Lock()
	if s.owner != owner || s.ended {
		s.mu.Unlock()
		r.mu.Unlock()
		if will != nil && will.Properties.WillDelayInterval == 0 {
			publishNow = will
		}
		return
	}
	s.owner, s.link = nil, Link{}
	expiry := s.st.expiry
	if expiry == 0 {
		s.ended = true
		s.stopTimers()
		delete(r.sessions, s.st.clientID)
		s.forgetLocked()
		s.mu.Unlock()
		r.mu.Unlock()
		publishNow = will
		r.onEnd(s)
		return
	}
	if will != nil {
		if delay := will.Properties.WillDelayInterval; delay == 0 {
			publishNow = will
		} else {
			o := s.offOrNew()
			o.will = will
			o.willTimer = time.AfterFunc(time.Duration(delay)*time.Second, func() { r.willDue(s) })
		}
	}
	if expiry != math.MaxUint32 {
		// 0xFFFFFFFF never expires (3.1.2.11.2).
		s.offOrNew().expiryTimer = time.AfterFunc(time.Duration(expiry)*time.Second, func() { r.expire(s) })
	}
	if s.p != nil {
		now := time.Now()
		o := s.offOrNew()
		o.deadline, o.pw, o.pwDeadline = time.Time{}, o.will, time.Time{}
		if expiry != math.MaxUint32 {
			o.deadline = now.Add(time.Duration(expiry) * time.Second)
		}
		if o.will != nil {
			o.pwDeadline = now.Add(time.Duration(o.will.Properties.WillDelayInterval) * time.Second)
		}
		s.saveLocked()
	}
	s.mu.Unlock()
	r.mu.Unlock()
}

// willDue publishes a delayed will whose delay passed.
func (r *registry) willDue(s *Session) {
	s.mu.Lock()
	var w *mqtt.Will
	if o := s.off; o != nil {
		w = o.will
		o.will, o.willTimer = nil, nil
		if w != nil && s.p != nil && !s.ended {
			o.pw = nil
			s.saveLocked()
		}
	}
	s.mu.Unlock()
	if w != nil {
		r.onWill(s.st.clientID, w)
	}
}

// expire ends a session whose expiry interval passed with no connection,
// publishing a will still waiting for its delay [MQTT-3.1.3-9]. A session
// a connection holds again, or that already ended, is left alone.
func (r *registry) expire(s *Session) {
	r.endOffline(s.st.clientID, s)
}

// endOffline ends an offline session as its expiry does: s, or with s nil
// the session of clientID. A will still waiting for its Will Delay
// Interval is published, as the session ends first [MQTT-3.1.3-9]. It
// reports whether there was such a session, and busy when a connection
// holds it; a session held or already ended is left alone. It takes
// registry.mu, then session.mu (and the store's lock under it), and runs
// onWill and onEnd after releasing them: the caller holds none of our
// locks. Expiry timers and the admin API's discard both end sessions
// here.
func (r *registry) endOffline(clientID string, s *Session) (found, busy bool) {
	r.mu.Lock()
	if s == nil {
		if s = r.sessions[clientID]; s == nil {
			r.mu.Unlock()
			return false, false
		}
	}
	s.mu.Lock()
	if s.owner != nil || s.ended {
		busy = s.owner != nil
		s.mu.Unlock()
		r.mu.Unlock()
		return true, busy
	}
	s.ended = true
	w := s.offWill()
	s.stopTimers()
	if r.sessions[s.st.clientID] == s {
		delete(r.sessions, s.st.clientID)
		s.forgetLocked() // persist.go
	}
	s.mu.Unlock()
	r.mu.Unlock()
	if w != nil {
		r.onWill(s.st.clientID, w)
	}
	r.onEnd(s)
	return true, false
}

// count returns the number of sessions.
func (r *registry) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.sessions)
}

// snapshot returns the sessions, by client id. Safe from any goroutine
// holding none of our locks: registry.mu is held only to copy the map,
// and no session's lock is taken, so the caller may lock each session
// (through its methods) afterwards. A session may end or a new one start
// right after the copy.
func (r *registry) snapshot() []*Session {
	r.mu.Lock()
	out := make([]*Session, 0, len(r.sessions))
	for _, s := range r.sessions {
		out = append(out, s)
	}
	r.mu.Unlock()
	slices.SortFunc(out, func(a, b *Session) int { return cmp.Compare(a.st.clientID, b.st.clientID) })
	return out
}

// lookup returns the session of clientID, or nil. It takes registry.mu
// alone; the session may end right after.
func (r *registry) lookup(clientID string) *Session {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.sessions[clientID]
}

// gauges counts sessions, subscriptions, inflight and queued messages.
// Safe from any goroutine holding none of our locks: registry.mu is held
// only to list the sessions, then each session.mu alone, in turn, so the
// totals are approximate (metrics, $SYS).
func (r *registry) gauges() (sessions, subs, inflight, queued int) {
	r.mu.Lock()
	list := make([]*Session, 0, len(r.sessions))
	for _, s := range r.sessions {
		list = append(list, s)
	}
	r.mu.Unlock()
	for _, s := range list {
		s.mu.Lock()
		subs += len(s.st.subs)
		inflight += len(s.st.inflight)
		queued += len(s.st.pending)
		s.mu.Unlock()
	}
	return len(list), subs, inflight, queued
}

// subscriptionCount returns the number of subscriptions of all sessions,
// under the locks of gauges.
func (r *registry) subscriptionCount() int {
	_, subs, _, _ := r.gauges()
	return subs
}

// closeAll stops every session timer, for shutdown.
func (r *registry) closeAll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.sessions {
		s.mu.Lock()
		s.stopTimers()
		s.mu.Unlock()
	}
}

func (s *Session) stopTimers() {
	o := s.off
	if o == nil {
		return
	}
	if o.expiryTimer != nil {
		o.expiryTimer.Stop()
		o.expiryTimer = nil
	}
	if o.willTimer != nil {
		o.willTimer.Stop()
		o.willTimer = nil
	}
	o.will = nil
	if s.p == nil {
		s.off = nil // nothing stored to describe: connected, it needs none
	}
}

// discard ends the offline session of clientID as its expiry would
// [MQTT-3.1.2-23], through the same path (endOffline): a will still
// waiting for its Will Delay Interval is published now, as the session
// ends first [MQTT-3.1.3-9]. It reports whether there was such a session,
// and busy when a connection holds it. Locks as endOffline.
func (r *registry) discard(clientID string) (found, busy bool) {
	return r.endOffline(clientID, nil)
}

// SessionView is a copy of a session's counts and subscriptions, taken
// under its lock (View).
type SessionView struct {
	Subs        []SubscriptionView // by filter
	Inflight    int
	Queued      int
	QueuedBytes int64
	Expiry      uint32
	Connected   bool
	// RetainedJobs is the number of subscriptions whose retained
	// messages are still being delivered, RetainedAfter the topic the
	// first of them delivered last (retained_feed.go).
	RetainedJobs  int
	RetainedAfter string
}

// SubscriptionView is a subscription's filter and options, copied.
type SubscriptionView struct {
	Filter            string
	QoS               byte
	NoLocal           bool
	RetainAsPublished bool
	RetainHandling    byte
	ID                uint32 // Subscription Identifier; 0: none
}

// View copies what the admin API shows of s. It takes session.mu alone
// and nothing under it: the caller holds none of our locks.
func (s *Session) View() SessionView {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := SessionView{
		Inflight: len(s.st.inflight), Queued: len(s.st.pending), QueuedBytes: s.st.pendingBytes,
		Expiry: s.st.expiry, Connected: s.owner != nil,
		Subs:         make([]SubscriptionView, 0, len(s.st.subs)),
		RetainedJobs: len(s.feed.queued()),
	}
	if jobs := s.feed.queued(); len(jobs) > 0 {
		v.RetainedAfter = jobs[0].after
	}
	for _, sub := range s.st.subs {
		v.Subs = append(v.Subs, SubscriptionView{
			Filter: sub.filter, QoS: sub.qos, NoLocal: sub.noLocal, RetainAsPublished: sub.retainAsPublished,
			RetainHandling: sub.retainHandling, ID: sub.id,
		})
	}
	slices.SortFunc(v.Subs, func(a, b SubscriptionView) int { return cmp.Compare(a.Filter, b.Filter) })
	return v
}

// HeldBy reports whether ch is the connection holding s now. It takes
// session.mu alone; ownership may change right after.
func (s *Session) HeldBy(ch Client) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.owner == ch
}

// Holder returns the connection holding s now, nil for none. It takes
// session.mu alone; ownership may change right after.
func (s *Session) Holder() Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.owner
}

// AwaitDetached waits until no connection holds s, or it ended. It
// reports false when ctx ends first.
func (s *Session) AwaitDetached(ctx context.Context) bool {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		s.mu.Lock()
		free := s.owner == nil || s.ended
		s.mu.Unlock()
		if free {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
	}
}
