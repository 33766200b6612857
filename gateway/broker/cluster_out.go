package broker

// A session's outbound QoS 1/2 state carried between the nodes of a
// cluster (gateway/cluster/backend), so that the node that carries a
// session on resumes its deliveries in flight as one node does on a
// reconnect [MQTT-4.4.0-1]: an unacknowledged PUBLISH is sent again with
// DUP set and its packet id, a QoS 2 delivery past PUBREC gets PUBREL
// and never its PUBLISH again [MQTT-4.3.3-4].
//
//   - Inflight lists what a session has in flight, for the node's
//     session record and for its answer to a takeover.
//   - On the node carrying it on, Carry puts the list in flight in the
//     adopted session before its offline queue is replayed; the replay
//     hands each carried delivery its stored message (ReplayCarried)
//     instead of delivering it anew; SettleCarried ends what the replay
//     did not find. Done lists what a session is done with above its
//     cursor (completed out of order), which the replay skips, and Carry
//     keeps it until the cursor passes it.
//   - The record must hold a QoS 2 delivery's packet id before its
//     PUBLISH leaves, and its PUBREL step before its PUBREL leaves: else
//     a node that died after sending would leave the next one a record
//     that sends the message again under another id, or its PUBLISH after
//     a PUBREL. GateOut makes such packets (and any packet queued behind
//     one, for order [MQTT-4.6.0-4, MQTT-4.6.0-6]) wait until the backend
//     wrote the record (OutMark, ReleaseOut), as a persistent session's
//     wait for the local store (persist_qos2.go).
//   - So must a QoS 1/2 delivery that came through a shared subscription
//     (SharedOwed): else a node that died after sending it would leave
//     a record that does not know the member owes it, and nobody would
//     deliver it again. Each is numbered when it is queued or sent
//     (sharedOwedLocked), which asks for a write; a PUBLISH whose number
//     the record does not hold yet (OutMark, ReleaseOut) waits at
//     the gate as a QoS 2 one does. So a message queued while the
//     client's window is full is recorded while it waits there, and
//     leaves at once when the window opens: the writes keep ahead of the
//     window instead of pacing it. One acknowledged asks for a write too
//     (sharedDoneLocked), so that the record sheds it within a write.
//
// Locks: session.mu alone, or engine.order shared then session.mu
// (ReplayCarried), as ReplayTo. The gate's notify runs under session.mu
// (and whatever the caller of a delivery holds) and must not block or
// take a lock; the gated packets are queued under session.mu when
// released, as any delivery is.

import (
	"slices"

	"edgemq/mqtt"
)

// Outbound is an outbound QoS 1/2 delivery in flight: its PUBLISH sent
// and not acknowledged, or, at QoS 2, past PUBREC (Released: PUBREL
// sent).
type Outbound struct {
	PID      uint16
	QoS      byte
	Released bool
	// Msg is its message: Msg.Seq() its sequence in the cluster's
	// messages stream (0: unknown, published on this node).
	Msg *Message
}

// Inflight returns s's outbound deliveries in flight, in the order they
// were first sent, but those that came through a shared subscription and
// are not past PUBREC (SharedOwed: they go to another member of their
// group when the session leaves, shared.go). It takes session.mu alone.
func (s *Session) Inflight() []Outbound {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Outbound
	for _, d := range s.st.inflightInOrder() {
		if d.share != nil && d.state != awaitingPubcomp {
			continue
		}
		out = append(out, Outbound{PID: d.pid, QoS: d.qos, Released: d.state == awaitingPubcomp, Msg: d.msg})
	}
	return out
}

// SharedOwed is a message s owes through the shared subscription group
// Share on Filter.
type SharedOwed struct {
	Share, Filter string
	Msg           *Message
}

// SharedOwed returns what s owes through shared subscriptions and would
// hand to other members of their groups if it ended (takeShared): in
// flight before PUBACK or PUBREC, in send order, then queued. It takes
// session.mu alone.
func (s *Session) SharedOwed() []SharedOwed {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []SharedOwed
	add := func(d *Delivery) {
		if d.share != nil && d.qos > 0 {
			out = append(out, SharedOwed{Share: d.share.Name(), Filter: d.share.Filter(), Msg: d.msg})
		}
	}
	for _, d := range s.st.inflightInOrder() {
		if d.state != awaitingPubcomp {
			add(d)
		}
	}
	for _, d := range s.st.pending {
		add(d)
	}
	return out
}

// Carried is a delivery in flight on the node that held a session before
// (Outbound as a session record keeps it): Seq is its message's sequence
// in the messages stream, 0 when unknown.
type Carried struct {
	PID      uint16
	QoS      byte
	Released bool
	Seq      uint64
}

// Done is a message a session is done with (Session.Done): by its
// sequence, or, when unknown, its message (Msg) or the key another node
// gave it (Key, Carry).
type Done struct {
	Seq uint64
	Msg *Message
	Key string
}

// Bounds of what a session keeps of the QoS 2 messages it is done with
// above its cursor: those of unknown sequence (published on this node)
// are never passed by the cursor and are kept up to maxDoneLocal, the
// newest; all of them up to maxDone (a delivery stuck in flight below
// thousands of completed ones), beyond which the oldest quarter goes. A
// takeover may send a forgotten one again. QoS 1 messages are not kept:
// sent again after a takeover, they are at least once.
const (
	maxDoneLocal = 64
	maxDone      = 4096
)

// doneLocked records that s is done with d (deleteDeliveryLocked). s.mu
// held.
func (s *Session) doneLocked(d *Delivery) {
	c := s.cl
	if d.share != nil || d.qos != 2 {
		return
	}
	switch {
	case d.msg.seq != 0:
		c.done = append(c.done, Done{Seq: d.msg.seq})
	case d.msg.pub.Topic != "":
		c.done = append(c.done, Done{Msg: d.msg})
		local := 0
		for i := len(c.done) - 1; i >= 0; i-- {
			if c.done[i].Seq != 0 {
				continue
			}
			if local++; local > maxDoneLocal {
				c.done = slices.Delete(c.done, i, i+1)
				break
			}
		}
	default:
		return
	}
	if len(c.done) > maxDone {
		c.done = slices.Delete(c.done, 0, maxDone/4)
	}
}

// Done returns the messages s is done with above cursor (its Cursor),
// forgetting those of a sequence up to it. It takes session.mu alone.
func (s *Session) Done(cursor uint64) []Done {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cl == nil || len(s.cl.done) == 0 {
		return nil
	}
	c := s.cl
	c.done = slices.DeleteFunc(c.done, func(d Done) bool { return d.Seq != 0 && d.Seq <= cursor })
	if len(c.done) == 0 {
		c.done = nil
		return nil
	}
	return slices.Clone(c.done)
}

// carryState is a session's carried deliveries waiting for their
// message from the replay: by packet id. Guarded by session.mu.
type carryState map[uint16]struct{}

// outGate holds the packets of a session that wait until its record is
// written (GateOut). Guarded by session.mu.
type outGate struct {
	// notify asks for a write of the record; nil: no gate.
	notify func()
	queue  []gatedOut
	// base is the mark of queue[0]: the number of packets released.
	base uint64
}

// gatedOut is a packet waiting at the gate, for the client ch.
type gatedOut struct {
	ch   Client
	send func()
}

// Carry puts the deliveries of list in flight in s, in their order, an
// adopted session (Broker.Adopt) whose offline queue is about to be
// replayed, with done, what the previous node was done with (Done): each waits for its message from the replay (ReplayCarried),
// but for a released one, which needs none (its PUBREL is sent on
// resume). Ids in flight already, and QoS 0, are skipped. It takes
// session.mu alone.
func (s *Session) Carry(list []Carried, done []Done) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cl == nil {
		s.cl = &clusterState{}
	}
	// What the previous node was done with stays known here until the
	// cursor passes it.
	s.cl.done = append(s.cl.done, done...)
	// The inbound ids awaiting PUBREL came from the record too
	// (FreshQoS2).
	for pid := range s.st.awaitingRel {
		if s.cl.rels == nil {
			s.cl.rels = make(map[uint16]struct{})
		}
		s.cl.rels[pid] = struct{}{}
	}
	for _, c := range list {
		if c.PID == 0 || c.QoS == 0 || c.QoS > 2 || s.st.inflight[c.PID] != nil {
			continue
		}
		// Until the replay finds its message, a stand-in with its
		// sequence, for the cursor.
		d := &Delivery{msg: &Message{pub: &mqtt.Publish{QoS: c.QoS}, seq: c.Seq}, qos: c.QoS, pid: c.PID}
		switch {
		case c.Released && c.QoS == 2:
			d.state = awaitingPubcomp
		case c.QoS == 2:
			d.state = awaitingPubrec
		default:
			d.state = awaitingPuback
		}
		s.st.setInflight(c.PID, d)
		s.st.order = append(s.st.order, c.PID)
		if d.state != awaitingPubcomp {
			if s.cl.carried == nil {
				s.cl.carried = make(carryState)
			}
			s.cl.carried[c.PID] = struct{}{}
		}
	}
}

// FreshQoS2 tells s that its client sent a QoS 2 PUBLISH of packet id
// pid without DUP: a new message, as a re-sent one has DUP set
// [MQTT-3.3.1-1]. If pid awaits PUBREL only because the record of the
// node that held the session before said so (Carry), that node ended
// the exchange (PUBCOMP) after its last write of the record, and the
// client reused the id: pid is released, so that the new message is
// routed rather than taken for a repeat and lost. A node's own ids
// awaiting PUBREL are left alone: an id's removal there goes before
// PUBCOMP. Call it before ReceiveQoS2. It takes session.mu alone.
func (s *Session) FreshQoS2(pid uint16) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cl == nil {
		return
	}
	if _, ok := s.cl.rels[pid]; !ok {
		return
	}
	delete(s.cl.rels, pid)
	delete(s.st.awaitingRel, pid)
	s.relLocked(pid, false) // persist.go
}

// ReplayCarried gives m, a stored message of s's (its sequence set), to
// the delivery carried in flight under pid (Carry), in place of
// delivering it anew: it is sent again on resume with DUP set and its
// packet id [MQTT-4.4.0-1], with the retain flag and Subscription
// Identifiers s's subscriptions give it (ReplayTo). A released delivery
// only keeps m as its message: it is never sent again [MQTT-4.3.3-4].
// It reports whether pid was in flight. It takes engine.order shared,
// then session.mu.
func (e *Broker) ReplayCarried(s *Session, pid uint16, m *Message) bool {
	e.order.RLock()
	defer e.order.RUnlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.st.inflight[pid]
	if s.ended || d == nil || s.cl == nil {
		return false
	}
	s.cl.high = max(s.cl.high, m.seq)
	if d.state == awaitingPubcomp {
		if d.msg.pub.Topic == "" {
			d.msg = m
		}
		return true
	}
	if _, waiting := s.cl.carried[pid]; !waiting {
		return true // found already (one message in flight twice)
	}
	delete(s.cl.carried, pid)
	d.msg = m
	if _, retain, ids, ok := s.matchLocked(m); ok {
		d.retain, d.subIDs = retain, ids
	}
	return true
}

// SettleCarried ends the replay's search for the carried deliveries'
// messages: a QoS 1 delivery whose message the replay did not find (no
// longer stored) is dropped; a QoS 2 one is taken as released, so that
// the client, which may hold its packet id awaiting PUBREL, gets PUBREL
// on resume and frees it, and the message is not sent under another
// id: at most once. It returns how many were not found. It takes
// session.mu alone.
func (s *Session) SettleCarried() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cl == nil {
		return 0
	}
	n := len(s.cl.carried)
	for pid := range s.cl.carried {
		d := s.st.inflight[pid]
		switch {
		case d == nil:
		case d.qos == 2:
			d.state = awaitingPubcomp
		default:
			s.st.removeInflight(pid)
		}
	}
	s.cl.carried = nil
	return n
}

// matchLocked returns how s's non-shared subscriptions take m: at the
// highest QoS, retained if one retains as published, with every
// Subscription Identifier, No Local applied; ok false for none. s.mu
// held.
func (s *Session) matchLocked(m *Message) (qos byte, retain bool, ids []uint32, ok bool) {
	for _, sub := range s.st.subs {
		f := sub.filter
		if _, _, shared, _ := mqtt.ParseShared(f); shared {
			continue
		}
		if !mqtt.Match(f, m.pub.Topic) {
			continue
		}
		if sub.noLocal && s.st.clientID == m.from {
			continue // [MQTT-3.8.3-3]
		}
		ok = true
		qos = max(qos, sub.qos)
		retain = retain || (sub.retainAsPublished && m.pub.Retain)
		if sub.id != 0 {
			ids = append(ids, sub.id)
		}
	}
	return qos, retain, ids, ok
}

// GateOut makes s's outbound QoS 2 PUBLISH and PUBREL packets, its QoS
// 1/2 PUBLISH packets through shared subscriptions, and any packet
// queued behind one, wait until ReleaseOut; notify is called (under
// session.mu: it must not block or take a lock) when a packet starts
// waiting with none before it, again after a release that leaves some
// waiting, and when what s owes through shared subscriptions changed
// (sharedOwedLocked, sharedDoneLocked). It takes session.mu alone.
func (s *Session) GateOut(notify func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cl == nil {
		s.cl = &clusterState{}
	}
	s.cl.gate.notify = notify
}

// OutMark is the mark of what a session had at its gate when a record
// write read its state: the packets gated so far, and the deliveries
// through shared subscriptions numbered so far (sharedOwedLocked).
type OutMark struct{ gated, shared uint64 }

// OutMark returns s's mark: read it before the state a record write is
// taken from, and give it to ReleaseOut once the write succeeded. It
// takes session.mu alone.
func (s *Session) OutMark() OutMark {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cl == nil {
		return OutMark{}
	}
	return OutMark{gated: s.cl.gate.base + uint64(len(s.cl.gate.queue)), shared: s.cl.shareMarks}
}

// ReleaseOut tells s that its record holds its state up to mark: its
// deliveries through shared subscriptions numbered up to mark need not
// wait for a write any more, and the gated packets up to mark are sent,
// in their order, to the client that holds s, if it is still the one
// they were queued for (a new connection sends what is in flight
// again). It takes session.mu alone, and the write queue's lock under
// it.
func (s *Session) ReleaseOut(mark OutMark) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cl == nil {
		return
	}
	s.cl.shareRecorded = max(s.cl.shareRecorded, mark.shared)
	g := &s.cl.gate
	for len(g.queue) > 0 && g.base < mark.gated {
		p := g.queue[0]
		g.queue[0] = gatedOut{}
		g.queue = g.queue[1:]
		g.base++
		if !s.ended && s.owner == p.ch {
			p.send()
		}
	}
	if len(g.queue) == 0 {
		g.queue = nil
	} else if g.notify != nil {
		g.notify()
	}
}

// GatedOut reports whether packets of s wait at its gate. It takes
// session.mu alone.
func (s *Session) GatedOut() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cl != nil && len(s.cl.gate.queue) > 0
}

// gateLocked queues send, an outbound packet for ch, at s's gate when
// s has one and must (a QoS 2 PUBLISH or a PUBREL) or a packet waits
// there already; it reports whether it did. s.mu held.
func (s *Session) gateLocked(ch Client, must bool, send func()) bool {
	if s.cl == nil {
		return false
	}
	g := &s.cl.gate
	if g.notify == nil || (!must && len(g.queue) == 0) {
		return false
	}
	g.queue = append(g.queue, gatedOut{ch: ch, send: send})
	if len(g.queue) == 1 {
		g.notify()
	}
	return true
}

// sharedOwedLocked numbers d, when it is a QoS 1/2 delivery through a
// shared subscription queued or put in flight for the first time, and
// asks for a write of s's record (the gate's notify) that lists it.
// s.mu held.
func (s *Session) sharedOwedLocked(d *Delivery) {
	if d.share == nil || d.qos == 0 || s.cl == nil || d.shareMark != 0 {
		return
	}
	c := s.cl
	c.shareMarks++
	d.shareMark = c.shareMarks
	if c.gate.notify != nil {
		c.gate.notify()
	}
}

// sharedDoneLocked asks for a write of s's record when d, a QoS 1/2
// delivery through a shared subscription, is done with: the record
// sheds it. Nothing waits for the write. s.mu held.
func (s *Session) sharedDoneLocked(d *Delivery) {
	if d.share == nil || d.qos == 0 || s.cl == nil || s.cl.gate.notify == nil {
		return
	}
	s.cl.gate.notify()
}

// sharedUnrecordedLocked reports whether d came through a shared
// subscription and s's record does not list it yet. s.mu held.
func (s *Session) sharedUnrecordedLocked(d *Delivery) bool {
	return d.share != nil && d.shareMark > s.cl.shareRecorded
}
