package backend

// Outbound QoS 1/2 deliveries in flight across nodes (issue 15: QoS 2
// exactly once across a takeover and a crash). The node holding a
// session keeps what it has in flight in the session's record
// (cluster.SessionRecord.Out: packet id, message by stream sequence or
// Nats-Msg-Id, PUBLISH sent or PUBREL sent) and gives it, newer, in its
// answer to a takeover (takeover.go). The node carrying the session on
// puts it back in flight before the replay (broker.Session.Carry),
// which hands each its stored message instead of delivering it anew
// (replay.go): on resume the client gets the PUBLISH again with DUP and
// its packet id, or the PUBREL [MQTT-4.4.0-1], never a QoS 2 message a
// second time under another id.
//
// Across a crash the record is all there is, so it must be ahead of what
// the client saw: a QoS 2 PUBLISH leaves only once the record holds its
// packet id, and a PUBREL only once the record holds its PUBREL step
// (broker.Session.GateOut; the QoS 1 packets behind them wait too, for
// order). The gate asks for a write of the record (gateOut); writeOut
// writes it, revision-checked, with whatever else changed, and releases
// every packet gated before it read the state: packets that pile up
// meanwhile share the next write. So a session receiving QoS 2 pays about
// two record writes per round trip of its client, not per message. QoS 1
// needs no gate: the cursor replays what was not acknowledged (at least
// once), and the checkpoint carries its packet ids when it can; but for
// a message through a shared subscription, which no cursor replays: it
// leaves once the record lists what the member owes (shared.go).
//
// What a kill -9 can still do: the record is never behind the client
// for QoS 2 outbound; a PUBCOMP or PUBACK whose removal the record did
// not get yet makes the next node send PUBREL (answered with PUBCOMP,
// no message) or the QoS 1 message again. A QoS 2 message published on
// the node that died and still in flight there without its stream
// sequence is found again by its Nats-Msg-Id; a will has none (it is not
// a client's PUBLISH), and such a delivery is sent again as new. Inbound,
// an id awaiting PUBREL reaches the record at the next checkpoint: a
// PUBREL arriving on the next node before that gets PUBCOMP 0x92 (the
// message was routed once, at PUBLISH time, and is not routed again).

import (
	"context"
	"errors"
	"slices"
	"time"

	"edgemq/gateway/broker"
	"edgemq/gateway/cluster"
	"edgemq/gateway/logsafe"

	"go.uber.org/zap"
)

// sameQoS reports whether a and b hold the same QoS state: in flight,
// done above the cursor, owed through shared subscriptions.
func sameQoS(a, b *cluster.SessionRecord) bool {
	return slices.Equal(a.Out, b.Out) && slices.Equal(a.Done, b.Done) && slices.Equal(a.Shared, b.Shared)
}

// outRecord returns the record form of what sess has in flight.
func outRecord(sess *broker.Session) []cluster.RecordOut {
	list := sess.Inflight()
	if len(list) == 0 {
		return nil
	}
	out := make([]cluster.RecordOut, 0, len(list))
	for _, o := range list {
		r := cluster.RecordOut{PID: o.PID, QoS: o.QoS, Rel: o.Released, Seq: o.Msg.Seq()}
		if r.Seq == 0 && o.QoS == 2 {
			// Routed here before the stream numbered it: found again by
			// the Nats-Msg-Id it was stored with (route_publish.go).
			r.ID = storedID(o.Msg)
		}
		out = append(out, r)
	}
	return out
}

// storedID returns the Nats-Msg-Id m was stored with in the messages
// stream when it is a client's PUBLISH of this node, "" otherwise.
func storedID(m *broker.Message) string {
	pid := m.InboundID()
	if pid == 0 {
		return ""
	}
	data, err := encodeMessage(m, time.Now())
	if err != nil {
		return ""
	}
	id, err := msgID(m, pid, data)
	if err != nil {
		return ""
	}
	return id
}

// doneRecord returns the record form of what a session is done with
// above its cursor (broker.Session.Done).
func doneRecord(list []broker.Done) []cluster.RecordDone {
	if len(list) == 0 {
		return nil
	}
	out := make([]cluster.RecordDone, 0, len(list))
	for _, d := range list {
		r := cluster.RecordDone{Seq: d.Seq, ID: d.Key}
		if r.Seq == 0 && r.ID == "" && d.Msg != nil {
			r.ID = storedID(d.Msg)
		}
		if r.Seq != 0 || r.ID != "" {
			out = append(out, r)
		}
	}
	return out
}

// doneOf returns done as the broker keeps it.
func doneOf(done []cluster.RecordDone) []broker.Done {
	if len(done) == 0 {
		return nil
	}
	list := make([]broker.Done, len(done))
	for i, d := range done {
		list[i] = broker.Done{Seq: d.Seq, Key: d.ID}
	}
	return list
}

// carried returns out as the broker carries it.
func carried(out []cluster.RecordOut) []broker.Carried {
	if len(out) == 0 {
		return nil
	}
	list := make([]broker.Carried, len(out))
	for i, o := range out {
		list[i] = broker.Carried{PID: o.PID, QoS: o.QoS, Released: o.Rel, Seq: o.Seq}
	}
	return list
}

// carryKeys tells the replay which stored messages are carried in
// flight: by stream sequence, and by Nats-Msg-Id, to their packet ids;
// and which the session is done with (skipped).
type carryKeys struct {
	seqs     map[uint64][]uint16
	ids      map[string][]uint16
	doneSeqs map[uint64]bool
	doneIDs  map[string]bool
}

func newCarryKeys(out []cluster.RecordOut, done []cluster.RecordDone) carryKeys {
	var k carryKeys
	for _, d := range done {
		switch {
		case d.Seq != 0:
			if k.doneSeqs == nil {
				k.doneSeqs = make(map[uint64]bool)
			}
			k.doneSeqs[d.Seq] = true
		case d.ID != "":
			if k.doneIDs == nil {
				k.doneIDs = make(map[string]bool)
			}
			k.doneIDs[d.ID] = true
		}
	}
	for _, o := range out {
		switch {
		case o.Seq != 0:
			if k.seqs == nil {
				k.seqs = make(map[uint64][]uint16)
			}
			k.seqs[o.Seq] = append(k.seqs[o.Seq], o.PID)
		case o.ID != "":
			if k.ids == nil {
				k.ids = make(map[string][]uint16)
			}
			k.ids[o.ID] = append(k.ids[o.ID], o.PID)
		}
	}
	return k
}

// done reports whether the session is done with the stored message of
// sequence seq and Nats-Msg-Id id.
func (k carryKeys) done(seq uint64, id string) bool {
	return k.doneSeqs[seq] || (id != "" && k.doneIDs[id])
}

// pids returns the packet ids carried for the stored message of
// sequence seq and Nats-Msg-Id id.
func (k carryKeys) pids(seq uint64, id string) []uint16 {
	if p := k.seqs[seq]; p != nil {
		return p
	}
	if id != "" {
		return k.ids[id]
	}
	return nil
}

// gateOut returns the notify of id's session's gate
// (broker.Session.GateOut): it asks for a write of the record, on a
// goroutine of its own, once until that starts. It never blocks.
func (s *Sessions) gateOut(id string) func() {
	return func() {
		if _, busy := s.outDue.LoadOrStore(id, struct{}{}); !busy {
			go s.writeOut(id)
		}
	}
}

// writeOut writes id's record if what it holds in flight (or anything
// else of it) changed, then releases the packets gated before. A failed
// write leaves them gated and is tried again after a checkpoint
// interval, until it succeeds or the session is no longer held here
// (fenced, it goes: checkpoint.go).
func (s *Sessions) writeOut(id string) {
	s.outDue.Delete(id)
	ctx, cancel := context.WithTimeout(context.Background(), s.o.OpenTimeout)
	defer cancel()
	unlock, err := s.gates.lock(ctx, id)
	if err != nil {
		time.AfterFunc(s.o.Checkpoint, s.gateOut(id))
		return
	}
	defer unlock()
	o, rec, rev := s.held(id)
	if o == nil || o.sess == nil {
		return // not held here (yet: Open asks again once it is)
	}
	mark := o.sess.OutMark()
	last := rec
	s.snapshot(&rec, o.sess) // session.go
	if rec.Cursor == last.Cursor && sameQoS(&rec, &last) && slices.Equal(rec.Rels, last.Rels) && slices.Equal(rec.Subs, last.Subs) {
		o.sess.ReleaseOut(mark)
		s.recorded(rec.Shared)
		return
	}
	s.outWrites.Add(1)
	newRev, err := s.store.Put(ctx, id, &rec, rev)
	for try := 0; try < 3 && errors.Is(err, cluster.ErrStale); try++ {
		if err = s.rebase(ctx, id, o, &rec, rev); err != nil {
			break
		}
		// Moved on by this node's own holding (a SUBSCRIBE's write,
		// which takes no gate, or an earlier write NATS stored but
		// whose answer timed out): written again on top of it, or the
		// gated packets would never leave.
		rec, rev = s.recOf(o)
		s.snapshot(&rec, o.sess)
		newRev, err = s.store.Put(ctx, id, &rec, rev)
	}
	switch {
	case errors.Is(err, cluster.ErrStale):
		// Claimed by another node, as far as the record tells: the
		// packets wait, and the write is tried again a checkpoint
		// interval later until the claim's kick (or the checkpoint's
		// fencing, checkpoint.go) drops the session here, and held
		// finds nothing. Left alone, a write that only looked lost
		// (refused in process after every retry, a record of this
		// holding moved on three times) would hold the gated packets,
		// and every later one behind them, for good.
		s.o.Log.Debug("in-flight state not recorded: the session may be claimed elsewhere; again later", logsafe.String("client_id", id))
		time.AfterFunc(s.o.Checkpoint, s.gateOut(id))
	case err != nil:
		s.o.Log.Debug("recording a session's in-flight state failed; again later", logsafe.String("client_id", id), zap.Error(err))
		time.AfterFunc(s.o.Checkpoint, s.gateOut(id))
	default:
		s.mu.Lock()
		if s.owned[id] == o && o.rev < newRev { // only forward, as in checkpoint.go
			o.rec, o.rev, o.stale = rec, newRev, time.Time{}
		}
		s.mu.Unlock()
		o.sess.ReleaseOut(mark)
		s.recorded(rec.Shared)
	}
}

// recorded tells the shared subscription groups' consumers which of
// their messages a record written now lists (shared_durable.go).
func (s *Sessions) recorded(list []cluster.RecordShared) {
	if s.o.Recorded != nil && len(list) > 0 {
		s.o.Recorded(list)
	}
}
