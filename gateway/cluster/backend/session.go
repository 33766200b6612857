package backend

// Sessions across nodes: the broker.Sessions seam over the session
// records of the sessions bucket (cluster.SessionStore). A CONNECT claims
// its client id's record (revision-checked) for this node, asks the node
// that held the session to close its client with DISCONNECT 0x8E and no
// will (takeover.go), carries the session on from the record (Session
// Present, subscriptions, QoS 2 ids) with its offline queue replayed from
// the record's cursor (replay.go), then opens it in the local broker.
// Wills are this file's (will.go): the broker is given none, so that a
// will goes cluster-wide, once, after its delay. The owning node keeps
// the record current (checkpoint.go); when a node lapses the others
// claim its sessions and publish their wills (lapse.go).
//
// Locks: Sessions.mu (a sync.Mutex, a leaf: nothing is taken under it)
// guards the owned map. A session's gate (session_gate.go) is held over
// NATS I/O and broker calls (registry.mu, session.mu, engine.order under
// it); no broker lock is held while a gate is taken.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"edgemq/gateway/broker"
	"edgemq/gateway/cluster"
	"edgemq/gateway/internal/lockorder"
	"edgemq/gateway/logsafe"
	"edgemq/gateway/store"
	"edgemq/mqtt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
	"go.uber.org/zap"
)

// SessionsOptions are what Sessions is built from.
type SessionsOptions struct {
	// Node is this node's name.
	Node string
	// Conn is the node's NATS connection (kicks), JS its JetStream
	// context and Layout the cluster's buckets and streams.
	Conn   *nats.Conn
	JS     jetstream.JetStream
	Layout *cluster.Layout
	// Up reports whether the NATS link is up: while it is not, CONNECT
	// is refused with 0x88 Server unavailable.
	Up func() bool
	// Broker is the local broker.
	Broker *broker.Broker
	// Subs registers the subscriptions of a session carried over from
	// another node, so that its interest is known to NATS before the
	// replay starts; nil: Broker.
	Subs broker.Subscriptions
	// Pub publishes wills (cluster-wide); nil: Broker (this node only).
	Pub broker.Publisher
	// Decode turns a stored message of the messages stream back into a
	// message; nil: decodeStored (replay.go).
	Decode func(jetstream.Msg) (*broker.Message, error)
	// StrictOwner refuses a CONNECT of another identity than a session's
	// owner (session.owner_binding strict).
	StrictOwner bool
	// KickWait bounds the wait for the previous owner node to close its
	// client; 0: 2s.
	KickWait time.Duration
	// OpenTimeout bounds the NATS work of one CONNECT; 0: 5s.
	OpenTimeout time.Duration
	// Checkpoint is how often the owning node writes what changed of its
	// sessions (subscriptions, cursor); 0: 200ms.
	Checkpoint time.Duration
	// Incarnation returns the incarnation of the node's liveness record
	// (cluster.Liveness.Incarnation), which its session records name
	// with it; nil: one fixed at NewSessions.
	Incarnation func() string
	Log         *zap.Logger
	// Recorded, when set, is told of what a member's record written now
	// lists of the messages it owes through shared subscriptions
	// (shared_durable.go); it must not block.
	Recorded func([]cluster.RecordShared)
}

// Sessions implements broker.Sessions over the cluster's session records.
// New with NewSessions, then Run.
type Sessions struct {
	o     SessionsOptions
	store cluster.SessionStore
	gates gates

	mu    lockorder.Mutex[sessionsMu] // guards owned; nothing is taken under it
	owned map[string]*owned

	counts SessionCounts
	// down is set while the checkpoints see the NATS link down.
	down atomic.Bool

	// index is the owner index (cluster.OwnerIndex); unindexed its
	// entries this node let go of, removed by unindexing (owner_index.go).
	index     *cluster.OwnerIndex
	unindexed keyQueue
	// dirty are the sessions whose record may need writing
	// (checkpoint.go).
	dirty keyQueue
	// replays counts the offline queues replayed (replay_lag.go).
	replays ReplayStats
	// points are where RecheckChanged starts from, lostAt when the
	// checkpoints first saw the link down since the last one succeeded
	// (recheck.go).
	points recheckPoints
	lostAt atomic.Pointer[time.Time]
	// outDue holds the client ids whose record write for their gated
	// packets is due and not started (outflight.go).
	outDue sync.Map
	// willSent, when set (tests), is called between a will's publish
	// and its removal from the record (will.go).
	willSent func(id string)
	// latestFails, when set (tests), gives the error a read of a record
	// from its stream's leader fails with, if any (checkpoint.go).
	latestFails atomic.Pointer[func(id string) error]
	// outWrites counts the record writes for gated packets
	// (outflight.go).
	outWrites atomic.Int64
}

// SessionCounts count what Sessions did (for metrics); atomics.
type SessionCounts struct {
	// TakeoversRemote counts CONNECTs that took a session over from
	// another node; TakeoversLocal those of a session this node held.
	TakeoversRemote, TakeoversLocal atomic.Int64
	// Claimed counts the sessions claimed from nodes that were gone.
	Claimed atomic.Int64
	// Wills counts the wills published, RemoteWills those of sessions
	// claimed from a node that was gone.
	Wills, RemoteWills atomic.Int64
	// Fenced counts the sessions dropped here because another node
	// claimed them without this node letting go first.
	Fenced atomic.Int64
	// Checkpointed counts the sessions the checkpoints looked at (those
	// marked changed, checkpoint.go); Rechecked the records rewritten
	// after an outage to find the sessions claimed elsewhere meanwhile
	// (recheck.go).
	Checkpointed, Rechecked atomic.Int64
}

// Counts returns the counters of s.
func (s *Sessions) Counts() *SessionCounts { return &s.counts }

// owned is a session this node holds, as its record was last written.
type owned struct {
	sess *broker.Session
	rec  cluster.SessionRecord
	rev  uint64
	// will is the timer of a will waiting for its delay; nil for none.
	will *time.Timer
	// stale is when a write of the record first failed on its
	// revision (checkpoint.go); zero while none did.
	stale time.Time
	// claimed: this node claimed the session from a node that was gone
	// (lapse.go).
	claimed bool
	// left is the end of the session's connection, with its will, not
	// yet recorded: the NATS link was down (checkpoint.go).
	left *left
	// index is the key of this node's owner index entry of the session
	// (owner_index.go), written before the claim.
	index string
}

// left is a connection's end waiting for the link.
type left struct{ will *mqtt.Will }

var _ broker.Sessions = (*Sessions)(nil)

// NewSessions returns the sessions of o.
func NewSessions(o SessionsOptions) *Sessions {
	if o.Subs == nil {
		o.Subs = o.Broker
	}
	if o.Pub == nil {
		o.Pub = o.Broker
	}
	if o.Decode == nil {
		o.Decode = decodeStored
	}
	if o.KickWait == 0 {
		o.KickWait = 2 * time.Second
	}
	if o.OpenTimeout == 0 {
		o.OpenTimeout = 5 * time.Second
	}
	if o.Checkpoint == 0 {
		o.Checkpoint = 200 * time.Millisecond
	}
	if o.Incarnation == nil {
		inc := nuid.Next()
		o.Incarnation = func() string { return inc }
	}
	o.Broker.TrackClusterSeqs() // broker/cluster.go: cursors
	s := &Sessions{o: o, store: cluster.NewSessionStore(o.Layout.Sessions), owned: make(map[string]*owned),
		index: cluster.NewOwnerIndex(o.JS, o.Layout.Sessions)}
	o.Broker.OnClusterChange(func(sess *broker.Session) { s.dirty.push(sess.ClientID()) }) // checkpoint.go
	return s
}

// SetWillPublisher makes p the Publisher that publishes the wills (in
// place of SessionsOptions.Pub): the node's operations give it one that
// stores a retained will in the cluster's retained stream too. Call it
// before Run, from the goroutine that built s.
func (s *Sessions) SetWillPublisher(p broker.Publisher) { s.o.Pub = p }

// errUnavailable refuses a CONNECT while the cluster cannot be reached:
// 0x88 Server unavailable, return code 3 for 3.x [MQTT-3.2.2-6].
func errUnavailable(err error) error {
	return mqtt.Errorf(mqtt.ServerUnavailable, "", "cluster unavailable: %v", err)
}

// errOwned refuses a CONNECT for a session of another identity.
var errOwned = mqtt.Errorf(mqtt.NotAuthorized, "", "client id is in use by a session of another identity")

// Open implements broker.Sessions: it claims the session's record for
// this node, makes the node that held it let it go, carries it on from
// the record (replaying its offline queue) and opens it in the broker.
// It blocks on NATS, bounded by OpenTimeout (and KickWait for the kick).
func (s *Sessions) Open(req broker.OpenRequest, attach func(*broker.Session, bool)) (*broker.Session, broker.Client, error) {
	if !s.o.Up() {
		return nil, nil, errUnavailable(errors.New("nats link down"))
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.o.OpenTimeout)
	defer cancel()
	id := req.ClientID
	unlock, err := s.gates.lock(ctx, id)
	if err != nil {
		return nil, nil, errUnavailable(err)
	}
	defer unlock()
	inc := s.incarnation()
	ixKey, fresh, err := s.indexFor(ctx, id, inc) // owner_index.go: before the claim names this node
	if err != nil {
		return nil, nil, errUnavailable(err)
	}
	claimed := false
	defer func() {
		if fresh && !claimed {
			s.unindex(ixKey)
		}
	}()
	now := time.Now()
	identity := identityOf(req.Owner)
	refused := false
	willOf := cluster.NewWillID()
	var last uint64
	var lastErr error
	var rec *cluster.SessionRecord
	prev, rev, err := s.store.Claim(ctx, id, func(old *cluster.SessionRecord) *cluster.SessionRecord {
		if old != nil && s.o.StrictOwner && !sameIdentity(old.Identity, req.Owner) {
			refused = true
			return nil
		}
		rec = &cluster.SessionRecord{Owner: s.o.Node, Incarnation: inc, Epoch: 1, Connected: true, Expiry: req.Expiry, Identity: identity}
		if old != nil {
			rec.Epoch = old.Epoch + 1
		}
		if old != nil && !req.Clean && alive(old, now) {
			rec.Subs, rec.Rels, rec.Cursor = old.Subs, old.Rels, old.Cursor
			rec.Out, rec.Done = old.Out, old.Done
			rec.KeepUnknown(old) // a newer node's fields (cluster.SessionRecord)
		} else {
			// A new session's cursor is the stream's end: what was
			// stored before it is not its.
			if last == 0 && lastErr == nil {
				last, lastErr = s.lastSeq(ctx)
			}
			if lastErr != nil {
				return nil
			}
			rec.Cursor = last
		}
		if req.Will != nil {
			if w, err := cluster.NewRecordWill(req.Will, time.Time{}); err == nil {
				w.ID = willOf // will_send.go
				rec.Will = w
			}
		}
		return rec
	})
	switch {
	case refused:
		return nil, nil, errOwned
	case lastErr != nil:
		return nil, nil, errUnavailable(lastErr)
	case err != nil:
		if newer := (*cluster.VersionError)(nil); errors.As(err, &newer) {
			// Written by a newer node: not this node's to take over; the
			// client is refused (0x88) and reconnects, to an upgraded
			// node sooner or later.
			s.o.Log.Warn("session record of a newer edgemq version, left to the nodes that read it; connect refused",
				logsafe.String("client_id", id), zap.Error(err))
		}
		return nil, nil, errUnavailable(err)
	}
	cursor := rec.Cursor
	// carry is what the session carries on from: the record, or the
	// previous owner's newer state (outflight.go).
	carry := *rec
	if prev != nil && prev.Owner != s.o.Node {
		// takeover.go: the previous owner closes its client (0x8E, no
		// will) and drops its copy; a node that does not answer in time
		// is fenced by the revision this claim moved on.
		switch r, held, gone := s.kick(ctx, prev.Owner, id, rec.Epoch); {
		case held:
			cursor = max(cursor, r.Cursor)
			carry.Out, carry.Done, carry.Rels = r.Out, r.Done, r.Rels
		case gone:
			// As when a node claims a gone node's session (lapse.go).
			s.handOverShared(ctx, id, prev.Shared) // shared.go
		}
	}
	s.stopWill(id) // a new connection before the will's delay: no will [MQTT-3.1.3-9]
	b := s.o.Broker
	local := b.Lookup(id)
	if local != nil && prev != nil && prev.Owner != s.o.Node {
		// A copy left from before another node held the session.
		b.Discard(id)
		local = nil
	}
	if local == nil && prev != nil && !req.Clean && alive(prev, now) {
		if sess := s.adopt(ctx, id, &carry, now); sess != nil {
			s.replay(ctx, sess, rec.Subs, cursor, carry.Out, carry.Done) // replay.go
		}
	}
	sess, prevClient, err := b.Open(req, attach)
	if err != nil {
		// Refused by the broker (another identity's local session): the
		// record goes back as it was, if nobody moved it on meanwhile.
		if prev != nil {
			_, _ = s.store.Put(ctx, id, prev, rev)
		} else {
			_ = s.store.Delete(ctx, id, rev)
		}
		return nil, nil, err
	}
	rec.Cursor = cursor
	sess.StartCursor(cursor) // broker/cluster.go: what it gets from here on is above
	claimed = true
	sess.GateOut(s.gateOut(id))
	s.mu.Lock()
	old := s.owned[id]
	s.owned[id] = &owned{sess: sess, rec: *rec, rev: rev, index: ixKey}
	s.mu.Unlock()
	if old != nil && old.index != ixKey {
		s.unindex(old.index) // of an earlier incarnation of this node
	}
	s.markDirty(id) // what the replay moved
	// outflight.go: what was gated, or given through a shared
	// subscription (shared.go), before it was owned here.
	s.gateOut(id)()
	switch {
	case prev != nil && prev.Owner != s.o.Node:
		s.counts.TakeoversRemote.Add(1)
	case prevClient != nil:
		s.counts.TakeoversLocal.Add(1)
	}
	s.o.Log.Debug("session claimed", logsafe.String("client_id", id), zap.Uint64("epoch", rec.Epoch),
		zap.Bool("from_other_node", prev != nil && prev.Owner != s.o.Node))
	return sess, prevClient, nil
}

// alive reports whether the session of rec still exists at now: held by
// a connection, or offline before its deadline.
func alive(rec *cluster.SessionRecord, now time.Time) bool {
	return rec.Connected || rec.Expiry == math.MaxUint32 || rec.Deadline.IsZero() || now.Before(rec.Deadline)
}

// adopt makes the offline session of rec in the broker, its
// subscriptions registered (so that its interest reaches NATS) and its
// live deliveries held for the replay. nil when the client id has a
// session here.
func (s *Sessions) adopt(ctx context.Context, id string, rec *cluster.SessionRecord, now time.Time) *broker.Session {
	a := broker.Adoption{ClientID: id, Expiry: rec.Expiry, Deadline: rec.Deadline, Rels: rec.Rels, Owner: ownerOf(rec.Identity)}
	subs := make([]broker.SubOptions, len(rec.Subs))
	for i, sub := range rec.Subs {
		subs[i] = broker.SubOptions{Filter: sub.Filter, QoS: sub.QoS, NoLocal: sub.NoLocal, RetainAsPublished: sub.RetainAsPublished,
			RetainHandling: sub.RetainHandling, ID: sub.ID}
	}
	a.Subs = subs
	if rec.Connected {
		a.Deadline = time.Time{} // its connection ends now: the expiry counts from now
	}
	sess := s.o.Broker.Adopt(a)
	if sess == nil {
		return nil
	}
	sess.StartCursor(rec.Cursor)
	// outflight.go: its deliveries in flight, before the replay; its
	// QoS 2 packets wait for its record.
	sess.Carry(carried(rec.Out), doneOf(rec.Done))
	sess.GateOut(s.gateOut(id))
	err := s.o.Subs.Subscribing(func() error {
		for _, o := range subs {
			s.o.Subs.Subscribe(sess, broker.NewSubscription(o))
		}
		// As a SUBSCRIBE does before its SUBACK: a backend waits here
		// until the node's NATS server has the interest.
		s.o.Subs.RetainedSeq()
		return nil
	})
	if err != nil {
		s.o.Log.Warn("registering a carried session's subscriptions failed", logsafe.String("client_id", id), zap.Error(err))
	}
	return sess
}

// Detach implements broker.Sessions. The broker is given no will: this
// node publishes it (will.go), now or after its delay, unless the
// session was taken over by another node meanwhile (no will then). The
// record says the session is offline, or is deleted with it.
func (s *Sessions) Detach(sess *broker.Session, c broker.Client, will *mqtt.Will) {
	id := sess.ClientID()
	s.mu.Lock()
	o := s.owned[id]
	mine := o != nil && o.sess == sess
	s.mu.Unlock()
	heldBy := sess.HeldBy(c)
	s.o.Broker.Detach(sess, c, nil)
	if mine && !s.o.Up() {
		// Cut off from the cluster: the connection's end (and its will)
		// is recorded by the first checkpoint with the link up; if this
		// node lapses first, the node that claims the session publishes
		// the will the record holds.
		s.mu.Lock()
		if s.owned[id] == o {
			o.left = &left{will: will}
		}
		s.mu.Unlock()
		s.markDirty(id) // checkpoint.go: recorded once the link is back
		return
	}
	if !mine {
		// Taken over by another node (takeover.go), or never recorded:
		// no will, no record.
		return
	}
	if !heldBy {
		// Taken over by another connection of this node: the will goes
		// now only without a delay, as on a single node.
		if will != nil && will.Properties.WillDelayInterval == 0 {
			s.publishWill(context.Background(), id, will, "") // in no record
		}
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.o.OpenTimeout)
	defer cancel()
	unlock, err := s.gates.lock(ctx, id)
	if err != nil {
		s.o.Log.Warn("recording a session's end failed", logsafe.String("client_id", id), zap.Error(err))
		return
	}
	defer unlock()
	s.detached(ctx, id, sess, will)
}

// detached records that sess's connection ended, with its will. The
// gate of id is held.
func (s *Sessions) detached(ctx context.Context, id string, sess *broker.Session, will *mqtt.Will) {
	s.mu.Lock()
	o := s.owned[id]
	s.mu.Unlock()
	if o == nil || o.sess != sess {
		return // let go meanwhile
	}
	now := time.Now()
	if sess.Ended() {
		// Expiry 0: the session ends with its connection, and the will
		// goes now [MQTT-3.1.2-23, MQTT-3.1.3-9].
		if will != nil {
			s.publishWill(ctx, id, will, recordedWill(o))
		}
		s.forget(ctx, id, o)
		return
	}
	wid := recordedWill(o)
	var due time.Duration
	var rw *cluster.RecordWill
	if will != nil {
		delay := will.Properties.WillDelayInterval
		if delay == 0 {
			s.publishWill(ctx, id, will, wid)
		} else {
			// The will goes after its delay, or when the session ends
			// if that comes first [MQTT-3.1.3-9].
			s.mu.Lock()
			expiry := o.rec.Expiry
			s.mu.Unlock()
			due = time.Duration(min(delay, expiry)) * time.Second
			if w, err := cluster.NewRecordWill(will, now.Add(due)); err == nil {
				w.ID = wid // the will the record held: will_send.go
				rw = w
			}
		}
	}
	var rec cluster.SessionRecord
	for try := 0; ; try++ {
		var oldRev uint64
		rec, oldRev = s.recOf(o) // checkpoint.go
		rec.Connected, rec.Will = false, rw
		if rec.Expiry != math.MaxUint32 {
			rec.Deadline = now.Add(time.Duration(rec.Expiry) * time.Second)
		}
		s.snapshot(&rec, sess)
		rev, err := s.store.Put(ctx, id, &rec, oldRev)
		if errors.Is(err, cluster.ErrStale) && try < 3 {
			if err = s.rebase(ctx, id, o, &rec, oldRev); err == nil {
				continue // moved on by this node's own holding (checkpoint.go): on top of it
			}
		}
		if err != nil {
			// Fenced (another node claimed it) or unreachable: without the
			// record this node keeps nothing of the session's will.
			s.o.Log.Warn("recording a session offline failed", logsafe.String("client_id", id), zap.Error(err))
			if errors.Is(err, cluster.ErrStale) {
				s.drop(id, o)
				return
			}
			s.mu.Lock()
			o.rec = rec
			s.mu.Unlock()
		} else {
			s.mu.Lock()
			o.rec, o.rev = rec, rev
			s.mu.Unlock()
		}
		break
	}
	if rec.Will != nil {
		s.armWill(id, o, due) // will.go
	}
}

// snapshot copies into rec what sess holds now: its subscriptions, its
// inbound QoS 2 ids, its cursor, its deliveries in flight, what it owes
// through shared subscriptions.
func (s *Sessions) snapshot(rec *cluster.SessionRecord, sess *broker.Session) {
	v := sess.View()
	rec.Subs = rec.Subs[:0:0]
	for _, sub := range v.Subs {
		rec.Subs = append(rec.Subs, cluster.RecordSub{Filter: sub.Filter, QoS: sub.QoS, NoLocal: sub.NoLocal,
			RetainAsPublished: sub.RetainAsPublished, RetainHandling: sub.RetainHandling, ID: sub.ID})
	}
	rels := sess.Rels()
	slices.Sort(rels)
	rec.Rels = rels
	if len(rec.Rels) == 0 {
		rec.Rels = nil
	}
	if len(rec.Subs) == 0 {
		rec.Subs = nil
	}
	rec.Cursor = max(rec.Cursor, sess.Cursor())
	rec.Out = outRecord(sess) // outflight.go
	rec.Done = doneRecord(sess.Done(rec.Cursor))
	rec.Shared = sharedRecord(sess) // shared.go
}

// forget deletes the record of a session that ended here. The gate of
// id is held.
func (s *Sessions) forget(ctx context.Context, id string, o *owned) {
	rec, rev := s.recOf(o) // checkpoint.go
	err := s.store.Delete(ctx, id, rev)
	if errors.Is(err, cluster.ErrStale) {
		if err = s.rebase(ctx, id, o, &rec, rev); err == nil {
			// Moved on by this node's own holding: the record would
			// outlive the session.
			_, rev = s.recOf(o)
			err = s.store.Delete(ctx, id, rev)
		}
	}
	if err != nil && !errors.Is(err, cluster.ErrStale) {
		s.o.Log.Warn("deleting an ended session's record failed", logsafe.String("client_id", id), zap.Error(err))
		s.mu.Lock()
		o.index = "" // the record may still name this node: its index entry stays
		s.mu.Unlock()
	}
	s.drop(id, o)
}

// drop forgets o, which this node no longer holds.
func (s *Sessions) drop(id string, o *owned) {
	s.mu.Lock()
	cur := s.owned[id]
	if cur == o {
		delete(s.owned, id)
	}
	if o.will != nil {
		o.will.Stop()
		o.will = nil
	}
	s.mu.Unlock()
	if cur == nil || cur == o || cur.index != o.index {
		s.unindex(o.index) // owner_index.go
	}
}

// Owned returns the client ids of the sessions this node holds, sorted.
func (s *Sessions) Owned() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Sorted(maps.Keys(s.owned))
}

// identityOf returns the record form of a connection's owner.
func identityOf(o *broker.Owner) json.RawMessage {
	if o == nil {
		return nil
	}
	b, err := json.Marshal(o.Record)
	if err != nil {
		return nil
	}
	return b
}

// ownerOf decodes the owner of a record, nil for none.
func ownerOf(raw json.RawMessage) *store.Owner {
	if len(raw) == 0 {
		return nil
	}
	var o store.Owner
	if err := json.Unmarshal(raw, &o); err != nil {
		return nil
	}
	return &o
}

// sameIdentity reports whether the record's owner is o's identity; a
// record without one is anybody's.
func sameIdentity(raw json.RawMessage, o *broker.Owner) bool {
	rec := ownerOf(raw)
	return rec == nil || o == nil || rec.Identity == o.Identity
}

// Run serves the kicks of this node's sessions, watches the other nodes'
// lapses and writes the owned sessions' changes, until ctx ends.
func (s *Sessions) Run(ctx context.Context) error {
	ks, err := cluster.ServeKicks(s.o.Conn, s.o.Node, s.o.KickWait, s.onKick)
	if err != nil {
		return fmt.Errorf("running sessions: %w", err)
	}
	defer ks.Stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { s.checkpoints(ctx) })
	wg.Go(func() { s.unindexing(ctx) }) // owner_index.go
	for ctx.Err() == nil {
		err := cluster.WatchLapses(ctx, s.o.Layout.Nodes, s.o.Node, lapseHandler{s: s, ctx: ctx})
		if err != nil && ctx.Err() == nil {
			s.o.Log.Warn("watching the nodes failed, again", zap.Error(err))
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}
	return nil
}

// Close stops the will timers of this node (the records keep the wills,
// for the node that claims the sessions).
func (s *Sessions) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range s.owned {
		if o.will != nil {
			o.will.Stop()
			o.will = nil
		}
	}
}
