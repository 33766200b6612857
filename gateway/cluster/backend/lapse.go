package backend

// Node failure: when a node's liveness record lapses (or is deleted by
// a clean stop), every surviving node tries to claim each session that
// incarnation of the node held, revision-checked, so exactly one wins
// each. The sessions are found through the owner index
// (cluster.OwnerIndex): the work is in the number of the lapsed node's
// sessions, not of all. A claim compares the owner's incarnation too: a
// node restarted under the same name meanwhile keeps the sessions its
// new incarnation claimed. The winner carries the session on offline
// (its subscriptions, its queue replayed from the cursor), with the
// expiry and the will's delay counted from the lapse for a session whose
// client was connected (its connection ended then). A session that ends
// at once (expiry 0) gets its will published now and its record deleted;
// a will with a delay is published when due, once (will.go). At start,
// the sessions of node incarnations that are not live (this node's own
// from an earlier run among them) are claimed the same way.

import (
	"context"
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"edgemq/gateway/cluster"
	"edgemq/gateway/logsafe"

	"go.uber.org/zap"
)

// lapseWorkers is how many of a lapsed node's sessions a node claims at
// a time: each claim waits on NATS round trips, not on the CPU.
const lapseWorkers = 32

// lapseRounds bounds the rounds over the claims that failed (NATS did
// not answer in time): the index of a lapsed incarnation is removed only
// once every one of its sessions was claimed or found moved on.
const lapseRounds = 3

// lapseHandler is the cluster.LapseHandler of Sessions.Run.
type lapseHandler struct {
	s   *Sessions
	ctx context.Context
}

// owner is a node incarnation.
type owner struct{ node, incarnation string }

// Current claims the sessions of node incarnations that are not live.
func (h lapseHandler) Current(live map[string]string) {
	s := h.s
	entries, err := s.index.List(h.ctx, "", "")
	if err != nil {
		s.o.Log.Warn("listing the sessions of absent nodes failed", zap.Error(err))
		return
	}
	self := s.incarnation()
	alive := func(o owner) bool {
		if o.node == s.o.Node {
			return o.incarnation == self
		}
		inc, ok := live[o.node]
		return ok && (inc == o.incarnation || inc == "")
	}
	gone := make(map[owner][]string)
	for _, e := range entries {
		if o := (owner{e.Node, e.Incarnation}); !alive(o) {
			gone[o] = append(gone[o], e.ClientID)
		}
	}
	for o, ids := range gone {
		if o.node != s.o.Node && s.startedSince(h.ctx, o) {
			s.o.Log.Info("a node started after the watch's first read: its sessions are its own",
				zap.String("node", o.node), zap.String("incarnation", o.incarnation), zap.Int("sessions", len(ids)))
			continue
		}
		s.claimOwner(h.ctx, o, ids)
	}
}

// startedSince reports whether node incarnation o, not live when the
// watch of the nodes started, is live now, or whether that cannot be
// told: a node that started between the watch's first read and the
// index's listing is missing from the first and has sessions in the
// second. Claiming them would take a live node's sessions, and the
// index removed after the claims would leave them unclaimed when that
// node really dies (its wills never published).
func (s *Sessions) startedSince(ctx context.Context, o owner) bool {
	var err error
	for range lapseRounds {
		rctx, cancel := context.WithTimeout(ctx, s.o.OpenTimeout)
		inc, live, rerr := cluster.LiveIncarnation(rctx, s.o.Conn, s.o.Layout.Nodes, o.node)
		cancel()
		if rerr == nil {
			return live && (inc == o.incarnation || inc == "")
		}
		err = rerr
	}
	// Not claimed on a guess: left to the next start of a node's watch.
	s.o.Log.Warn("a node's liveness cannot be read; its sessions are not claimed now", zap.String("node", o.node), zap.Error(err))
	return true
}

// Lapsed claims the sessions of node's incarnation.
func (h lapseHandler) Lapsed(node, incarnation string) {
	s := h.s
	entries, err := s.index.List(h.ctx, node, incarnation)
	if err != nil {
		s.o.Log.Warn("listing a lapsed node's sessions failed", zap.String("node", node), zap.Error(err))
		return
	}
	ids := make([]string, 0, len(entries))
	for _, e := range entries {
		ids = append(ids, e.ClientID)
	}
	s.claimOwner(h.ctx, owner{node, incarnation}, ids)
}

// claimOwner claims each of ids whose record still names o, then
// removes o's index once each was claimed or found moved on.
func (s *Sessions) claimOwner(ctx context.Context, o owner, ids []string) {
	gone := func(rec *cluster.SessionRecord) bool {
		// A record of before incarnations were recorded names none; a
		// lapse whose incarnation is unknown is any but a live one's.
		return rec.Owner == o.node && (o.incarnation == "" || rec.Incarnation == "" || rec.Incarnation == o.incarnation)
	}
	start := time.Now()
	var won, newer atomic.Int64
	todo := dedupe(ids)
	total := len(todo)
	for round := 0; round < lapseRounds && len(todo) > 0 && ctx.Err() == nil; round++ {
		todo = s.claimEach(ctx, todo, gone, &won, &newer)
	}
	if total > 0 {
		s.o.Log.Info("sessions of a node that is gone claimed", zap.String("node", o.node), zap.String("incarnation", o.incarnation),
			zap.Int("sessions", total), zap.Int64("won", won.Load()), zap.Int("failed", len(todo)),
			zap.Int64("newer_version", newer.Load()), zap.Duration("took", time.Since(start)))
	}
	if len(todo) > 0 || newer.Load() > 0 || ctx.Err() != nil || o.incarnation == "" {
		// The index stays for the sessions not claimed yet, and for those
		// of a newer version: the nodes that read them claim them.
		return
	}
	rctx, cancel := context.WithTimeout(ctx, s.o.OpenTimeout)
	defer cancel()
	if err := s.index.RemoveOwner(rctx, o.node, o.incarnation); err != nil {
		s.o.Log.Debug("removing a lapsed node's index failed", zap.String("node", o.node), zap.Error(err))
	}
}

// claimEach claims ids, lapseWorkers at a time, and returns those whose
// claim failed (to be tried again). It counts in newer the records of a
// newer version, which it leaves (not tried again).
func (s *Sessions) claimEach(ctx context.Context, ids []string, gone func(*cluster.SessionRecord) bool, won, newer *atomic.Int64) []string {
	next := make(chan string)
	var mu sync.Mutex // guards failed; local to this call
	var failed []string
	var wg sync.WaitGroup
	for range min(lapseWorkers, len(ids)) {
		wg.Go(func() {
			for id := range next {
				ok, err := s.claimOrphan(ctx, id, gone)
				var ve *cluster.VersionError
				switch {
				case errors.As(err, &ve):
					s.o.Log.Warn("a gone node's session record is of a newer edgemq version, left to the nodes that read it",
						logsafe.String("client_id", id), zap.Error(err))
					newer.Add(1)
				case err != nil:
					mu.Lock()
					failed = append(failed, id)
					mu.Unlock()
				case ok:
					won.Add(1)
				}
			}
		})
	}
	for _, id := range ids {
		if ctx.Err() != nil {
			break
		}
		next <- id
	}
	close(next)
	wg.Wait()
	return failed
}

// dedupe returns ids without repeats (an index may hold a session twice).
func dedupe(ids []string) []string {
	seen := make(map[string]struct{}, len(ids))
	out := ids[:0:0]
	for _, id := range ids {
		if _, ok := seen[id]; !ok {
			seen[id] = struct{}{}
			out = append(out, id)
		}
	}
	return out
}

// errClaimGate is a claim that could not take its session's gate.
var errClaimGate = errors.New("session busy")

// claimOrphan claims id's session while its record names an owner that
// gone says is gone. It reports whether this node won it; an error when
// it could not tell (the record could not be read or written).
func (s *Sessions) claimOrphan(ctx context.Context, id string, gone func(*cluster.SessionRecord) bool) (bool, error) {
	cctx, cancel := context.WithTimeout(ctx, s.o.OpenTimeout)
	defer cancel()
	unlock, err := s.gates.lock(cctx, id)
	if err != nil {
		return false, errClaimGate
	}
	defer unlock()
	s.mu.Lock()
	_, mine := s.owned[id]
	s.mu.Unlock()
	if mine {
		return false, nil
	}
	// A read first: the other survivors won most of what this one did
	// not, and a session moved on costs no index entry.
	rec, rev, err := s.store.Get(cctx, id)
	switch {
	case errors.Is(err, cluster.ErrNoRecord):
		return false, nil
	case err != nil:
		return false, err
	case !gone(rec):
		return false, nil
	}
	inc := s.incarnation()
	ixKey, err := s.index.Add(cctx, s.o.Node, inc, id) // before the claim names this node
	if err != nil {
		return false, err
	}
	now := time.Now()
	var next cluster.SessionRecord
	claim := func(rec *cluster.SessionRecord) *cluster.SessionRecord {
		if rec == nil || !gone(rec) {
			return nil // ended, or moved on (claimed, reconnected)
		}
		next = *rec
		next.Owner, next.Incarnation, next.Epoch, next.Connected = s.o.Node, inc, rec.Epoch+1, false
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
	}
	// Revision-checked, at the revision read above first, then read
	// again after a lost round (the read may come from a replica a write
	// has not reached yet): of the nodes claiming, exactly one wins; the
	// others then read a live owner and give up.
	newRev, err := s.store.Put(cctx, id, claim(rec), rev)
	if errors.Is(err, cluster.ErrStale) {
		_, newRev, err = s.store.Claim(cctx, id, claim)
	}
	if err != nil || newRev == 0 {
		s.unindex(ixKey)
		if err != nil {
			s.o.Log.Warn("claiming a gone node's session failed", logsafe.String("client_id", id), zap.Error(err))
		}
		return false, err
	}
	s.counts.Claimed.Add(1)
	s.handOverShared(cctx, id, next.Shared) // shared.go: before its subscriptions are here
	ended := next.Expiry == 0 || (!next.Deadline.IsZero() && !now.Before(next.Deadline))
	if ended {
		// The session ends now, and its will goes [MQTT-3.1.3-9].
		o := &owned{rec: next, rev: newRev, claimed: true, index: ixKey}
		if next.Will != nil {
			s.mu.Lock()
			s.owned[id] = o
			s.mu.Unlock()
			s.willDueLocked(cctx, id, o)
		} else {
			s.forget(cctx, id, o)
		}
		return true, nil
	}
	b := s.o.Broker
	if b.Lookup(id) != nil {
		b.Discard(id) // a copy left from before
	}
	sess := s.adopt(cctx, id, &next, now)
	if sess == nil {
		s.o.Log.Warn("a gone node's session could not be carried on here", logsafe.String("client_id", id))
		return true, nil
	}
	s.replay(cctx, sess, next.Subs, next.Cursor, next.Out, next.Done) // replay.go
	o := &owned{sess: sess, rec: next, rev: newRev, claimed: true, index: ixKey}
	s.mu.Lock()
	s.owned[id] = o
	s.mu.Unlock()
	s.markDirty(id) // what the replay moved
	s.gateOut(id)() // outflight.go: what was gated or given through a group before it was owned here
	if next.Will != nil {
		s.armWill(id, o, willLeft(next.Will, now))
	}
	s.o.Log.Debug("gone node's session carried on", logsafe.String("client_id", id), zap.Uint64("epoch", next.Epoch))
	return true, nil
}
