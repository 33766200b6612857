package broker

// Persistence hooks: the broker's changes to persistent state, as
// store.Op values queued in change order (under the lock of the state they
// describe), and the restore at startup. Nothing here assumes a
// particular store implementation.
//
// What is stored: sessions with a Session Expiry Interval above 0 (their
// subscriptions, will, in-flight and pending QoS 1/2 deliveries, inbound
// QoS 2 ids awaiting PUBREL) and retained messages. A message is stored
// once, by id, however many sessions it is queued for.
//
// Restart: expiry is a deadline. A session whose client was connected at
// the crash counts its expiry, and its will's delay, from the restart (its
// connection ended then). A will whose session ended, or whose delay ran
// out, while the server was down is published at startup, after every
// session and retained message is restored (MQTT 5 3.1.3.2.2: published
// when the delay passes or the session ends, whichever is first).
// Deliveries restored from shared subscriptions are no longer tied to
// their group: if that session then ends, they are not handed to another
// member.

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync/atomic"
	"time"

	"edgemq/gateway/store"
	"edgemq/mqtt"

	"go.uber.org/zap"
)

// persister queues changes to the store.
type persister struct {
	st  SessionStore
	log *zap.Logger
	// msgIDs numbers stored messages; restored above the stored ones.
	msgIDs atomic.Uint64
	// failed kicks the connections whose acknowledgement failed to store.
	failed atomic.Int64
	// leftOut logs a change the store could not hold (persist_subs.go).
	leftOut func(error)
}

func (p *persister) apply(ops ...store.Op) { p.st.Apply(ops, p.leftOut) }

// stored returns the store form of m, encoded once; ids numbers it.
func (m *Message) stored(ids *atomic.Uint64) store.Message {
	m.encOnce.Do(func() {
		m.id = ids.Add(1)
		pub := *m.pub
		if pub.QoS > 0 {
			pub.PacketID = 1
		}
		m.enc, _ = mqtt.AppendPublish(nil, &pub, mqtt.V5)
	})
	return store.Message{ID: m.id, From: m.from, Expires: m.expires, Packet: m.enc}
}

// restoredMessage decodes a stored message.
func restoredMessage(sm *store.Message) (*Message, error) {
	p, err := mqtt.ReadPacket(bytes.NewReader(sm.Packet), mqtt.V5, 0)
	if err != nil {
		return nil, err
	}
	pub, ok := p.(*mqtt.Publish)
	if !ok {
		return nil, fmt.Errorf("stored message is a %v", p.Type())
	}
	pub.PacketID, pub.Dup = 0, false
	m := &Message{pub: pub, from: sm.From, expires: sm.Expires}
	if sm.ID != 0 {
		m.encOnce.Do(func() {})
		m.id, m.enc = sm.ID, sm.Packet
	}
	return m, nil
}

var deliveryStates = [...]byte{0: store.Pending, awaitingPuback: store.AwaitingPuback, awaitingPubrec: store.AwaitingPubrec, awaitingPubcomp: store.AwaitingPubcomp}

// putDeliveryLocked stores d (pending or in flight) of a persistent
// session. s.mu held.
func (s *Session) putDeliveryLocked(d *Delivery) {
	if d.qos > 0 {
		s.clusterChangedLocked() // cluster.go: its deliveries in flight
		s.sharedOwedLocked(d)    // cluster_out.go
	}
	if s.p == nil || d.qos == 0 {
		return
	}
	if d.dseq == 0 {
		s.st.nextDSeq++
		d.dseq = s.st.nextDSeq
	}
	sd := &store.Delivery{Seq: d.dseq, Msg: d.msg.stored(&s.p.msgIDs), QoS: d.qos, Retain: d.retain, SubIDs: d.subIDs, PID: d.pid, State: deliveryStates[d.state]}
	if d.share != nil {
		sd.Share = mqtt.SharePrefix + d.share.Name() + "/" + d.share.Filter()
	}
	s.p.apply(store.Op{Kind: store.PutDelivery, ClientID: s.st.clientID, Delivery: sd})
}

// deleteDeliveryLocked forgets d, which s is done with. s.mu held.
func (s *Session) deleteDeliveryLocked(d *Delivery) {
	s.clusterChangedLocked() // cluster.go: the cursor may move on
	if s.cl != nil {
		s.doneLocked(d)       // cluster_out.go
		s.sharedDoneLocked(d) // cluster_out.go
	}
	if s.p == nil || d.dseq == 0 {
		return
	}
	s.p.apply(store.Op{Kind: store.DeleteDelivery, ClientID: s.st.clientID, Seq: d.dseq})
}

// relLocked records or forgets an inbound QoS 2 id. s.mu held.
func (s *Session) relLocked(pid uint16, put bool) {
	s.clusterChangedLocked() // cluster.go
	if s.p == nil {
		return
	}
	k := store.DeleteRel
	if put {
		k = store.PutRel
	}
	s.p.apply(store.Op{Kind: k, ClientID: s.st.clientID, PID: pid})
}

// saveLocked stores the session record (will, deadline; not the
// subscriptions, which persist_subs.go stores one by one). s.mu held.
func (s *Session) saveLocked() {
	if s.p == nil {
		return
	}
	o := s.off
	if o == nil {
		o = &sessionOff{} // a record with no deadline and no will (session_off.go)
	}
	rec := &store.Session{ClientID: s.st.clientID, Expiry: s.st.expiry, Deadline: o.deadline, NextPID: s.st.nextPID,
		Owner: s.ownerRecord()} // owner.go
	if w := o.pw; w != nil {
		pub := &mqtt.Publish{QoS: w.QoS, Retain: w.Retain, Topic: w.Topic, Payload: w.Payload, Properties: w.Properties}
		pub.Properties.Clear(mqtt.PropWillDelayInterval)
		m := (&Message{pub: pub}).stored(&s.p.msgIDs)
		rec.Will, rec.WillDelay, rec.WillDeadline = &m, w.Properties.WillDelayInterval, o.pwDeadline
	}
	s.p.apply(store.Op{Kind: store.PutSession, Session: rec})
}

// persistOpenLocked is called by registry.open with the session's lock
// held once the connection is attached: a session with expiry above 0
// becomes (or stays) persistent with the connection's will; one with
// expiry 0 is removed from the store.
func (r *registry) persistOpenLocked(s *Session, will *mqtt.Will) {
	if r.p == nil {
		return
	}
	if s.st.expiry == 0 {
		if s.p != nil {
			s.p.apply(store.Op{Kind: store.DeleteSession, ClientID: s.st.clientID})
			s.p = nil
		}
		return
	}
	fresh := s.p == nil
	s.p = r.p
	if will != nil || s.off != nil {
		o := s.offOrNew()
		o.deadline, o.pw, o.pwDeadline = time.Time{}, will, time.Time{}
	}
	s.saveLocked()
	if fresh {
		// A session that was not persistent (expiry 0 until now) stores
		// what it holds.
		s.putSubsLocked(s.st.subsInOrder()) // persist_subs.go
		for pid := range s.st.awaitingRel {
			s.relLocked(pid, true)
		}
		for _, d := range s.st.inflightInOrder() {
			s.putDeliveryLocked(d)
		}
		for _, d := range s.st.pending {
			s.putDeliveryLocked(d)
		}
	}
}

// forgetLocked removes a session from the store. s.mu held.
func (s *Session) forgetLocked() {
	s.clusterChangedLocked() // cluster.go: the session ended
	if s.p != nil {
		s.p.apply(store.Op{Kind: store.DeleteSession, ClientID: s.st.clientID})
		s.p = nil
	}
}

// retainedOp is the store change for the retained message m stored or
// deleted (empty payload) under its topic.
func retainedOp(m *Message, deleted bool, ids *atomic.Uint64) store.Op {
	if deleted {
		return store.Op{Kind: store.DeleteRetained, Topic: m.pub.Topic}
	}
	sm := m.stored(ids)
	sm.ID = 0
	return store.Op{Kind: store.PutRetained, Topic: m.pub.Topic, Retained: &sm}
}

// StoreError explains err, met loading the store at path ("" for a
// store that is not the embedded one): what to do about a corrupt store or
// one of another version.
func StoreError(path string, err error) error {
	switch {
	case path == "":
		// Not the embedded store (WithStore): no file to advise about.
		return fmt.Errorf("loading the store: %w", err)
	case errors.Is(err, store.ErrCorrupt):
		return fmt.Errorf("%w. The store %s cannot be read; edgemq does not reset it: stop edgemq, move the file away (or restore a backup of it) and start again; without the file, edgemq starts with no sessions and no retained messages", err, path)
	case errors.Is(err, store.ErrVersion):
		return fmt.Errorf("%w. The store %s was written by another edgemq version: run that version, or move the file away to start with no sessions and no retained messages", err, path)
	}
	return err
}

// Restore makes st the broker's session store and rs its retained store
// (one store.Store may be both) and loads them, before any connection,
// then publishes the wills that came due while the server was down. path
// names the store in errors and logs ("" for one that is not the embedded
// file). Call it once, before the broker is used.
func (e *Broker) Restore(ctx context.Context, st SessionStore, rs RetainedStore, path string) error {
	t0 := time.Now()
	p := &persister{st: st, log: e.log}
	p.leftOut = p.logLeftOut // persist_subs.go
	e.sessions.p = p
	state, err := st.Load(ctx)
	if err != nil {
		return StoreError(path, err)
	}
	now := e.now() // clock.go
	var maxID uint64
	var drop []store.Op
	for i := range state.Retained {
		sm := &state.Retained[i]
		m, err := restoredMessage(sm)
		if err != nil {
			return StoreError(path, fmt.Errorf("%w: retained message: %v", store.ErrCorrupt, err))
		}
		if m.Expired(now) {
			drop = append(drop, store.Op{Kind: store.DeleteRetained, Topic: m.pub.Topic})
			continue
		}
		if !e.retained.store(m) {
			// Over the (new) bound: counted by store.
			drop = append(drop, store.Op{Kind: store.DeleteRetained, Topic: m.pub.Topic})
		}
	}
	type pendingWill struct {
		id string
		w  *mqtt.Will
	}
	var wills []pendingWill
	r := e.sessions
	for i := range state.Sessions {
		rec := &state.Sessions[i]
		will, err := restoredWill(rec)
		if err != nil {
			return StoreError(path, fmt.Errorf("%w: will of %q: %v", store.ErrCorrupt, rec.ClientID, err))
		}
		never := rec.Expiry == math.MaxUint32
		if !never && !rec.Deadline.IsZero() && !now.Before(rec.Deadline) {
			// Ended while the server was down.
			if will != nil {
				wills = append(wills, pendingWill{rec.ClientID, will})
			}
			drop = append(drop, store.Op{Kind: store.DeleteSession, ClientID: rec.ClientID})
			continue
		}
		s := r.newSession(rec.ClientID)
		if o := restoredOwner(rec.ClientID, rec.Owner, r.reads); o != nil { // owner.go
			s.setOwner(o, r.reads)
		}
		s.st.expiry, s.st.connectExpiry, s.st.nextPID = rec.Expiry, rec.Expiry, rec.NextPID
		for _, sub := range rec.Subs {
			s.st.putSub(&Subscription{filter: sub.Filter, qos: sub.QoS, noLocal: sub.NoLocal,
				retainAsPublished: sub.RetainAsPublished, retainHandling: sub.RetainHandling, id: sub.ID}) // quota.go
		}
		for _, pid := range rec.Rels {
			s.st.addRel(pid)
		}
		slices.SortFunc(rec.Deliveries, func(a, b store.Delivery) int { return cmp.Compare(a.Seq, b.Seq) })
		msgs := make(map[uint64]*Message)
		for j := range rec.Deliveries {
			sd := &rec.Deliveries[j]
			maxID = max(maxID, sd.Msg.ID)
			m := msgs[sd.Msg.ID]
			if m == nil {
				if m, err = restoredMessage(&sd.Msg); err != nil {
					return StoreError(path, fmt.Errorf("%w: message of %q: %v", store.ErrCorrupt, rec.ClientID, err))
				}
				msgs[sd.Msg.ID] = m
			}
			d := &Delivery{msg: m, qos: sd.QoS, retain: sd.Retain, subIDs: sd.SubIDs, dseq: sd.Seq}
			s.st.nextDSeq = max(s.st.nextDSeq, sd.Seq)
			if sd.State == store.Pending || sd.PID == 0 {
				s.st.pending = append(s.st.pending, d)
				s.st.pendingBytes += int64(len(m.pub.Payload))
				continue
			}
			d.pid = sd.PID
			d.state = outState(sd.State)
			d.dup = true
			s.st.setInflight(d.pid, d)
			s.st.order = append(s.st.order, d.pid)
		}
		s.st.nextPID = restoredNextPID(&s.st, rec.NextPID) // persist_qos2.go
		for _, sub := range s.st.subs {
			e.router.subscribe(s, sub)
		}
		s.p = r.p
		r.sessions[rec.ClientID] = s
		// Timers: the deadline, or the full interval for a session whose
		// client was connected at the crash.
		changed := false // the record needs rewriting
		if !never {
			left := time.Duration(rec.Expiry) * time.Second
			if !rec.Deadline.IsZero() {
				left = rec.Deadline.Sub(now)
			} else {
				s.offOrNew().deadline = now.Add(left)
				changed = true
			}
			s.offOrNew().expiryTimer = time.AfterFunc(left, func() { r.expire(s) })
		}
		if !rec.Deadline.IsZero() {
			s.offOrNew().deadline = rec.Deadline
		}
		if will != nil {
			due := rec.WillDeadline
			if due.IsZero() {
				due = now.Add(time.Duration(rec.WillDelay) * time.Second)
			}
			if !now.Before(due) {
				wills = append(wills, pendingWill{rec.ClientID, will})
				changed = true
			} else {
				changed = changed || rec.WillDeadline.IsZero()
				o := s.offOrNew()
				o.will, o.pw, o.pwDeadline = will, will, due
				o.willTimer = time.AfterFunc(due.Sub(now), func() { r.willDue(s) })
			}
		}
		if changed {
			s.mu.Lock()
			s.saveLocked()
			s.mu.Unlock()
		}
	}
	r.p.msgIDs.Store(max(r.p.msgIDs.Load(), maxID))
	if len(drop) > 0 {
		st.Apply(drop, nil)
	}
	e.log.Info("store loaded", zap.String("file", path), zap.Int("sessions", len(r.sessions)),
		zap.Int("retained", len(state.Retained)), zap.Int("wills", len(wills)), zap.Duration("took", time.Since(t0)))
	e.retained.persist = func(m *Message, deleted bool) {
		rs.Apply([]store.Op{retainedOp(m, deleted, &p.msgIDs)}, p.leftOut)
	}
	for _, w := range wills {
		e.publishWill(w.id, w.w)
	}
	return nil
}

// restoredWill decodes a session's stored will.
func restoredWill(rec *store.Session) (*mqtt.Will, error) {
	if rec.Will == nil {
		return nil, nil
	}
	m, err := restoredMessage(rec.Will)
	if err != nil {
		return nil, err
	}
	p := m.pub
	w := &mqtt.Will{QoS: p.QoS, Retain: p.Retain, Topic: p.Topic, Payload: p.Payload, Properties: p.Properties}
	if rec.WillDelay > 0 {
		w.Properties.SetUint32(mqtt.PropWillDelayInterval, rec.WillDelay)
	}
	return w, nil
}

// Begin implements Publisher: a store group (SessionStore.Group); a
// no-op in memory mode.
func (e *Broker) Begin() (end func()) {
	p := e.sessions.p
	if p == nil {
		return func() {}
	}
	return p.st.Group()
}

// Durable implements Publisher: whether a store is set (Restore).
func (e *Broker) Durable() bool { return e.sessions.p != nil }

// AfterCommit implements Publisher: an Apply of no operations, whose
// done runs once everything queued before is stored (of every client:
// the store commits in one order).
func (e *Broker) AfterCommit(_ string, done func(error)) bool {
	p := e.sessions.p
	if p == nil {
		return false
	}
	p.st.Apply(nil, done)
	return true
}

// CommitFailed implements Publisher: it counts a commit that failed for
// an acknowledgement, whose connection the caller closes, and logs the
// first and every thousandth.
func (e *Broker) CommitFailed(err error) {
	p := e.sessions.p
	if p.failed.Add(1) == 1 || p.failed.Load()%1000 == 0 {
		p.log.Error("store write failed; connections are closed without acknowledgement", zap.Error(err))
	}
}
