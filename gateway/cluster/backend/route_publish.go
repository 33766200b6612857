package backend

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"edgemq/gateway/broker"
	"edgemq/gateway/cluster"
	"edgemq/mqtt"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
)

// The Publisher of a cluster node: a local client's message goes to the
// node's own sessions (broker.RouteOwn) and to NATS, for the other nodes'
// sessions and for every shared subscription group (whose NATS queue
// group picks the member, on whichever node):
//   - QoS 0 on core NATS, on the topic's live subject;
//   - QoS 1 and 2 to the messages stream (cluster.DurableSubject), which
//     stores it and republishes it to the live subject with its stream
//     sequence. It is acknowledged to the publisher only once the stream
//     answered that it stored it: AfterCommit waits for that (route_acks.go)
//     as well as for the local store, when there is one. Durable is
//     always true.
//
// Retransmissions: each stream publish carries Nats-Msg-Id, a digest of
// the publisher's client id, the packet id it sent the PUBLISH with and
// the PUBLISH itself (topic, QoS, retain, properties, payload), so that a
// DUP retransmission, on this node or another, within the stream's
// duplicate window (2 minutes) is stored once. Limits: beyond the window
// it is stored again (as MQTT allows for QoS 1); and within it, a new
// PUBLISH by the same client reusing the packet id with the very same
// topic, properties and payload is taken for a retransmission and stored
// once.
type publisher struct {
	be *Backend
	b  *broker.Broker
	// nc is the link's connection, which receives the stream's answers
	// (ackSub) and carries QoS 0; link spreads the stream publishes over
	// its publish connections, one per client id
	// (cluster.Link.PublishConn).
	nc   *nats.Conn
	link *cluster.Link
	acks *ackShards
	// seq numbers the node's messages (hdrSeq).
	seq atomic.Uint64
	// ackPrefix is the subject prefix the stream answers on; ackSub
	// receives the answers.
	ackPrefix string
	ackSub    *nats.Subscription
	// embedded is the node's NATS server, asked whether a message that
	// no local session takes has a subscriber elsewhere; nil with
	// external servers (then it is assumed to have one).
	embedded *cluster.Embedded
	interest interestMemo
	// failing is set from a failed send to the next that succeeds.
	failing atomic.Bool
	log     *zap.Logger
}

var errFailed = errors.New("the messages stream did not store a message")

func newPublisher(be *Backend) (*publisher, error) {
	p := &publisher{be: be, b: be.b, nc: be.nc, link: be.node.Link(), acks: newAckShards(ackShardCount, &be.counters.StreamFailed), embedded: be.node.Embedded(), log: be.log,
		interest: interestMemo{ttl: interestMemoTTL, max: interestMemoMax}}
	p.ackPrefix = be.nc.NewRespInbox() + "."
	sub, err := be.nc.Subscribe(p.ackPrefix+"*", p.answer)
	if err != nil {
		return nil, fmt.Errorf("subscribing to stream acknowledgements: %w", err)
	}
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		return nil, fmt.Errorf("subscribing to stream acknowledgements: %w", err)
	}
	p.ackSub = sub
	return p, nil
}

// Begin implements broker.Publisher: the local store's group.
func (p *publisher) Begin() (end func()) { return p.b.Begin() }

// RouteAt implements broker.Publisher.
func (p *publisher) RouteAt(m *broker.Message, buf *[]broker.Match, now time.Time) int {
	n := p.b.RouteOwn(m, buf, now)
	p.sent(p.send(m, now, m.From()))
	if n == 0 && p.reachesOthers(m, now) {
		// Another node's session or a group may take it: not "no
		// matching subscribers".
		n = 1
	}
	return n
}

// routeWill routes a will of a local session (broker.SetWillRoute): as
// a client's message, but nobody waits for its acknowledgement.
func (p *publisher) routeWill(m *broker.Message, buf *[]broker.Match, now time.Time) int {
	n := p.b.RouteOwn(m, buf, now)
	p.sent(p.send(m, now, ""))
	return n
}

// sent logs the first of a run of failed sends (each is counted), and
// the first success after them.
func (p *publisher) sent(err error) {
	switch {
	case err != nil && !p.failing.Swap(true):
		p.log.Warn("sending messages to the cluster fails", zap.Error(err))
	case err == nil && p.failing.Load() && p.failing.Swap(false):
		p.log.Info("sending messages to the cluster again")
	}
}

// reachesOthers reports whether the node's NATS server knows of a
// subscriber of m's topic elsewhere (or this node's shared groups), or
// did within the last interestMemoTTL (route_interest_memo.go).
func (p *publisher) reachesOthers(m *broker.Message, now time.Time) bool {
	if p.embedded == nil {
		return true
	}
	return p.interest.has(cluster.TopicSubject(m.Publish().Topic), now, p.embedded.Interest)
}

// send publishes m to NATS: core NATS for QoS 0, the messages stream for
// QoS 1 and 2 (numbered for the AfterCommit of client, its client id, ""
// for a will; a publish that fails at once is answered as failed).
func (p *publisher) send(m *broker.Message, now time.Time, client string) error {
	pub := m.Publish()
	data, err := encodeMessage(m, now)
	if err != nil {
		if pub.QoS > 0 {
			p.acks.failed(client, now, err)
		}
		return err
	}
	h := headers(p.be.origin, p.seq.Add(1), m.From())
	if pub.QoS == 0 {
		if err := p.nc.PublishMsg(&nats.Msg{Subject: cluster.TopicSubject(pub.Topic), Header: h, Data: data}); err != nil {
			p.be.counters.SendFailed.Add(1)
			return fmt.Errorf("publishing to nats: %w", err)
		}
		p.be.counters.SentCore.Add(1)
		return nil
	}
	if pid := m.InboundID(); pid != 0 {
		// A client's PUBLISH: its retransmission has the same id. (A
		// will has none: the same will twice is two messages.)
		id, err := msgID(m, pid, data)
		if err != nil {
			p.acks.failed(client, now, err)
			return err
		}
		h[nats.MsgIdHdr] = []string{id}
	}
	n := p.acks.add(client, now)
	// One connection per client id: the client's publishes reach the
	// stream in its order (link_publish.go in gateway/cluster).
	err = p.link.PublishConn(m.From()).PublishMsg(&nats.Msg{Subject: cluster.DurableSubject(pub.Topic), Reply: p.ackPrefix + strconv.FormatUint(n, 10), Header: h, Data: data})
	if err != nil {
		p.be.counters.SendFailed.Add(1)
		p.acks.complete(n, err)
		return fmt.Errorf("publishing to the messages stream: %w", err)
	}
	p.be.counters.SentStream.Add(1)
	return nil
}

// msgID returns the Nats-Msg-Id of m, a QoS 1/2 publish its client sent
// with packet id pid, whose NATS encoding is data (see publisher): a
// digest of the client id, pid and the PUBLISH as the client sent it.
// data is that PUBLISH unless m has a Message Expiry Interval, which
// data gives as left at sending, different for a retransmission.
func msgID(m *broker.Message, pid uint16, data []byte) (string, error) {
	if !m.Expires().IsZero() {
		pub := *m.Publish()
		pub.PacketID = 1
		var err error
		if data, err = mqtt.AppendPublish(nil, &pub, mqtt.V5); err != nil {
			return "", fmt.Errorf("encoding publish: %w", err)
		}
	}
	from := m.From()
	h := sha256.New()
	var b [10]byte
	binary.BigEndian.PutUint64(b[:8], uint64(len(from)))
	binary.BigEndian.PutUint16(b[8:], pid)
	h.Write(b[:])
	h.Write([]byte(from))
	h.Write(data)
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:18]), nil
}

// answer handles an answer of the stream (on the NATS client's goroutine
// of ackSub).
func (p *publisher) answer(msg *nats.Msg) {
	tail := msg.Subject[strings.LastIndexByte(msg.Subject, '.')+1:]
	n, err := strconv.ParseUint(tail, 10, 64)
	if err != nil {
		return
	}
	p.acks.complete(n, parseAck(msg))
}

// AfterCommit implements broker.Publisher: done runs once the local store
// committed what was queued so far (when there is one) and the stream
// answered every publish client made so far (route_acks.go: after
// client's earlier completions, and with no wait for other clients'
// publishes), with the first error.
func (p *publisher) AfterCommit(client string, done func(error)) bool {
	if !p.b.Durable() {
		p.acks.wait(client, done)
		return true
	}
	j := &join{done: done}
	j.left.Store(2)
	p.b.AfterCommit(client, j.one)
	p.acks.wait(client, j.one)
	return true
}

// join completes done once both of two completions came, with the first
// error.
type join struct {
	left atomic.Int32
	err  atomic.Pointer[error]
	done func(error)
}

func (j *join) one(err error) {
	if err != nil {
		j.err.CompareAndSwap(nil, &err)
	}
	if j.left.Add(-1) == 0 {
		var e error
		if p := j.err.Load(); p != nil {
			e = *p
		}
		j.done(e)
	}
}

// Durable implements broker.Publisher: acknowledgements wait for the
// stream.
func (p *publisher) Durable() bool { return true }

// CommitFailed implements broker.Publisher.
func (p *publisher) CommitFailed(err error) {
	if errors.Is(err, errFailed) {
		p.log.Warn("a qos 1/2 message was not stored by the cluster: its publisher is disconnected unacknowledged", zap.Error(err))
		return
	}
	p.b.CommitFailed(err)
}

// AdmitRetained implements broker.Publisher.
func (p *publisher) AdmitRetained(topic, from string, payload int) broker.QuotaKind {
	return p.b.AdmitRetained(topic, from, payload)
}

// run fails the publishes the stream does not answer in time, until ctx
// ends.
func (p *publisher) run(ctx context.Context) {
	t := time.NewTicker(ackTimeout / 10)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			p.acks.expire(now.Add(-ackTimeout))
		}
	}
}

// close waits, within ctx, for the stream's answers to what was
// published, then stops listening for them.
func (p *publisher) close(ctx context.Context) error {
	answered := make(chan struct{})
	p.acks.wait("", func(error) { close(answered) })
	var err error
	select {
	case <-answered:
	case <-ctx.Done():
		// What is still unanswered fails: its publishers are not
		// acknowledged.
		p.acks.expire(time.Now().Add(time.Hour))
		err = fmt.Errorf("waiting for the stream's acknowledgements: %w", ctx.Err())
	}
	if uerr := p.ackSub.Unsubscribe(); uerr != nil && !errors.Is(uerr, nats.ErrConnectionClosed) {
		err = errors.Join(err, fmt.Errorf("unsubscribing from stream acknowledgements: %w", uerr))
	}
	return err
}
