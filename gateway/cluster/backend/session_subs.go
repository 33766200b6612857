package backend

// A persistent session's subscriptions are in its record before its
// SUBACK or UNSUBACK goes: Subscriptions wraps the node's Subscriptions
// seam and, at the end of a SUBSCRIBE (RetainedSeq, which the channel
// reads last, before queueing SUBACK), writes the record of each
// persistent session it changed; each Unsubscribe that removed a
// subscription writes it before returning (the channel queues UNSUBACK
// after its last one). A node killed, or a takeover, right after the
// acknowledgement then leaves the subscriptions as the client last set
// them to whichever node claims the session [MQTT-3.10.4-1]. The
// SUBSCRIBE's write runs under engine.order (routing on this node waits
// for it, as for the interest flush before it), UNSUBSCRIBE's under
// none; either takes only Sessions.mu and, under it, nothing.

import (
	"context"
	"errors"
	"slices"
	"time"

	"edgemq/gateway/broker"
	"edgemq/gateway/cluster"
	"edgemq/gateway/internal/lockorder"
	"edgemq/gateway/logsafe"

	"go.uber.org/zap"
)

// recordedSubs is the Subscriptions seam that writes the records.
type recordedSubs struct {
	broker.Subscriptions
	s *Sessions

	mu      lockorder.Mutex[subsMu] // guards touched; nothing is taken under it
	touched []*broker.Session
}

// Subscriptions returns the node's Subscriptions seam (SessionsOptions.Subs)
// writing each SUBSCRIBE's changes to the session records before SUBACK.
func (s *Sessions) Subscriptions() broker.Subscriptions {
	return &recordedSubs{Subscriptions: s.o.Subs, s: s}
}

// Subscribe implements broker.Subscriptions.
func (r *recordedSubs) Subscribe(sess *broker.Session, sub *broker.Subscription) (existed, full bool) {
	existed, full = r.Subscriptions.Subscribe(sess, sub)
	if !full {
		r.mu.Lock()
		if !slices.Contains(r.touched, sess) {
			r.touched = append(r.touched, sess)
		}
		r.mu.Unlock()
	}
	return existed, full
}

// Unsubscribe implements broker.Subscriptions: the wrapped seam's, then,
// when it removed a subscription, the session's record.
func (r *recordedSubs) Unsubscribe(sess *broker.Session, filter string) bool {
	existed := r.Subscriptions.Unsubscribe(sess, filter)
	if existed {
		r.s.writeSubs(sess)
	}
	return existed
}

// RetainedSeq implements broker.Subscriptions: the wrapped seam's (a
// backend waits for the interest there), then the records of the
// sessions the SUBSCRIBE changed.
func (r *recordedSubs) RetainedSeq() uint64 {
	seq := r.Subscriptions.RetainedSeq()
	r.mu.Lock()
	touched := r.touched
	r.touched = nil
	r.mu.Unlock()
	for _, sess := range touched {
		r.s.writeSubs(sess)
	}
	return seq
}

// subsWrite bounds the record write of one SUBSCRIBE.
const subsWrite = 2 * time.Second

// writeSubs writes sess's subscriptions into its record now, if this
// node holds it and it is persistent. A write that loses to another
// write of this node's holding is made again on top of it (rebase,
// checkpoint.go); one that loses to another node is left (the session is
// being taken over).
func (s *Sessions) writeSubs(sess *broker.Session) {
	id := sess.ClientID()
	ctx, cancel := context.WithTimeout(context.Background(), subsWrite)
	defer cancel()
	for range 4 {
		o, rec, rev := s.held(id) // checkpoint.go
		if o == nil || o.sess != sess || rec.Expiry == 0 {
			return
		}
		last := rec.Subs
		s.snapshot(&rec, sess)
		if slices.Equal(rec.Subs, last) {
			return // the record holds them
		}
		newRev, err := s.store.Put(ctx, id, &rec, rev)
		if err == nil {
			s.mu.Lock()
			if o.rev < newRev {
				o.rec, o.rev, o.stale = rec, newRev, time.Time{}
			}
			s.mu.Unlock()
			return
		}
		if !errors.Is(err, cluster.ErrStale) {
			s.o.Log.Warn("writing a session's subscriptions failed; the next checkpoint tries again",
				logsafe.String("client_id", id), zap.Error(err))
			s.markDirty(id)
			return
		}
		// Moved on: by another writer of this node (a checkpoint, the
		// in-flight state, outflight.go), whose write the next round
		// builds on (rebase takes it as o's record), or by another node's
		// claim.
		if s.rebase(ctx, id, o, &rec, rev) != nil {
			// Another node claimed it, or the record could not be read:
			// the checkpoint writes again, and drops the session if it
			// was claimed and no kick comes (checkpoint.go).
			s.markDirty(id)
			return
		}
	}
	s.markDirty(id)
}
