package backend

// The owning node keeps its sessions' records current: every Checkpoint
// it writes, for each session whose subscriptions, inbound QoS 2 ids or
// cursor changed, one revision-checked record (batched: many changes of
// one session between two checkpoints make one write). Only the sessions
// marked changed are visited: the broker tells of a session's first
// change since its last checkpoint (broker.OnClusterChange, a delivery,
// an acknowledgement, a QoS 2 id, its end), and so do this package's own
// changes (markDirty); an idle session costs nothing. A write that
// fails on its revision means another node claimed the session without
// this node letting it go: normally its kick follows at once; if none
// came within twice KickWait (it timed out on the way), the session is
// dropped here and its client closed with 0x8E, so that one node holds
// it. A session that ended here (expired) loses its record.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"edgemq/gateway/cluster"
	"edgemq/gateway/logsafe"
	"edgemq/mqtt"

	"go.uber.org/zap"
)

// checkpoints writes the owned sessions' changes until ctx ends. While
// the NATS link is down it writes nothing; when it is back, it first
// rechecks which sessions are still this node's (Recheck): a kick sent
// meanwhile never arrived.
func (s *Sessions) checkpoints(ctx context.Context) {
	t := time.NewTicker(s.o.Checkpoint)
	defer t.Stop()
	wasUp := true
	var pointRead time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		up := s.o.Up()
		healed := up && !wasUp
		wasUp = up
		s.down.Store(!up)
		if !up {
			now := time.Now()
			s.lostAt.CompareAndSwap(nil, &now) // recheck.go: the outage's start
			continue
		}
		if healed {
			rctx, cancel := context.WithTimeout(ctx, s.o.OpenTimeout)
			n, err := s.RecheckChanged(rctx) // recheck.go
			cancel()
			s.o.Log.Info("nats link back: sessions rechecked", zap.Int("dropped", n), zap.Error(err))
		}
		if now := time.Now(); now.Sub(pointRead) >= recheckEvery {
			pointRead = now
			s.readRecheckPoint(ctx) // recheck.go
		}
		for _, id := range s.dirty.take() {
			if ctx.Err() != nil {
				return
			}
			s.checkpoint(ctx, id)
		}
	}
}

// checkpoint writes what changed of id's session, if this node holds it.
func (s *Sessions) checkpoint(ctx context.Context, id string) {
	cctx, cancel := context.WithTimeout(ctx, s.o.OpenTimeout)
	defer cancel()
	unlock, err := s.gates.lock(cctx, id)
	if err != nil {
		s.markDirty(id)
		return
	}
	defer unlock()
	s.mu.Lock()
	o := s.owned[id]
	if o == nil {
		s.mu.Unlock()
		return
	}
	s.counts.Checkpointed.Add(1)
	rec, rev, willArmed := o.rec, o.rev, o.will != nil
	last := o.rec
	gone := o.left
	if gone != nil && s.o.Up() {
		o.left = nil
	}
	s.mu.Unlock()
	if o.sess != nil {
		o.sess.ClusterSeen() // a change from here on marks it again
	}
	if gone != nil {
		if s.o.Up() {
			s.detached(cctx, id, o.sess, gone.will) // session.go
		} else {
			s.markDirty(id)
		}
		return
	}
	if o.sess == nil || o.sess.Ended() {
		if !willArmed {
			s.forget(cctx, id, o)
		}
		return
	}
	s.snapshot(&rec, o.sess)
	if rec.Cursor == last.Cursor && slices.Equal(rec.Subs, last.Subs) && slices.Equal(rec.Rels, last.Rels) &&
		sameQoS(&rec, &last) { // outflight.go
		return
	}
	newRev, err := s.store.Put(cctx, id, &rec, rev)
	again := false
	if errors.Is(err, cluster.ErrStale) {
		err = s.rebase(cctx, id, o, &rec, rev)
		again = err == nil
	}
	switch {
	case again:
		// Moved on by this node's own holding: written on top of it at
		// the next checkpoint.
		s.markDirty(id)
	case errors.Is(err, cluster.ErrStale):
		// Another node claimed the session: its kick is on its way, and
		// answers with this node's cursor. Only a kick that never comes
		// (it timed out on the way) leaves the session fenced here.
		now := time.Now()
		s.mu.Lock()
		if o.stale.IsZero() {
			o.stale = now
		}
		lost := now.Sub(o.stale) > 2*s.o.KickWait
		s.mu.Unlock()
		if lost {
			s.fenced(id, o)
		} else {
			s.markDirty(id)
		}
	case err != nil:
		s.o.Log.Debug("writing a session record failed; again at the next checkpoint", logsafe.String("client_id", id), zap.Error(err))
		s.markDirty(id)
	default:
		s.mu.Lock()
		// Only forward: a write of this node's that came after this one
		// (the SUBSCRIBE's or the in-flight gate's) may have recorded its
		// newer revision meanwhile; going back to this one would make
		// the next write stale, as if another node had claimed the
		// session.
		if o.rev < newRev {
			o.rec, o.rev, o.stale = rec, newRev, time.Time{}
		}
		s.mu.Unlock()
	}
}

// fenced drops a session another node claimed while this one held it:
// its client is closed with 0x8E [MQTT-3.1.4-3], no will. The gate of id
// is held.
func (s *Sessions) fenced(id string, o *owned) {
	s.o.Log.Warn("session claimed by another node; dropped here", logsafe.String("client_id", id))
	s.counts.Fenced.Add(1)
	s.drop(id, o)
	if c := o.sess.Holder(); c != nil {
		c.Kick(mqtt.SessionTakenOver)
		// Its Detach finds nothing owned here; then the copy goes.
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), s.o.KickWait)
			defer cancel()
			o.sess.AwaitDetached(ctx)
			s.o.Broker.Discard(id)
		}()
		return
	}
	s.o.Broker.Discard(id)
}

// sameHolding reports whether cur, a session's record as stored, is
// still the holding rec was written under: this node's same
// incarnation, at the same epoch, so that a write of rec that found cur
// in its place lost only to another writer of this node, not to a
// claim.
func sameHolding(cur, rec *cluster.SessionRecord) bool {
	return cur != nil && cur.Owner == rec.Owner && cur.Incarnation == rec.Incarnation && cur.Epoch == rec.Epoch
}

// rebase takes the record of id as stored for o's, after a write of rec
// at revision rev failed, when it is still the holding rec was written
// under (sameHolding) and moved past rev: by a SUBSCRIBE's write (it
// takes no gate, session_subs.go), or by a write of this node's that
// NATS stored but whose answer did not come in time. Without it the next
// write would fail stale again, and the session be dropped here as if
// claimed. A record still at rev was not moved on by anyone: the write
// was refused while the stream was still busy with an earlier write of
// the key (cluster.Records retries those for a while), and is made
// again too. It returns what the refused write comes to: nil when it is
// to be made again (on o's record); cluster.ErrStale when another node
// claimed the session (or it is gone); the read's error when the record
// could not be read: nothing is known, and the caller goes on as for a
// write that did not reach the cluster, never taking it for a claim (a
// read failing while a stream elects its leader dropped a live session,
// or left its gated packets waiting for good). The record is read from the
// stream's leader (cluster.Records.Latest): a direct get may come from a
// replica that has not applied what moved it on, and taking that for
// the record would fail the next write too.
func (s *Sessions) rebase(ctx context.Context, id string, o *owned, rec *cluster.SessionRecord, rev uint64) error {
	cur, curRev, err := s.latest(ctx, id)
	switch {
	case errors.Is(err, cluster.ErrNoRecord):
		return cluster.ErrStale // deleted: by the node that claimed it
	case err != nil:
		return fmt.Errorf("reading the record after a refused write: %w", err)
	case curRev < rev:
		// Behind the revision this node's own write returned: a leader
		// that has not applied it yet. Unknown, not a claim.
		return fmt.Errorf("reading the record after a refused write: revision %d behind %d", curRev, rev)
	case !sameHolding(cur, rec):
		return cluster.ErrStale
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.owned[id] == o && o.rev < curRev {
		o.rec, o.rev, o.stale = *cur, curRev, time.Time{}
	}
	return nil
}

// latest reads id's record from the stream's leader (rebase).
func (s *Sessions) latest(ctx context.Context, id string) (*cluster.SessionRecord, uint64, error) {
	if fails := s.latestFails.Load(); fails != nil {
		if err := (*fails)(id); err != nil {
			return nil, 0, err // tests: the leader cannot be read
		}
	}
	return s.store.Latest(ctx, s.o.Conn, id)
}

// held returns the session this node holds as id, with its record and
// revision as last written; nil when it holds none.
func (s *Sessions) held(id string) (*owned, cluster.SessionRecord, uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.owned[id]
	if o == nil {
		return nil, cluster.SessionRecord{}, 0
	}
	return o, o.rec, o.rev
}

// recOf returns o's record and revision as last written.
func (s *Sessions) recOf(o *owned) (cluster.SessionRecord, uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return o.rec, o.rev
}
