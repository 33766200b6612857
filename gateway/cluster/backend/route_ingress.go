package backend

import (
	"context"
	"sync"
	"time"

	"edgemq/gateway/broker"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
)

// ingressBuffer is how many NATS messages may wait for the ingress
// goroutine; beyond, the NATS client drops them (a slow consumer).
const ingressBuffer = 1 << 16

// Ingress: the messages NATS brings to this node go to its local sessions
// only, never back to NATS.
//
// Every subscription of the node (interest) delivers into one channel, in
// the order the node's NATS server sent them, read by one goroutine. A
// message matching several of the node's plain subscriptions (a/+ and
// a/#) arrives once per subscription, and the server hands one message to
// all of a connection's matching subscriptions one after another, before
// the next message from the same source: so a copy is recognised as
// having the same origin, path (core NATS or the messages stream) and
// sequence number as the message before it from that origin and path,
// and dropped. The broker then delivers it once per session, with every
// matching Subscription Identifier [MQTT-3.3.4-2..5]. The node's own
// messages come back too (it routed them locally already) and are
// dropped.
//
// A message on a queue subscription is for one shared subscription
// group, which NATS chose this node's members of: it goes to one local
// member (broker.RouteGroup), the node's own messages included (the
// origin does not pick a member itself).
type ingress struct {
	be *Backend
	b  *broker.Broker
	ch chan *nats.Msg
	// groups maps a queue name to its group (*groupState): written by
	// the interest applier, read here.
	groups sync.Map
	// last is the sequence number (as sent) of the last message routed
	// from each origin and path; ingress's goroutine's own. An origin is
	// a node incarnation: a few per node over its life.
	last map[pathKey]string
	buf  []broker.Match
	log  *zap.Logger
}

// pathKey is one origin's path: core NATS or the messages stream.
type pathKey struct {
	origin string
	stream bool
}

func newIngress(be *Backend) *ingress {
	return &ingress{be: be, ch: make(chan *nats.Msg, ingressBuffer), last: map[pathKey]string{}, log: be.log}
}

// run routes what arrives until ctx ends.
func (ig *ingress) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case msg := <-ig.ch:
			ig.handle(msg, time.Now())
		}
	}
}

// handle routes one NATS message.
func (ig *ingress) handle(msg *nats.Msg, now time.Time) {
	if q := msg.Sub.Queue; q != "" {
		g, ok := ig.groups.Load(q)
		if !ok {
			ig.be.counters.Unroutable.Add(1)
			return // the group left this node meanwhile
		}
		st := g.(*groupState)
		seq := streamSeq(msg)
		if seq != 0 && st.dropsCopy(msg, seq) {
			ig.be.counters.GroupCopies.Add(1)
			return // the group's consumer hands it out (shared_durable.go)
		}
		k := st.key
		m, err := decodeMessage(msg, now)
		if err != nil {
			ig.undecodable(msg, err)
			return
		}
		m.SetSeq(seq) // session.go: cursors
		if !ig.b.RouteGroup(k.share, k.filter, m, now) {
			ig.be.counters.Unroutable.Add(1)
			return
		}
		ig.be.counters.Received.Add(1)
		return
	}
	origin := msg.Header.Get(hdrOrigin)
	if origin == ig.be.origin {
		ig.be.counters.Echoes.Add(1)
		return // routed here when it was published
	}
	key := pathKey{origin: origin, stream: msg.Header.Get(hdrStreamSeq) != ""}
	seq := msg.Header.Get(hdrSeq)
	if last, ok := ig.last[key]; ok && last == seq && seq != "" {
		ig.be.counters.Copies.Add(1)
		return // a copy, through another subscription
	}
	ig.last[key] = seq
	m, err := decodeMessage(msg, now)
	if err != nil {
		ig.undecodable(msg, err)
		return
	}
	ig.be.counters.Received.Add(1)
	m.SetSeq(streamSeq(msg)) // session.go: cursors, replay meeting live delivery
	ig.b.RouteRemote(m, &ig.buf, now)
}

// undecodable drops a message that is no MQTT message (another NATS
// client's on an edgemq subject).
func (ig *ingress) undecodable(msg *nats.Msg, err error) {
	ig.be.counters.Unroutable.Add(1)
	ig.log.Debug("dropping a nats message that is no mqtt message", zap.String("subject", msg.Subject), zap.Error(err))
}
