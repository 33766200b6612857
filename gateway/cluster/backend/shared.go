package backend

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"edgemq/gateway/broker"
	"edgemq/gateway/cluster"
	"edgemq/gateway/logsafe"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// Shared subscriptions across nodes: each group ("$share/{share}/{filter}")
// is a NATS queue group (queueName) on the filter's subjects, which every
// node with a member of the group joins (interest.applyGroup), so that
// NATS hands each message to one node, whose ingress gives it to one
// local member (broker.RouteGroup). The node a message is published on
// does not pick a member itself (broker.RouteOwn skips the groups).
//
// A member's session that ends leaves what came to it through the group
// unacknowledged; the broker gives that to another member on the node
// (4.8.2), and when none is left there to this node's orphan, which sends
// it on the group's own subject (groupSubject), where only the group's
// queue listens: NATS hands it to a member on another node. It is sent
// after the node's own queue subscriptions to the group are dropped and
// flushed (the interest applier sends it after the event that dropped
// them), so that NATS does not hand it back here. It goes on core NATS:
// a node that dies before sending it loses it.

// groupPrefix starts the subjects of the groups (groupSubject): a first
// token of its own, so that no live filter or stream matches them.
const groupPrefix = "emq_s."

// groupSubject returns the subject only the queue group q listens on.
func groupSubject(q string) string { return groupPrefix + q }

// GroupSubject returns the subject only the shared subscription group
// share on filter (without "$share/{share}/") listens on, with its NATS
// queue group: what a node's server has interest in while a member of
// the group is on some node.
func GroupSubject(share, filter string) string { return groupSubject(queueName(share, filter)) }

// orphan sends m, which came through the group share on filter to a
// session that ended unacknowledged, to another member of the group on
// another node (broker.SetSharedOrphan). It never blocks.
func (be *Backend) orphan(share, filter string, m *broker.Message) {
	if be.dur.refuse(m.Seq()) {
		return // its group's consumer hands it out again (shared_durable.go)
	}
	data, err := encodeMessage(m, time.Now())
	if err != nil {
		be.log.Warn("handing a shared subscription's message to another node failed", zap.Error(err))
		return
	}
	h := headers(be.origin, be.pub.seq.Add(1), m.From())
	if seq := m.Seq(); seq != 0 {
		h.Set(hdrStreamSeq, strconv.FormatUint(seq, 10)) // the member that takes it records it
	}
	be.in.queueOrphan(&nats.Msg{Subject: groupSubject(queueName(share, filter)), Header: h, Data: data})
}

// queueOrphan hands msg to the applier, to send after the changes queued
// before it.
func (in *interest) queueOrphan(msg *nats.Msg) { in.queue(interestEvent{orphan: msg}) }

// sendOrphans publishes the orphaned messages (after a flush).
func (in *interest) sendOrphans(msgs []*nats.Msg) {
	for _, msg := range msgs {
		if err := in.nc.PublishMsg(msg); err != nil {
			in.log.Warn("handing a shared subscription's message to another node failed", zap.String("subject", msg.Subject), zap.Error(err))
		}
	}
}

// A member whose node dies: its session's record lists what it owes
// through its groups (cluster.SessionRecord.Shared: share, filter and
// stream sequence of each message in flight before PUBACK or PUBREC, or
// queued), and the node that claims the session (lapse.go), or a
// CONNECT finding its previous node gone (session.go), hands each of
// those messages, read back from the messages stream, to another member
// of its group (handOverShared), as the broker does for a session that
// ends (4.8.2): before the claimed session's own subscriptions are
// registered here, so that NATS does not hand them back to it.
//
// The record is ahead of the client: a QoS 1/2 message a member is
// given through a group (queued or sent) is numbered and asks for a
// write of its record (broker: sharedOwedLocked), and its PUBLISH leaves
// only once the record written holds its number (OutMark,
// ReleaseOut), waiting at the session's in-flight gate
// (broker.Session.GateOut, outflight.go) as a QoS 2 PUBLISH does; one it
// acknowledged asks for a write too, without waiting. The writes are
// batched as the gate's are: one write (writeOut) covers every message
// that piled up while the one before was on its way, so a member pays
// about one record write per round trip, not per message; a message
// queued while the client's window is full is recorded while it waits,
// and leaves at once when the window opens. Acknowledged messages leave
// the record within a write, not at the next checkpoint. So a kill -9 at any instant leaves the next node a record
// that lists every message the member's client may have seen and not
// acknowledged: the claimer hands those over, at least once (QoS 1; a
// QoS 2 message not past PUBREC goes to another client, which gets it
// once: its first member never completed it). A handed-over message
// keeps its stream sequence (hdrStreamSeq), so that the member that
// takes it records it too, and a second death hands it over again; a
// claiming node that dies before its own next write leaves the list to
// the next one (at least once). An acknowledgement the record did not
// get yet makes the message go to another member again (at least once).
//
// What no record covers: a message the queue group gave to a node that
// died before the member's record listed it (in the node's socket, its
// NATS client's buffer, its ingress queue, or waiting for the record
// write). Its client never saw it, and no node knows it is owed: core
// NATS queue groups have no acknowledgement, and the stream does not
// know which node its republished copy went to. The window is about one
// record write after the message reached the node (longer while the
// node's ingress is backed up). For up to SharedOptions.DurableGroups
// groups it is closed by the first way below (shared_durable.go); the
// groups beyond the cap keep it. The ways, weighed:
//   - a JetStream consumer per group (work queue, its AckWait as the
//     lease, acknowledged after the record write), redelivering what a
//     dead node never acknowledged: what a production broker on JetStream
//     does for durable shared queues. It costs a consumer per group, and
//     groups may be as many as sessions ("$share/{client}/..."), the
//     nats-server MQTT failure this design avoids (issue 15's rules); it
//     fits groups at QoS 1/2 with a bound on their number;
//   - a sweep by the claiming node of the stream's messages of the group
//     above what the dead node's records had seen, less what the live
//     nodes say they received (each keeping recent receipts per group):
//     no consumer, but a protocol between nodes, and duplicates wherever
//     a live node's answer is late;
//   - recording at the node before routing does not help: the loss is
//     before the node reads the message.
// The first is built, with the bound as the cap: a group's consumer is
// made only while the cluster has fewer; the sweep is not.

// sharedRecord returns the record form of what sess owes through its
// shared subscriptions, those of a known sequence.
func sharedRecord(sess *broker.Session) []cluster.RecordShared {
	list := sess.SharedOwed()
	if len(list) == 0 {
		return nil
	}
	out := make([]cluster.RecordShared, 0, len(list))
	for _, o := range list {
		if seq := o.Msg.Seq(); seq != 0 {
			out = append(out, cluster.RecordShared{Share: o.Share, Filter: o.Filter, Seq: seq})
		}
	}
	return out
}

// handOverShared sends each message of owed, read back from the
// messages stream, to another member of its group, on the group's own
// subject, and flushes. The reads go handOverReaders at a time, each
// tried handOverTries times with its own bound (OpenTimeout), not the
// claim's: a long list read one by one under load outlasted the claim's
// context and lost its tail. A message no longer stored is lost
// (logged).
func (s *Sessions) handOverShared(ctx context.Context, id string, owed []cluster.RecordShared) {
	if len(owed) == 0 {
		return
	}
	ctx = context.WithoutCancel(ctx)
	raws := make([]jetstream.RawStreamMsg, len(owed))
	read := make([]bool, len(owed))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(handOverReaders, len(owed)) {
		wg.Go(func() {
			for i := range next {
				raw, err := s.readOwed(ctx, owed[i].Seq)
				if err != nil {
					s.o.Log.Warn("a shared subscription's message owed by a gone node's session cannot be read back",
						logsafe.String("client_id", id), zap.Uint64("seq", owed[i].Seq), zap.Error(err))
					continue
				}
				raws[i], read[i] = *raw, true
			}
		})
	}
	for i := range owed {
		next <- i
	}
	close(next)
	wg.Wait()
	sent := 0
	for i, o := range owed {
		if !read[i] {
			continue
		}
		raw := &raws[i]
		// Its headers as stored (publisher, origin, and those of a newer
		// version this one does not know: route_codec.go), without
		// JetStream's own, and its stream sequence, which the member that
		// takes it records.
		h := nats.Header{}
		for k, v := range raw.Header {
			if !strings.HasPrefix(k, "Nats-") {
				h[k] = v
			}
		}
		h.Set(hdrStreamSeq, strconv.FormatUint(o.Seq, 10))
		msg := &nats.Msg{Subject: groupSubject(queueName(o.Share, o.Filter)), Header: h, Data: raw.Data}
		if err := s.o.Conn.PublishMsg(msg); err != nil {
			s.o.Log.Warn("handing a gone member's message to its group failed", logsafe.String("client_id", id), zap.Error(err))
			continue
		}
		sent++
	}
	fctx, cancel := context.WithTimeout(ctx, s.o.OpenTimeout)
	defer cancel()
	if err := s.o.Conn.FlushWithContext(fctx); err != nil {
		s.o.Log.Warn("handing a gone member's messages to its group failed", logsafe.String("client_id", id), zap.Error(err))
	}
	s.o.Log.Debug("a gone member's shared messages handed to their groups", logsafe.String("client_id", id), zap.Int("messages", sent))
}

// Reading back what a gone member owed (handOverShared).
const (
	handOverReaders = 8
	handOverTries   = 3
)

// readOwed reads the stored message of sequence seq, tried
// handOverTries times, each bounded by OpenTimeout; a message no longer
// stored is not tried again.
func (s *Sessions) readOwed(ctx context.Context, seq uint64) (*jetstream.RawStreamMsg, error) {
	var err error
	for range handOverTries {
		rctx, cancel := context.WithTimeout(ctx, s.o.OpenTimeout)
		var raw *jetstream.RawStreamMsg
		raw, err = s.o.Layout.Messages.GetMsg(rctx, seq)
		cancel()
		if err == nil || errors.Is(err, jetstream.ErrMsgNotFound) {
			return raw, err
		}
	}
	return nil, fmt.Errorf("reading message %d: %w", seq, err)
}
