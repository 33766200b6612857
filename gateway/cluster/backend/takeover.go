package backend

// Takeover across nodes: the node that claimed a session (Open) asks
// the node that held it to let it go (cluster.Kick, on that node's kick
// subject), and waits at most KickWait. The node asked closes its client
// with DISCONNECT 0x8E Session taken over [MQTT-3.1.4-3] and no will,
// waits for the connection to let the session go, drops its copy (its
// subscriptions, so its interest) and answers with the session's cursor,
// from which the claiming node replays what the copy still owed. A node
// that does not answer in time (gone, partitioned) is fenced: its next
// write of the record names a revision the claim moved on from, and
// fails (checkpoint.go drops the session then).

import (
	"context"
	"errors"
	"slices"

	"edgemq/gateway/cluster"
	"edgemq/gateway/logsafe"
	"edgemq/mqtt"

	"go.uber.org/zap"
)

// kick asks node to let the session of id go, for the claim of epoch. It
// returns node's answer (the session's cursor and QoS state there),
// whether node answered that it held it, and whether node is gone (no
// node answers on its subject).
func (s *Sessions) kick(ctx context.Context, node, id string, epoch uint64) (reply cluster.KickReply, held, gone bool) {
	kctx, cancel := context.WithTimeout(ctx, s.o.KickWait)
	defer cancel()
	r, err := cluster.Kick(kctx, s.o.Conn, node, cluster.KickRequest{ClientID: id, Epoch: epoch, By: s.o.Node})
	switch {
	case errors.Is(err, cluster.ErrNoKickServer):
		// The node is gone: its lapse makes no difference now, the claim
		// has the session.
		return cluster.KickReply{}, false, true
	case err != nil:
		s.o.Log.Warn("previous owner did not let the session go in time; it is fenced",
			logsafe.String("client_id", id), zap.String("node", node), zap.Error(err))
		return cluster.KickReply{}, false, false
	}
	return r, r.Held, false
}

// onKick answers a kick request: another node claimed the session of
// req.ClientID at req.Epoch.
func (s *Sessions) onKick(ctx context.Context, req cluster.KickRequest) cluster.KickReply {
	// The kick is carried out even when the asking node stops waiting
	// for the answer: its claim stands, and this node must let go.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.o.OpenTimeout)
	defer cancel()
	id := req.ClientID
	unlock, err := s.gates.lock(ctx, id)
	if err != nil {
		return cluster.KickReply{Error: err.Error()}
	}
	defer unlock()
	s.mu.Lock()
	o := s.owned[id]
	if o != nil && o.rec.Epoch > req.Epoch {
		// Claimed here again since: the asking node's claim is stale and
		// its own write will be fenced.
		s.mu.Unlock()
		return cluster.KickReply{}
	}
	if o != nil {
		delete(s.owned, id) // Detach from here on records nothing, sends no will
		if o.will != nil {
			o.will.Stop() // a timely takeover: no will [MQTT-3.1.3-9]
			o.will = nil
		}
	}
	s.mu.Unlock()
	if o != nil {
		s.unindex(o.index) // owner_index.go: the record names the claiming node
	}
	b := s.o.Broker
	sess := b.Lookup(id)
	if sess == nil {
		return cluster.KickReply{Held: o != nil}
	}
	if c := sess.Holder(); c != nil {
		c.Kick(mqtt.SessionTakenOver) // [MQTT-3.1.4-3]
		if !sess.AwaitDetached(ctx) {
			s.o.Log.Warn("kicked client did not let go in time", logsafe.String("client_id", id))
		}
	}
	// With no client holding it, its state stands still: the claiming
	// node carries it on (outflight.go).
	cursor := sess.Cursor()
	out, done, rels := outRecord(sess), doneRecord(sess.Done(cursor)), sess.Rels()
	slices.Sort(rels)
	if _, busy := b.Discard(id); busy {
		s.o.Log.Warn("kicked session still held; dropped later", logsafe.String("client_id", id))
	}
	s.o.Log.Debug("session taken over by another node", logsafe.String("client_id", id), zap.String("by", req.By),
		zap.Uint64("epoch", req.Epoch))
	return cluster.KickReply{Held: true, Cursor: cursor, Out: out, Done: done, Rels: rels}
}

// Recheck reads the record of every session this node holds and drops
// (closing its client with 0x8E) each that another node claimed
// meanwhile: after the NATS link heals, before the node serves again, as
// a kick sent while it was cut off never arrived. It returns the number
// dropped, and the first error reading a record (those sessions are left
// as they are).
func (s *Sessions) Recheck(ctx context.Context) (int, error) {
	var firstErr error
	dropped := 0
	for _, id := range s.Owned() {
		gone, err := s.recheckOne(ctx, id) // recheck.go
		if gone {
			dropped++
		}
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return dropped, err
		case firstErr == nil:
			firstErr = err
		}
	}
	return dropped, firstErr
}
