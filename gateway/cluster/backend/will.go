package backend

// Wills in a cluster. The broker is given none (Detach): this node
// publishes a will through the Publisher seam, so it reaches the
// subscribers of every node. A will with a delay waits in the session's
// record (Will, Due) and in a timer of the node that holds the session;
// when it falls due, the node first removes it from the record
// (revision-checked) and publishes it only if that write won, so that of
// the nodes that might (the holder, the node that claimed the session
// after its holder lapsed: lapse.go) exactly one does. A new connection
// for the client id before then stops it: no will [MQTT-3.1.3-9].

import (
	"context"
	"time"

	"edgemq/gateway/broker"
	"edgemq/gateway/cluster"
	"edgemq/gateway/logsafe"
	"edgemq/mqtt"

	"go.uber.org/zap"
)

// publishWill publishes a will as its client's PUBLISH, cluster-wide
// [MQTT-3.1.2-8].
func (s *Sessions) publishWill(id string, w *mqtt.Will) {
	pub := &mqtt.Publish{QoS: w.QoS, Retain: w.Retain, Topic: w.Topic, Payload: w.Payload, Properties: w.Properties}
	pub.Properties.Clear(mqtt.PropWillDelayInterval)
	s.publish(id, pub)
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
	epoch := o.rec.Epoch
	t := time.AfterFunc(max(due, 0), func() { s.willDue(id, epoch) })
	s.mu.Lock()
	defer s.mu.Unlock()
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

// willDueLocked publishes the will in o's record once this node's write
// removed it from the record (deleted the record, when the session
// ended). The gate of id is held.
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
	rec.Will = nil
	ended := o.sess == nil || o.sess.Ended()
	var rev uint64
	var err error
	if ended {
		err = s.store.Delete(ctx, id, oldRev)
	} else {
		rev, err = s.store.Put(ctx, id, &rec, oldRev)
	}
	if err != nil {
		// Lost to another node's write (it holds the session now, and
		// the will with it), or the cluster is unreachable: not
		// published here.
		s.o.Log.Warn("will not published: its record moved on", logsafe.String("client_id", id), zap.Error(err))
		return
	}
	pub, err := w.Publish()
	if err != nil {
		s.o.Log.Error("will in a session record cannot be read", logsafe.String("client_id", id), zap.Error(err))
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
	s.publish(id, pub)
}

// willLeft returns how long until rec's will is due at now (0: due).
func willLeft(w *cluster.RecordWill, now time.Time) time.Duration {
	if w == nil || w.Due.IsZero() {
		return 0
	}
	return max(w.Due.Sub(now), 0)
}
