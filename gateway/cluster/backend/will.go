package backend

// Wills in a cluster. The broker is given none (Detach): this node
// publishes a will through the Publisher seam, so it reaches the
// subscribers of every node. A will with a delay waits in the session's
// record (Will, Due) and in a timer of the node that holds the session;
// when it falls due, the node publishes it, then removes it from the
// record (revision-checked). Of the nodes that might publish it (the
// holder, the node that claimed the session after its holder lapsed:
// lapse.go), each publishes it under one Nats-Msg-Id (will_send.go), so
// that the messages stream keeps one: exactly once even when the node
// dies between the publish and the record's write. A new connection for
// the client id before then stops it: no will [MQTT-3.1.3-9].

import (
	"context"
	"errors"
	"strconv"
	"time"

	"edgemq/gateway/broker"
	"edgemq/gateway/cluster"
	"edgemq/gateway/logsafe"
	"edgemq/mqtt"

	"go.uber.org/zap"
)

// publishWill publishes a will as its client's PUBLISH, cluster-wide
// [MQTT-3.1.2-8]: once when its record names it (wid: sendWill); wid
// "": a will no record holds, published as it comes.
func (s *Sessions) publishWill(ctx context.Context, id string, w *mqtt.Will, wid string) {
	pub := &mqtt.Publish{QoS: w.QoS, Retain: w.Retain, Topic: w.Topic, Payload: w.Payload, Properties: w.Properties}
	pub.Properties.Clear(mqtt.PropWillDelayInterval)
	if wid != "" && s.sendsOnce(pub) {
		if err := s.sendWill(ctx, id, pub, wid); err != nil {
			s.o.Log.Warn("will not published", logsafe.String("client_id", id), zap.Error(err))
		}
		return
	}
	s.publish(id, pub)
}

// sendsOnce reports whether pub, a will, goes to the messages stream
// under its Nats-Msg-Id (sendWill): a QoS 1 or 2 will, with a
// Publisher that can.
func (s *Sessions) sendsOnce(pub *mqtt.Publish) bool {
	_, ok := s.o.Pub.(willSender)
	return ok && pub.QoS > 0
}

// recordedWill returns the ID of the will o's record holds, "" for none.
// The gate of o's client id is held.
func recordedWill(o *owned) string {
	if w := o.rec.Will; w != nil {
		return w.ID
	}
	return ""
}

// sendWill publishes pub, client id's will named wid in its record, to
// the messages stream with the Nats-Msg-Id of that will (will_send.go),
// and returns once the stream stored it.
func (s *Sessions) sendWill(ctx context.Context, id string, pub *mqtt.Publish, wid string) error {
	m := broker.NewMessage(pub, id, time.Now())
	if err := s.o.Pub.(willSender).SendWill(ctx, m, willID(id, wid)); err != nil {
		return err
	}
	s.counts.Wills.Add(1)
	s.o.Log.Debug("will published", logsafe.String("client_id", id), logsafe.String("topic", pub.Topic))
	return nil
}

// publish routes pub, a will, through the Publisher seam.
func (s *Sessions) publish(id string, pub *mqtt.Publish) {
	p := s.o.Pub
	end := p.Begin()
	now := time.Now()
	var buf []broker.Match
	p.RouteAt(broker.NewMessage(pub, id, now), &buf, now)
	end()
	s.counts.Wills.Add(1)
	s.o.Log.Debug("will published", logsafe.String("client_id", id), logsafe.String("topic", pub.Topic))
}

// armWill starts the timer of the will in o's record, due in due.
func (s *Sessions) armWill(id string, o *owned, due time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	epoch := o.rec.Epoch // o.rec is written under s.mu (session_subs.go takes no gate)
	t := time.AfterFunc(max(due, 0), func() { s.willDue(id, epoch) })
	if o.will != nil {
		o.will.Stop()
	}
	o.will = t
}

// stopWill stops the timer of id's will, if this node has one.
func (s *Sessions) stopWill(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if o := s.owned[id]; o != nil && o.will != nil {
		o.will.Stop()
		o.will = nil
	}
}

// willDue publishes the will of id's session, held at epoch, once it is
// removed from the record by this node's write.
func (s *Sessions) willDue(id string, epoch uint64) {
	ctx, cancel := context.WithTimeout(context.Background(), s.o.OpenTimeout)
	defer cancel()
	unlock, err := s.gates.lock(ctx, id)
	if err != nil {
		s.o.Log.Warn("will due but its session is busy", logsafe.String("client_id", id), zap.Error(err))
		return
	}
	defer unlock()
	s.mu.Lock()
	o := s.owned[id]
	stale := o == nil || o.rec.Epoch != epoch
	s.mu.Unlock()
	if !stale {
		s.willDueLocked(ctx, id, o)
	}
}

// willDueLocked publishes the will in o's record and removes it from the
// record (deletes the record, when the session ended): a QoS 1/2 will
// first published (once: sendWill), then removed; a QoS 0 one published
// only once this node's write removed it (at most once). The gate of id
// is held.
func (s *Sessions) willDueLocked(ctx context.Context, id string, o *owned) {
	s.mu.Lock()
	if o.rec.Will == nil || o.rec.Connected {
		s.mu.Unlock()
		return // reconnected, or published
	}
	o.will = nil
	rec, oldRev := o.rec, o.rev
	s.mu.Unlock()
	w := rec.Will
	pub, err := w.Publish()
	if err != nil {
		s.o.Log.Error("will in a session record cannot be read", logsafe.String("client_id", id), zap.Error(err))
		return
	}
	once := s.sendsOnce(pub)
	if once {
		wid := w.ID
		if wid == "" {
			// A record of a version without it.
			wid = strconv.FormatUint(rec.Epoch, 10)
		}
		if err := s.sendWill(ctx, id, pub, wid); err != nil {
			// Still in the record: again after a while.
			s.o.Log.Warn("publishing a will failed; again later", logsafe.String("client_id", id), zap.Error(err))
			s.armWill(id, o, s.o.Checkpoint)
			return
		}
		if s.willSent != nil {
			s.willSent(id) // tests: a node dying here
		}
	}
	rec.Will = nil
	ended := o.sess == nil || o.sess.Ended()
	var rev uint64
	if ended {
		err = s.store.Delete(ctx, id, oldRev)
	} else {
		rev, err = s.store.Put(ctx, id, &rec, oldRev)
	}
	if errors.Is(err, cluster.ErrStale) {
		if err = s.rebase(ctx, id, o, &rec, oldRev); err == nil {
			// Moved on by this node's own holding (checkpoint.go): again
			// on top of it (a once will sent again is dropped by the
			// stream).
			s.armWill(id, o, s.o.Checkpoint)
			return
		}
	}
	switch {
	case err != nil && once && !errors.Is(err, cluster.ErrStale):
		// Published, and still in the record: removed at the next try
		// (which the stream drops as a duplicate).
		s.o.Log.Warn("removing a published will from its record failed; again later", logsafe.String("client_id", id), zap.Error(err))
		s.armWill(id, o, s.o.Checkpoint)
		return
	case err != nil && once:
		// Another node holds the session now, and the will with it: it
		// publishes it again, which the stream drops.
		return
	case err != nil:
		// Lost to another node's write (it holds the session now, and
		// the will with it), or the cluster is unreachable: not
		// published here.
		s.o.Log.Warn("will not published: its record moved on", logsafe.String("client_id", id), zap.Error(err))
		return
	}
	if ended {
		s.drop(id, o)
	} else {
		s.mu.Lock()
		o.rec, o.rev = rec, rev
		s.mu.Unlock()
	}
	if o.claimed {
		s.counts.RemoteWills.Add(1)
	}
	if !once {
		s.publish(id, pub)
	}
}

// willLeft returns how long until rec's will is due at now (0: due).
func willLeft(w *cluster.RecordWill, now time.Time) time.Duration {
	if w == nil || w.Due.IsZero() {
		return 0
	}
	return max(w.Due.Sub(now), 0)
}
