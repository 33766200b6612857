package gateway

// Session ownership: a session belongs to the identity that created it,
// and what it receives is checked against that identity's current read
// permission.
//
// Identity: what authentication established (identityOf): the user name
// after substitution (a JWT username_claim, a certificate identity used as
// user name, the SCRAM user), else the verified certificate's identity,
// else "anonymous on listener X". With session.owner_binding strict (the
// default) a CONNECT of another identity that would resume, take over or,
// with Clean Start, discard a session is refused with Not Authorized
// (registry.open); the session and its client are left alone.
//
// Owner view: each session keeps an ownerView, an immutable read-only
// snapshot of its owner as authorizers see it (the aclView of its last
// connection and that credential's ACL claims). It outlives the
// connection, so an offline session's queue is judged by the same
// identity, and it is stored with the session record (persist.go). A new
// connection, a re-authentication and a credential expiry replace it by a
// new pointer.
//
// Read check: a message goes to a session through a subscription only
// while the owner may still subscribe to that subscription's filter under
// the authorizer in force (the same decision SUBSCRIBE made). The
// decision is cached on the subscription in one word, keyed by a
// generation: authorizer states (one per Server.SetAuthorizer: config
// reload, acl.file reload) and owner views take their ids from one
// counter (acl.Holder.NextID), so the larger of the two ids in force grows
// whenever either is replaced, and names the pair. The hot path reads the
// session's ownerGen (next to the fields deliver reads), and, under a real
// ACL or ACL claims, the subscription's word: no pointer is followed.
// Without either it does nothing per delivery (acl.Holder.ChecksReads). Queued and
// in-flight deliveries carry no subscription: they are judged, when they
// leave the queue, by the session's subscriptions matching their topic
// (mayReadQueuedLocked). What the owner may no longer read is dropped and
// counted as read_denied.
//
// Locks: the owner view and generation are atomics, read without locks;
// they are written under session.mu (registry.open resuming, renewOwner)
// or before the session is shared (a new session in registry.open,
// restore). takeoverStats.mu is taken alone. No lock order changes.

import (
	"slices"
	"sort"

	"edgemq/gateway/acl"
	"edgemq/gateway/internal/lockorder"
	"edgemq/gateway/stats"
	"edgemq/gateway/store"
	"edgemq/mqtt"

	"github.com/prometheus/client_golang/prometheus"
)

// ownerView is a session owner as authorizers see it. Never modified once
// stored in a session: a change makes a new one.
type ownerView struct {
	aclView
	// id is the view's generation (acl.Holder.NextID), set when it is stored
	// in a session.
	id uint64
	// identity is what binds the session (identityOf).
	identity string
	// claims are the credential's ACL claims, nil for none.
	claims *ACLClaims
}

// identityOf returns the identity authentication established for v: the
// user name, else the certificate identity, else anonymous on the
// listener. The prefixes keep the three apart: a user named like a
// certificate identity is not that certificate.
func identityOf(v *aclView) string {
	switch {
	case v.HasUsername() && v.Username() != "":
		return "user:" + v.Username()
	case v.CertIdentity() != "":
		return "cert:" + v.CertIdentity()
	}
	return "anonymous:" + v.Listener()
}

// ownerViewOf returns the owner view of the connection: its ACL view
// (set by authorizeConnect) and its credential's claims.
func (ch *channel) ownerViewOf() *ownerView {
	v := &ownerView{aclView: *ch.acl.View(), claims: ch.credExp.acl}
	v.identity = identityOf(&v.aclView)
	return v
}

// renewed returns a copy of v with generation id, so that every cached
// read decision made from v is made again.
func (v *ownerView) renewed(id uint64) *ownerView {
	c := *v
	c.id = id
	return &c
}

// setOwner makes v, whose id is set, the session's owner view. The view is
// stored before the generation that names it: a reader that loads the
// generation first never judges by an older view under a newer
// generation. h is the server's authorizer, whose counter numbered v.
// Callers serialise it: s.mu held, or s not yet shared.
func (s *session) setOwner(v *ownerView, h *aclHolder) {
	s.ownerv.Store(v)
	g := v.id << 1
	if v.claims != nil {
		g |= 1
		h.NoteClaims()
	}
	s.ownerGen.Store(g)
}

// ownedBy reports whether id is the identity of the session's owner; a
// session without an owner is owned by nobody.
func (s *session) ownedBy(id string) bool {
	v := s.ownerv.Load()
	return v != nil && v.identity == id
}

// ownerIdentity returns the identity of the session's owner, "" for none.
func (s *session) ownerIdentity() string {
	if v := s.ownerv.Load(); v != nil {
		return v.identity
	}
	return ""
}

// renewOwner replaces the owner view by a copy with a new generation, so
// that every read decision cached on the session's subscriptions is made
// again: after a re-authentication or a credential expiry. h is the
// server's authorizer.
func (s *session) renewOwner(h *aclHolder) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v := s.ownerv.Load(); v != nil {
		s.setOwner(v.renewed(h.NextID()), h)
	}
}

// errSessionOwned refuses a CONNECT for a session of another identity.
var errSessionOwned = mqtt.Errorf(mqtt.NotAuthorized, "", "client id is in use by a session of another identity")

// mayTake reports whether a connection of identity id may resume, take
// over or discard s. A session without an owner (restored from a record
// written before owners existed) is taken by the first identity that
// connects. s.ownerv is atomic: no lock needed.
func (r *registry) mayTake(s *session, id string) bool {
	if !r.strictOwner {
		return true
	}
	v := s.ownerv.Load()
	return v == nil || v.identity == id
}

// mayRead reports whether the owner of s may receive what comes through
// sub under the authorizer st. Safe without s.mu. sub.read holds the
// decision's generation shifted left by one, bit 0 the decision; 0: none.
func (s *session) mayRead(sub *subscription, st *aclState) bool {
	g := s.ownerGen.Load()
	if g == 0 || (g&1 == 0 && st.AllowsAll()) {
		return true // no owner (a record from before owners), or nothing to check
	}
	gen := max(g>>1, st.ID())
	if d := sub.read.Load(); d>>1 == gen {
		return d&1 == 1
	}
	// The view is stored before its generation (setOwner): it is the one
	// g names or a newer one, never an older one.
	ok := s.ownerv.Load().mayRead(st, sub.filter, sub.qos)
	d := gen << 1
	if ok {
		d |= 1
	}
	sub.read.Store(d)
	return ok
}

// mayRead asks, uncached, whether the owner may subscribe to filter (a
// shared subscription's filter after "$share/{name}/") now: its
// credential's claims, then the authorizer st, as SUBSCRIBE does
// (maySubscribe, acl.State.MayRead).
func (v *ownerView) mayRead(st *aclState, filter string, qos byte) bool {
	return st.MayRead(&v.aclView, claimsOf(v.claims), filter, qos)
}

// mayReadQueuedLocked reports whether the owner may still receive d, a
// delivery that waited in the session (pending, or in flight from an
// earlier connection): through one of the session's subscriptions whose
// filter matches its topic, from their cached decisions; when none
// matches any more (unsubscribed meanwhile), by the topic itself. It
// counts a refusal as dropped (read_denied). h is the server's
// authorizer. s.mu held.
func (s *session) mayReadQueuedLocked(d *delivery, h *aclHolder) bool {
	st := h.Load()
	if g := s.ownerGen.Load(); g == 0 || (g&1 == 0 && st.AllowsAll()) {
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
	if !matched && v.mayRead(st, topic, d.qos) {
		return true
	}
	s.stats.Drop(stats.DropReadDenied)
	return false
}

// ownerRecord is the stored form of the session's owner, nil when it has
// none. s.ownerv is atomic: no lock needed.
func (s *session) ownerRecord() *store.Owner {
	v := s.ownerv.Load()
	if v == nil {
		return nil
	}
	o := &store.Owner{Identity: v.identity, Username: v.Username(), HasUsername: v.HasUsername(),
		CertIdentity: v.CertIdentity(), Listener: v.Listener()}
	if cl := v.claims; cl != nil {
		o.Claims = &store.ACLClaims{Pub: cl.Pub, Sub: cl.Sub}
	}
	return o
}

// restoredOwner makes the owner view of a stored session. Its ConnInfo
// knows the listener, user name, certificate identity and client id;
// the remote address, transport, TLS state and protocol version of a
// connection that is gone are zero until the owner connects again.
func restoredOwner(clientID string, o *store.Owner, ids *aclHolder) *ownerView {
	if o == nil {
		return nil
	}
	v := &ownerView{id: ids.NextID(), identity: o.Identity,
		aclView: acl.StoredView(o.Listener, clientID, o.Username, o.HasUsername, o.CertIdentity)}
	if cl := o.Claims; cl != nil {
		v.claims = &ACLClaims{Pub: cl.Pub, Sub: cl.Sub}
	}
	return v
}

// takeoverStats counts refused takeovers by listener.
type takeoverStats struct {
	mu      lockorder.Mutex[takeoverMu]
	refused map[string]int64
}

func (t *takeoverStats) add(listener string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.refused == nil {
		t.refused = make(map[string]int64)
	}
	t.refused[listener]++
}

// count returns the refusals of listener.
func (t *takeoverStats) count(listener string) int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.refused[listener]
}

var descTakeoverRefused = prometheus.NewDesc("edgemq_session_takeover_refused_total",
	"CONNECTs refused because the client id's session belongs to another identity (session.owner_binding strict), by listener.",
	[]string{"listener"}, nil)

// takeoverCollector exports edgemq_session_takeover_refused_total, with
// a series for every listener from the start.
type takeoverCollector struct{ s *Server }

func (c takeoverCollector) Describe(ch chan<- *prometheus.Desc) { ch <- descTakeoverRefused }

func (c takeoverCollector) Collect(ch chan<- prometheus.Metric) {
	t := &c.s.eng.stats.takeover
	names := make([]string, 0, len(c.s.lsts))
	for _, l := range c.s.lsts {
		names = append(names, l.cfg.Name)
	}
	t.mu.Lock()
	for l := range t.refused {
		if !slices.Contains(names, l) {
			names = append(names, l)
		}
	}
	t.mu.Unlock()
	sort.Strings(names)
	for _, l := range names {
		ch <- prometheus.MustNewConstMetric(descTakeoverRefused, prometheus.CounterValue, float64(t.count(l)), l)
	}
}
