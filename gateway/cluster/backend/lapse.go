package backend

// Node failure: when a node's liveness record lapses (or is deleted by
// a clean stop), every surviving node tries to claim each session the
// lapsed node held, revision-checked, so exactly one wins each. The
// winner carries the session on offline (its subscriptions, its queue
// replayed from the cursor), with the expiry and the will's delay
// counted from the lapse for a session whose client was connected (its
// connection ended then). A session that ends at once (expiry 0) gets
// its will published now and its record deleted; a will with a delay is
// published when due, once (will.go). At start, the sessions of nodes
// that are not live (and this node's own, from an earlier run) are
// claimed the same way.

import (
	"context"
	"math"
	"time"

	"edgemq/gateway/cluster"
	"edgemq/gateway/logsafe"

	"go.uber.org/zap"
)

// lapseHandler is the cluster.LapseHandler of Sessions.Run.
type lapseHandler struct {
	s   *Sessions
	ctx context.Context
}

// Current claims the sessions of nodes that are not live.
func (h lapseHandler) Current(live map[string]bool) {
	s := h.s
	orphans, err := s.store.Select(h.ctx, func(rec *cluster.SessionRecord) bool {
		return !live[rec.Owner]
	})
	if err != nil {
		s.o.Log.Warn("listing the sessions of absent nodes failed", zap.Error(err))
		return
	}
	s.claimAll(h.ctx, orphans, "", func(owner string) bool { return !live[owner] })
}

// Lapsed claims the sessions of node.
func (h lapseHandler) Lapsed(node string) {
	s := h.s
	orphans, err := s.store.OwnedBy(h.ctx, node)
	if err != nil {
		s.o.Log.Warn("listing a lapsed node's sessions failed", zap.String("node", node), zap.Error(err))
		return
	}
	s.claimAll(h.ctx, orphans, node, func(owner string) bool { return owner == node })
}

// claimAll claims each of orphans (client id → revision read) whose
// owner is still one gone says it is.
func (s *Sessions) claimAll(ctx context.Context, orphans map[string]uint64, node string, gone func(owner string) bool) {
	won := 0
	for id := range orphans {
		if ctx.Err() != nil {
			return
		}
		if s.claimOrphan(ctx, id, gone) {
			won++
		}
	}
	if len(orphans) > 0 {
		s.o.Log.Info("sessions of a node that is gone claimed", zap.String("node", node), zap.Int("sessions", len(orphans)), zap.Int("won", won))
	}
}

// claimOrphan claims id's session while its record names an owner that
// gone says is gone. It reports whether this node won it.
func (s *Sessions) claimOrphan(ctx context.Context, id string, gone func(owner string) bool) bool {
	cctx, cancel := context.WithTimeout(ctx, s.o.OpenTimeout)
	defer cancel()
	unlock, err := s.gates.lock(cctx, id)
	if err != nil {
		return false
	}
	defer unlock()
	s.mu.Lock()
	_, mine := s.owned[id]
	s.mu.Unlock()
	if mine {
		return false
	}
	now := time.Now()
	var next cluster.SessionRecord
	// Revision-checked, read again after a lost round (the read may come
	// from a replica a write has not reached yet): of the nodes claiming,
	// exactly one wins; the others then read a live owner and give up.
	_, newRev, err := s.store.Claim(cctx, id, func(rec *cluster.SessionRecord) *cluster.SessionRecord {
		if rec == nil || !gone(rec.Owner) {
			return nil // ended, or moved on (claimed, reconnected)
		}
		next = *rec
		next.Owner, next.Epoch, next.Connected = s.o.Node, rec.Epoch+1, false
		if rec.Connected {
			// Its connection ended with its node: the expiry and the
			// will's delay count from now [MQTT-3.1.2-23, MQTT-3.1.3-9].
			if rec.Expiry != math.MaxUint32 {
				next.Deadline = now.Add(time.Duration(rec.Expiry) * time.Second)
			}
			if rec.Will != nil {
				w := *rec.Will
				w.Due = now.Add(time.Duration(min(w.Delay, rec.Expiry)) * time.Second)
				next.Will = &w
			}
		}
		return &next
	})
	if err == nil && newRev == 0 {
		return false
	}
	if err != nil {
		s.o.Log.Warn("claiming a gone node's session failed", logsafe.String("client_id", id), zap.Error(err))
		return false
	}
	s.counts.Claimed.Add(1)
	s.handOverShared(cctx, id, next.Shared) // shared.go: before its subscriptions are here
	ended := next.Expiry == 0 || (!next.Deadline.IsZero() && !now.Before(next.Deadline))
	if ended {
		// The session ends now, and its will goes [MQTT-3.1.3-9].
		o := &owned{rec: next, rev: newRev, claimed: true}
		if next.Will != nil {
			s.mu.Lock()
			s.owned[id] = o
			s.mu.Unlock()
			s.willDueLocked(cctx, id, o)
		} else {
			s.forget(cctx, id, o)
		}
		return true
	}
	b := s.o.Broker
	if b.Lookup(id) != nil {
		b.Discard(id) // a copy left from before
	}
	sess := s.adopt(cctx, id, &next, now)
	if sess == nil {
		s.o.Log.Warn("a gone node's session could not be carried on here", logsafe.String("client_id", id))
		return true
	}
	s.replay(cctx, sess, next.Subs, next.Cursor, next.Out, next.Done) // replay.go
	o := &owned{sess: sess, rec: next, rev: newRev, claimed: true}
	s.mu.Lock()
	s.owned[id] = o
	s.mu.Unlock()
	if next.Will != nil {
		s.armWill(id, o, willLeft(next.Will, now))
	}
	s.o.Log.Debug("gone node's session carried on", logsafe.String("client_id", id), zap.Uint64("epoch", next.Epoch))
	return true
}
