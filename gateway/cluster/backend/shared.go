package backend

import (
	"time"

	"edgemq/gateway/broker"

	"github.com/nats-io/nats.go"
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
	data, err := encodeMessage(m, time.Now())
	if err != nil {
		be.log.Warn("handing a shared subscription's message to another node failed", zap.Error(err))
		return
	}
	h := headers(be.origin, be.pub.seq.Add(1), m.From())
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
