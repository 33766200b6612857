package broker

// What a cluster backend (gateway/cluster/backend) needs of the broker to
// carry sessions between nodes: messages carry their sequence in the
// cluster's messages stream; a session tracks the highest sequence it
// was given and the lowest it still owes, which makes its cursor; a
// session coming from another node's record is adopted offline, its
// stored messages replayed into it while what arrives live is held, so
// that replay meets live delivery with no gap and no duplicate.
//
// Single node: no session has cluster state (Session.cl nil), and the
// message path pays one nil test per delivery.
//
// Locks: everything here takes session.mu alone, or registry.mu then
// session.mu (Adopt), or engine.order shared then session.mu (ReplayTo),
// as the rest of the broker does (LOCKS.md).

import (
	"math"
	"time"

	"edgemq/gateway/stats"
	"edgemq/gateway/store"
)

// SetSeq sets m's sequence in the cluster's messages stream (0: none, a
// QoS 0 message or a single node's). Call it before routing m.
func (m *Message) SetSeq(seq uint64) { m.seq = seq }

// Seq returns m's sequence in the cluster's messages stream, 0 for none.
func (m *Message) Seq() uint64 { return m.seq }

// clusterState is a session's cluster bookkeeping (cluster.go); guarded
// by session.mu.
type clusterState struct {
	// high is the highest sequence given to the session.
	high uint64
	// skip: a message of a sequence up to skip was replayed; it is not
	// delivered again when it arrives live.
	skip uint64
	// replaying holds live deliveries in held until EndReplay.
	replaying bool
	held      []*Delivery
	// floors holds, for each QoS 1/2 message given to the session
	// without its sequence (published on this node: routed before the
	// stream numbered it), high when it came: its sequence is above.
	// Pruned to what is owed by Cursor.
	floors map[*Message]uint64
	// base is the cursor the session started from here (StartCursor):
	// the floor of an owed message whose floor is unknown.
	base uint64
	// carried are the deliveries carried in flight from another node
	// waiting for their message; gate the packets waiting for the
	// session's record.
	carried carryState
	gate    outGate
	// done are the messages above the cursor the session is done with;
	// rels the inbound ids awaiting PUBREL carried from another node's
	// record (cluster_out.go).
	done []Done
	rels map[uint16]struct{}
	// shareMarks is the last mark given to a delivery through a shared
	// subscription, shareRecorded the last one the record holds
	// (cluster_out.go: OutMark, ReleaseOut).
	shareMarks, shareRecorded uint64
	// changed: what a backend records of the session (its cursor, its
	// deliveries in flight and done, its inbound QoS 2 ids, its end) may
	// have changed since the backend last looked (ClusterSeen); notify
	// heard of it, once.
	changed bool
	notify  func(*Session)
}

// clusterChangedLocked marks what a backend records of s as changed,
// telling the backend (OnClusterChange) at the first change since it
// last looked. s.mu held.
func (s *Session) clusterChangedLocked() {
	if c := s.cl; c != nil && !c.changed && c.notify != nil {
		c.changed = true
		c.notify(s)
	}
}

// ClusterSeen clears the mark of OnClusterChange: the next change is told
// again. A backend calls it before it reads the session's state. It
// takes session.mu alone.
func (s *Session) ClusterSeen() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cl != nil {
		s.cl.changed = false
	}
}

// OnClusterChange makes fn hear of each session whose cursor, deliveries
// in flight or done, inbound QoS 2 ids or end changed since the backend
// last called its
// ClusterSeen, once until then, so that a backend writes the records of
// the sessions that changed only. fn runs under the session's lock (and
// possibly engine.order, registry.mu): it must not block nor take a
// lock. Call it before the broker is used, with TrackClusterSeqs.
func (e *Broker) OnClusterChange(fn func(*Session)) {
	e.sessions.mu.Lock()
	e.sessions.clusterChange = fn
	e.sessions.mu.Unlock()
}

// take is called by deliver with s.mu held: it reports whether d is
// taken (held during a replay, or dropped as replayed already) instead
// of delivered.
func (s *Session) take(d *Delivery) bool {
	c := s.cl
	if c.replaying {
		if s.env.maxPending > 0 && len(c.held) >= s.env.maxPending {
			s.env.stats.Drop(stats.DropQueueFull)
			return true
		}
		c.held = append(c.held, d)
		return true
	}
	if seq := d.msg.seq; seq != 0 {
		// A replay gives a session its own subscriptions' messages, never
		// a shared subscription's: one through a group (or handed over
		// from a member that left, with its sequence) was not replayed.
		if seq <= c.skip && d.share == nil {
			return true
		}
		c.high = max(c.high, seq)
		s.clusterChangedLocked()
	} else if d.qos > 0 {
		if c.floors == nil {
			c.floors = make(map[*Message]uint64)
		}
		if _, ok := c.floors[d.msg]; !ok {
			c.floors[d.msg] = c.high
		}
		s.clusterChangedLocked()
	}
	return false
}

// StartCursor tells s the cursor it starts from on this node (its
// record's): what it is given later is above it. It takes session.mu
// alone.
func (s *Session) StartCursor(v uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cl == nil {
		return
	}
	s.cl.base = max(s.cl.base, v)
	s.cl.high = max(s.cl.high, v)
}

// TrackClusterSeqs makes every session created from now on keep cluster
// state (a cluster backend calls it before the broker is used).
func (e *Broker) TrackClusterSeqs() {
	e.sessions.mu.Lock()
	e.sessions.cluster = true
	e.sessions.mu.Unlock()
}

// Adoption is a session carried over from another node: what its record
// says.
type Adoption struct {
	ClientID string
	// Expiry is the Session Expiry Interval in seconds; Deadline when the
	// offline session ends (zero: Expiry from now, or never).
	Expiry   uint32
	Deadline time.Time
	Subs     []SubOptions
	// Rels are the inbound QoS 2 packet ids awaiting PUBREL.
	Rels []uint16
	// Owner is the identity the session is bound to, nil for none.
	Owner *store.Owner
}

// Adopt makes the offline session of a, replaying (BeginReplay): live
// deliveries are held until EndReplay. Its subscriptions are kept but not
// routed to: the caller registers them with Subscribe inside Subscribing
// (so that a backend following Interest learns of them). It returns nil
// when the client id has a session here already. It takes registry.mu,
// then session.mu.
func (e *Broker) Adopt(a Adoption) *Session {
	r := e.sessions
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.sessions[a.ClientID] != nil {
		return nil
	}
	s := r.newSession(a.ClientID)
	if s.cl == nil {
		s.cl = &clusterState{}
	}
	s.cl.replaying = true
	if o := restoredOwner(a.ClientID, a.Owner, r.reads); o != nil { // owner.go
		s.setOwner(o, r.reads)
	}
	s.st.expiry, s.st.connectExpiry = a.Expiry, a.Expiry
	for _, o := range a.Subs {
		s.st.putSub(NewSubscription(o)) // quota.go
	}
	for _, pid := range a.Rels {
		s.st.addRel(pid)
	}
	if a.Expiry != math.MaxUint32 {
		left := time.Duration(a.Expiry) * time.Second
		if !a.Deadline.IsZero() {
			left = a.Deadline.Sub(e.now())
		}
		s.offOrNew().expiryTimer = time.AfterFunc(max(left, 0), func() { r.expire(s) })
	}
	r.sessions[a.ClientID] = s
	return s
}

// BeginReplay holds the live deliveries to s until EndReplay. It takes
// session.mu alone.
func (s *Session) BeginReplay() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cl == nil {
		s.cl = &clusterState{}
	}
	s.cl.replaying = true
}

// ReplayTo delivers m, a stored message of the session's (its sequence
// set), to s through its matching non-shared subscriptions, as routing
// would (one copy at the highest QoS, every Subscription Identifier, No
// Local), whether s holds live deliveries or not. It reports whether m
// went to s. It takes engine.order shared, then session.mu.
func (e *Broker) ReplayTo(s *Session, m *Message) bool {
	e.order.RLock()
	defer e.order.RUnlock()
	now := e.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return false
	}
	qos, retain, ids, any := s.matchLocked(m) // cluster_out.go
	if !any {
		return false
	}
	if s.cl != nil {
		s.cl.high = max(s.cl.high, m.seq)
		s.clusterChangedLocked()
	}
	s.deliverLocked(m.DeliveryFor(min(qos, m.pub.QoS), retain, ids), now)
	e.stats.MsgsOut.Add(1)
	return true
}

// EndReplay ends the replay of s up to sequence through: the deliveries
// held meanwhile go, in their order, but for those of a sequence up to
// through (replayed already), which are dropped, as are later live
// arrivals of such. It takes session.mu alone.
func (s *Session) EndReplay(through uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.cl
	if c == nil || !c.replaying {
		return
	}
	c.replaying = false
	c.skip = max(c.skip, through)
	c.high = max(c.high, through)
	s.clusterChangedLocked()
	held := c.held
	c.held = nil
	if s.ended {
		return
	}
	now := s.now()
	for _, d := range held {
		if !s.take(d) {
			s.deliverLocked(d, now)
		}
	}
}

// Cursor returns the session's cursor in the messages stream: below
// every message it still owes its client (queued or in flight: one below
// its sequence, or its floor for one published on this node), or else
// the highest sequence it was given. It takes session.mu alone.
func (s *Session) Cursor() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.cl
	if c == nil {
		return 0
	}
	cur, owed := c.high, false
	var keep map[*Message]uint64
	owe := func(d *Delivery) {
		var v uint64
		switch {
		case d.msg.seq != 0:
			v = d.msg.seq - 1
		case d.qos > 0:
			f, ok := c.floors[d.msg]
			if !ok {
				f = c.base
			}
			if keep == nil {
				keep = make(map[*Message]uint64)
			}
			keep[d.msg] = f
			v = f
		default:
			return
		}
		if !owed || v < cur {
			cur, owed = v, true
		}
	}
	for _, d := range s.st.inflight {
		owe(d)
	}
	for _, d := range s.st.pending {
		owe(d)
	}
	c.floors = keep
	return cur
}

// Rels returns the inbound QoS 2 packet ids awaiting PUBREL. It takes
// session.mu alone.
func (s *Session) Rels() []uint16 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]uint16, 0, len(s.st.awaitingRel))
	for pid := range s.st.awaitingRel {
		out = append(out, pid)
	}
	return out
}

// OwnerRecord returns the stored form of the session's owner, nil for
// none. No lock.
func (s *Session) OwnerRecord() *store.Owner { return s.ownerRecord() }

// Ended reports whether the session ended (expired, discarded, or
// replaced). It takes session.mu alone.
func (s *Session) Ended() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ended
}

// StrictOwner reports whether a session is bound to its owner's identity
// (Config.StrictOwner), for a backend that refuses a CONNECT on another
// node's session as Open does here.
func (e *Broker) StrictOwner() bool { return e.sessions.strictOwner }
