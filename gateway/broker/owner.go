package broker

// Session ownership: a session belongs to the identity that created it,
// and what it receives is checked against that identity's current read
// permission.
//
// Identity: what authentication established (the protocol side computes
// it, Owner.Identity). With session.owner_binding strict (the default) a
// CONNECT of another identity that would resume, take over or, with Clean
// Start, discard a session is refused with Not Authorized
// (registry.open); the session and its client are left alone.
//
// Owner: each session keeps an Owner, an immutable read-only snapshot of
// its owner as authorizers see it (the acl side's view of its last
// connection and that credential's ACL claims, opaque here). It outlives
// the connection, so an offline session's queue is judged by the same
// identity, and it is stored with the session record (persist.go). A new
// connection, a re-authentication and a credential expiry replace it by a
// new pointer.
//
// Read check: a message goes to a session through a subscription only
// while the owner may still subscribe to that subscription's filter under
// the authorizer in force (the same decision SUBSCRIBE made), which the
// acl side decides (ReadChecker). The decision is cached on the
// subscription in one word, keyed by a generation: read policies (one per
// authorizer state: Server.SetAuthorizer, a config or acl.file reload)
// and owners take their ids from one counter (Reads.ids), so the larger
// of the two ids in force grows whenever either is replaced, and names
// the pair. The hot path reads the session's ownerGen (next to the fields
// deliver reads), and, under a real ACL or ACL claims, the subscription's
// word: no pointer is followed, no interface called. Without either it
// does nothing per delivery (Reads.checks). Queued and in-flight
// deliveries carry no subscription: they are judged, when they leave the
// queue, by the session's subscriptions matching their topic
// (mayReadQueuedLocked). What the owner may no longer read is dropped and
// counted as read_denied.
//
// Locks: the owner and generation are atomics, read without locks; they
// are written under session.mu (registry.open resuming, RenewOwner) or
// before the session is shared (a new session in registry.open, restore).
// takeoverStats.mu is taken alone. ReadChecker runs under the route's
// locks and takes none of ours.

import (
	"maps"
	"slices"
	"sync/atomic"

	"edgemq/gateway/internal/lockorder"
	"edgemq/gateway/stats"
	"edgemq/gateway/store"
	"edgemq/mqtt"
)

// Owner is a session owner as authorizers see it. Never modified once
// given to the broker: a change makes a new one.
type Owner struct {
	// id is the owner's generation (Reads.ids), set when it is stored in
	// a session.
	id uint64
	// Identity is what binds the session (owner_binding).
	Identity string
	// Claims is set when the credential carries ACL claims: deliveries
	// are then checked even while the authorizer allows everything.
	Claims bool
	// Record is the stored form of the owner (persist.go).
	Record store.Owner
	// View is the acl side's view of the owner, handed back to the
	// ReadChecker only.
	View any
}

// renewed returns a copy of o with generation id, so that every cached
// read decision made from o is made again.
func (o *Owner) renewed(id uint64) *Owner {
	c := *o
	c.id = id
	return &c
}

// Policy is the authorizer in force as the read check sees it: one per
// authorizer state. Immutable once set (Reads.Set, Reads.Renew).
type Policy struct {
	id       uint64
	allowAll bool
	// State is the acl side's authorizer state, handed back to the
	// ReadChecker only.
	State any
}

// ReadChecker is the acl side of the read check; the root adapts the
// authorizer to it.
//
// Concurrency: safe for concurrent use; called on publishers' goroutines
// with engine.order, a session's lock and the store's group held: it
// must not block, and takes none of the gateway's locks. No ctx: it
// decides from memory. Not found: an owner or policy the acl side does
// not know is refused (false), never an error.
type ReadChecker interface {
	// MayRead decides, uncached, whether the owner o may subscribe to
	// filter (a shared subscription's filter after "$share/{name}/") at
	// qos now: its credential's claims, then the authorizer p (nil: none
	// set, allow), as SUBSCRIBE does.
	MayRead(p *Policy, o *Owner, filter string, qos byte) bool
	// RestoredView returns the View of an owner restored from the store
	// (clientID's record rec): what authorizers can know of a connection
	// that is gone.
	RestoredView(clientID string, rec *store.Owner) any
}

// Reads holds the read policy in force and numbers policies and owners
// together. Safe for concurrent use: its fields are atomics.
type Reads struct {
	p   atomic.Pointer[Policy]
	ids atomic.Uint64
	// claims is set once a session owner with ACL claims was seen: from
	// then on deliveries are checked also under allow-all.
	claims atomic.Bool
	check  ReadChecker
}

// Set makes a new policy of the acl side's state the one in force:
// every cached read decision is made again. allowAll says the authorizer
// allows everything (no check per delivery without claims).
func (h *Reads) Set(allowAll bool, state any) {
	h.p.Store(&Policy{id: h.ids.Add(1), allowAll: allowAll, State: state})
}

// Renew puts the policy in force again as a new one, its state renew
// gives for the old one's, so that every cached decision is made again
// (RefreshAuthorizer); the acl side renews its state so that the
// decisions it caches itself are made again too. A Set meanwhile wins;
// with no policy set it does nothing.
func (h *Reads) Renew(renew func(state any) any) {
	for {
		old := h.p.Load()
		if old == nil {
			return
		}
		next := &Policy{id: h.ids.Add(1), allowAll: old.allowAll, State: renew(old.State)}
		if h.p.CompareAndSwap(old, next) {
			return
		}
	}
}

// Policy returns the policy in force; nil before the first Set. The
// server's authorizer is held here alone: the channel reads its state
// from it (Policy.State).
func (h *Reads) Policy() *Policy { return h.p.Load() }

// load returns the policy in force; nil (allow all) for none.
func (h *Reads) load() *Policy { return h.p.Load() }

// checks reports whether deliveries need the read check under p: not
// while everything is allowed and no owner has ACL claims, so that a
// gateway without an ACL pays one test per message, not per delivery.
func (h *Reads) checks(p *Policy) bool {
	return (p != nil && !p.allowAll) || h.claims.Load()
}

// setOwner makes o, whose id is set, the session's owner. The owner is
// stored before the generation that names it: a reader that loads the
// generation first never judges by an older owner under a newer
// generation. h numbered o. Callers serialise it: s.mu held, or s not
// yet shared.
func (s *Session) setOwner(o *Owner, h *Reads) {
	s.ownerv.Store(o)
	g := o.id << 1
	if o.Claims {
		g |= 1
		h.claims.Store(true)
	}
	s.ownerGen.Store(g)
}

// OwnedBy reports whether id is the identity of the session's owner; a
// session without an owner is owned by nobody. Safe from any goroutine,
// with no lock.
func (s *Session) OwnedBy(id string) bool {
	v := s.ownerv.Load()
	return v != nil && v.Identity == id
}

// OwnerIdentity returns the identity of the session's owner, "" for none.
// Safe from any goroutine, with no lock.
func (s *Session) OwnerIdentity() string {
	if v := s.ownerv.Load(); v != nil {
		return v.Identity
	}
	return ""
}

// RenewOwner replaces the owner by a copy with a new generation, so that
// every read decision cached on the session's subscriptions is made
// again: after a re-authentication or a credential expiry. It takes
// session.mu alone.
func (s *Session) RenewOwner() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v := s.ownerv.Load(); v != nil {
		s.setOwner(v.renewed(s.env.reads.ids.Add(1)), s.env.reads)
	}
}

// errSessionOwned refuses a CONNECT for a session of another identity.
var errSessionOwned = mqtt.Errorf(mqtt.NotAuthorized, "", "client id is in use by a session of another identity")

// mayTake reports whether a connection of identity id may resume, take
// over or discard s. A session without an owner (restored from a record
// written before owners existed) is taken by the first identity that
// connects. s.ownerv is atomic: no lock needed.
func (r *registry) mayTake(s *Session, id string) bool {
	if !r.strictOwner {
		return true
	}
	v := s.ownerv.Load()
	return v == nil || v.Identity == id
}

// mayRead reports whether the owner of s may receive what comes through
// sub under the policy st. Safe without s.mu. sub.read holds the
// decision's generation shifted left by one, bit 0 the decision; 0: none.
func (s *Session) mayRead(sub *Subscription, st *Policy) bool {
	g := s.ownerGen.Load()
	if g == 0 || (g&1 == 0 && (st == nil || st.allowAll)) {
		return true // no owner (a record from before owners), or nothing to check
	}
	gen := g >> 1
	if st != nil {
		gen = max(gen, st.id)
	}
	if d := sub.read.Load(); d>>1 == gen {
		return d&1 == 1
	}
	// The owner is stored before its generation (setOwner): it is the
	// one g names or a newer one, never an older one.
	ok := s.env.reads.check.MayRead(st, s.ownerv.Load(), sub.filter, sub.qos)
	d := gen << 1
	if ok {
		d |= 1
	}
	sub.read.Store(d)
	return ok
}

// mayReadQueuedLocked reports whether the owner may still receive d, a
// delivery that waited in the session (pending, or in flight from an
// earlier connection): through one of the session's subscriptions whose
// filter matches its topic, from their cached decisions; when none
// matches any more (unsubscribed meanwhile), by the topic itself. It
// counts a refusal as dropped (read_denied). s.mu held.
func (s *Session) mayReadQueuedLocked(d *Delivery) bool {
	st := s.env.reads.load()
	if g := s.ownerGen.Load(); g == 0 || (g&1 == 0 && (st == nil || st.allowAll)) {
		return true
	}
	v := s.ownerv.Load()
	topic := d.msg.pub.Topic
	matched := false
	for _, sub := range s.st.subs {
		f := sub.filter
		if _, sf, shared, err := mqtt.ParseShared(f); shared && err == nil {
			f = sf
		}
		if !mqtt.Match(f, topic) {
			continue
		}
		if s.mayRead(sub, st) {
			return true
		}
		matched = true
	}
	if !matched && s.env.reads.check.MayRead(st, v, topic, d.qos) {
		return true
	}
	s.env.stats.Drop(stats.DropReadDenied)
	return false
}

// ownerRecord is the stored form of the session's owner, nil when it has
// none. s.ownerv is atomic: no lock needed.
func (s *Session) ownerRecord() *store.Owner {
	v := s.ownerv.Load()
	if v == nil {
		return nil
	}
	o := v.Record
	return &o
}

// restoredOwner makes the owner of a stored session; nil for none.
func restoredOwner(clientID string, o *store.Owner, h *Reads) *Owner {
	if o == nil {
		return nil
	}
	return &Owner{id: h.ids.Add(1), Identity: o.Identity, Claims: o.Claims != nil, Record: *o,
		View: h.check.RestoredView(clientID, o)}
}

// Takeovers counts CONNECTs refused for a session of another identity,
// by listener. Safe for concurrent use: takeoverStats.mu, taken alone.
type Takeovers struct {
	mu      lockorder.Mutex[takeoverMu]
	refused map[string]int64
}

// Add counts a refusal on listener.
func (t *Takeovers) Add(listener string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.refused == nil {
		t.refused = make(map[string]int64)
	}
	t.refused[listener]++
}

// Count returns the refusals of listener.
func (t *Takeovers) Count(listener string) int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.refused[listener]
}

// Listeners returns, sorted, the listeners with a refusal.
func (t *Takeovers) Listeners() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Sorted(maps.Keys(t.refused))
}
