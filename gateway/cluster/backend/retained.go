package backend

import (
	"bytes"
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"edgemq/gateway/broker"
	"edgemq/gateway/cluster"
	"edgemq/gateway/internal/lockorder"
	"edgemq/gateway/logsafe"
	"edgemq/mqtt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// RetainedStore is what Retained needs of the node's broker: the local
// retained messages (*broker.Broker). Each takes the retained store's
// lock alone; the caller holds none of ours.
type RetainedStore interface {
	StoreRetained(m *broker.Message) bool
	RemoveRetained(topic string) bool
	RetainedLookup(topic string) *broker.Message
	RetainedTopics() []string
}

var _ RetainedStore = (*broker.Broker)(nil)

// Retained makes retained messages cluster-wide. A retained PUBLISH
// routed on this node (Publisher's RouteAt) is stored in the broker as on
// one node and also in the retained stream (its value EncodeRetained,
// empty to delete), and its completion (AfterCommit) waits for the
// stream's acknowledgement. Every node mirrors the stream into its
// broker (cluster.RetainedMirror), so that a
// subscription finds every retained message locally and pages through
// them as on one node, and a deletion reaches every node.
//
// A topic's state on every node is the stream's last message of it. A
// node applies its own messages as they come back too (another node may
// have written between), except one older than a newer local write still
// on its way: the node never goes back to its own older value.
//
// Concurrency: RouteAt and AfterCommit from any goroutine; the mirror's
// entries on its goroutine (Run's). Locks: clusterRetained.pubMu
// orders the stream publishes (taken under the publisher's store group,
// bolt.DB.gate, and nothing under it); clusterRetained.waitMu guards
// the completions' waiters (AfterCommit, also inside the store group,
// or under engine.order for a SUBACK).
// Neither is held while calling the
// broker or a completion.
type Retained struct {
	js   jetstream.JetStream
	node string
	b    RetainedStore
	log  *zap.Logger

	pubMu lockorder.Mutex[retainedPubMu]
	// seq numbers this node's retained messages (the Emq-Origin-Seq
	// header); pending holds, per topic, the number of the latest one
	// whose copy has not come back through the mirror. Both guarded by
	// pubMu.
	seq     uint64
	pending map[string]uint64
	// acks carries each publish's acknowledgement, in publish order, to
	// ackLoop; sends are made under pubMu.
	acks chan retainedAck
	// issued counts the publishes sent (written under pubMu, read
	// anywhere); acked those ackLoop has seen complete.
	issued, acked atomic.Uint64

	waitMu  lockorder.Mutex[retainedWaitMu]
	waiters []retainedWaiter // guarded by waitMu

	// mirror follows the stream into b.
	mirror *cluster.RetainedMirror
	// seen holds the topics the mirror read in a full read (nil
	// between them), for the reconciliation at its end; only the
	// mirror's goroutine uses it.
	seen map[string]struct{}
	// readTo is the stream sequence a full read got to: the position
	// moves there only at its end, once the topics it did not bring
	// are dropped (a SUBSCRIBE must not see one the cluster deleted).
	// The mirror's goroutine's own.
	readTo uint64
	// mirrored is the stream sequence of the last entry the mirror
	// handed over; synced is set once it has read the whole stream.
	mirrored atomic.Uint64
	synced   atomic.Bool
	// moved is closed, and replaced, each time mirrored moves on.
	moved atomic.Pointer[chan struct{}]
	// lastSeqs carries WaitMirrored's asks to lastSeqLoop.
	lastSeqs chan lastSeqAsk
	// wait bounds a SUBSCRIBE's wait for the mirror (mirroredWait);
	// deleteTTL is how long the stream keeps a deletion (deleteTTL).
	wait, deleteTTL time.Duration

	// Tests' hooks, nil otherwise: hold is called on the mirror's
	// goroutine with each entry before it is applied (a test holds the
	// mirror back there); targeted with each target WaitMirrored got.
	hold     func(cluster.RetainedEntry)
	targeted func(uint64)

	// Counters for the metrics.
	stored, applied, failed, refused atomic.Int64
}

type retainedAck struct {
	n   uint64
	f   jetstream.PubAckFuture // nil when the publish failed at once
	err error
}

type retainedWaiter struct {
	target uint64
	err    error
	done   func(error)
}

type (
	retainedPubMu  struct{}
	retainedWaitMu struct{}
)

func (retainedPubMu) LockClass() string  { return "clusterRetained.pubMu" }
func (retainedWaitMu) LockClass() string { return "clusterRetained.waitMu" }

// deleteTTL is how long the retained stream keeps the empty message that
// deletes a topic (its Nats-TTL): every node mirroring then applies it,
// and a node that was away longer learns of the deletion by the topic's
// absence when it reads the stream in full again (reconcile), which it
// does when it starts and each time its link to NATS comes back. So the
// stream holds no more deletions than a day's, instead of one per topic
// ever deleted.
const deleteTTL = 24 * time.Hour

// retainedAckTimeout bounds the wait for the stream's acknowledgement of
// one retained message; past it the completion fails and the message is
// not acknowledged to its publisher.
const retainedAckTimeout = 10 * time.Second

// NewRetained returns the cluster-wide retained messages of node, stored
// through nc's JetStream and mirrored into b. Run must run for
// completions to complete.
func NewRetained(nc *nats.Conn, node string, b RetainedStore, log *zap.Logger) (*Retained, error) {
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncTimeout(retainedAckTimeout))
	if err != nil {
		return nil, fmt.Errorf("starting the retained messages: %w", err)
	}
	r := &Retained{js: js, node: node, b: b, log: log, pending: map[string]uint64{},
		acks: make(chan retainedAck, 4096), lastSeqs: make(chan lastSeqAsk),
		wait: mirroredWait, deleteTTL: deleteTTL}
	r.mirror = cluster.NewRetainedMirror(js, mirrorHandler{r}, log)
	moved := make(chan struct{})
	r.moved.Store(&moved)
	return r, nil
}

// Run mirrors the stream into the broker and completes the publishes'
// completions until ctx ends; it returns nil then.
func (r *Retained) Run(ctx context.Context) error {
	go r.ackLoop(ctx)
	go r.lastSeqLoop(ctx)
	return r.mirror.Run(ctx)
}

// Caught reports whether the mirror has read the whole stream once.
func (r *Retained) Caught() bool { return r.synced.Load() }

// Mirrored returns the stream sequence of the last message mirrored.
func (r *Retained) Mirrored() uint64 { return r.mirrored.Load() }

// publish stores m (retained) in the stream. It takes pubMu.
func (r *Retained) publish(m *broker.Message) {
	p := m.Publish()
	v, err := cluster.EncodeRetained(p, m.From())
	r.pubMu.Lock()
	defer r.pubMu.Unlock()
	n := r.issued.Load() + 1
	r.issued.Store(n)
	if err != nil {
		r.acks <- retainedAck{n: n, err: err}
		return
	}
	r.seq++
	r.pending[p.Topic] = r.seq
	h := cluster.RetainedHeader(r.node, r.seq)
	if ttl := r.ttl(p); ttl > 0 {
		h.Set(jetstream.MsgTTLHeader, ttl.String())
	}
	f, err := r.js.PublishMsgAsync(&nats.Msg{Subject: cluster.RetainedSubject(p.Topic), Data: v, Header: h})
	if err != nil {
		err = fmt.Errorf("storing retained message: %w", err)
	}
	r.acks <- retainedAck{n: n, f: f, err: err}
}

// ttl returns how long the stream keeps p (0: until replaced): a
// deletion for deleteTTL; a message with a Message Expiry Interval for
// that interval, after which no node delivers it anyway [MQTT-3.3.2-5]
// (at least a second, the stream's unit).
func (r *Retained) ttl(p *mqtt.Publish) time.Duration {
	if len(p.Payload) == 0 {
		return r.deleteTTL
	}
	if p.Properties.Has(mqtt.PropMessageExpiryInterval) {
		return time.Duration(max(p.Properties.MessageExpiryInterval, 1)) * time.Second
	}
	return 0
}

// ackLoop waits for each publish's acknowledgement in publish order and
// completes the waiters whose publishes are all acknowledged.
func (r *Retained) ackLoop(ctx context.Context) {
	for {
		var a retainedAck
		select {
		case <-ctx.Done():
			r.failWaiters(fmt.Errorf("storing retained message: %w", ctx.Err()))
			return
		case a = <-r.acks:
		}
		err := a.err
		if a.f != nil {
			select {
			case <-a.f.Ok():
			case e := <-a.f.Err():
				err = fmt.Errorf("storing retained message: %w", e)
			case <-ctx.Done():
				err = fmt.Errorf("storing retained message: %w", ctx.Err())
			}
		}
		if err != nil {
			r.failed.Add(1)
			r.log.Warn("storing a retained message in the cluster failed", zap.Error(err))
		} else {
			r.stored.Add(1)
		}
		r.acked.Store(a.n)
		r.complete(a.n, err)
	}
}

// after calls done once every publish issued so far is acknowledged,
// with the first error among them.
func (r *Retained) after(done func(error)) {
	target := r.issued.Load()
	r.waitMu.Lock()
	if r.acked.Load() >= target {
		r.waitMu.Unlock()
		done(nil)
		return
	}
	r.waiters = append(r.waiters, retainedWaiter{target: target, done: done})
	r.waitMu.Unlock()
}

// complete records publish n's outcome: waiters up to n are done.
func (r *Retained) complete(n uint64, err error) {
	var ready []retainedWaiter
	r.waitMu.Lock()
	kept := r.waiters[:0]
	for _, w := range r.waiters {
		if err != nil && w.err == nil {
			w.err = err
		}
		if w.target <= n {
			ready = append(ready, w)
		} else {
			kept = append(kept, w)
		}
	}
	clear(r.waiters[len(kept):])
	r.waiters = kept
	r.waitMu.Unlock()
	for _, w := range ready {
		w.done(w.err)
	}
}

func (r *Retained) failWaiters(err error) {
	r.waitMu.Lock()
	ws := r.waiters
	r.waiters = nil
	r.waitMu.Unlock()
	for _, w := range ws {
		w.done(err)
	}
}

// mirrorHandler is Retained as the mirror calls it.
type mirrorHandler struct{ r *Retained }

func (h mirrorHandler) Reading()                      { h.r.seen = map[string]struct{}{} }
func (h mirrorHandler) Entry(e cluster.RetainedEntry) { h.r.entry(e) }
func (h mirrorHandler) Synced(at uint64) {
	to := max(at, h.r.readTo)
	h.r.reconcile()
	h.r.advance(to)
}

// handed records that the mirror applied stream sequence seq: the
// position moves now, or at the end of a full read under way.
func (r *Retained) handed(seq uint64) {
	if r.seen != nil {
		r.readTo = max(r.readTo, seq)
		return
	}
	r.advance(seq)
}

// entry applies the topic's latest
// state to the broker.
func (r *Retained) entry(e cluster.RetainedEntry) {
	if r.hold != nil {
		r.hold(e)
	}
	defer r.handed(e.Sequence)
	if e.Origin == r.node {
		r.pubMu.Lock()
		latest, ok := r.pending[e.Topic]
		if ok && latest == e.OriginSeq {
			delete(r.pending, e.Topic)
		}
		r.pubMu.Unlock()
		if ok && latest > e.OriginSeq {
			return // a newer local write of the topic is on its way
		}
	}
	if r.seen != nil {
		r.seen[e.Topic] = struct{}{}
	}
	if e.Deleted() {
		if r.b.RemoveRetained(e.Topic) {
			r.applied.Add(1)
		}
		return
	}
	pub, from, err := cluster.DecodeRetained(e.Value)
	if err != nil {
		r.log.Warn("undecodable retained message in the stream, skipped", logsafe.String("topic", e.Topic), zap.Error(err))
		return
	}
	now := time.Now()
	if pub.Properties.Has(mqtt.PropMessageExpiryInterval) {
		// The interval runs from when the stream stored it [MQTT-3.3.2-5].
		left := time.Duration(pub.Properties.MessageExpiryInterval)*time.Second - now.Sub(e.Stored)
		if left <= 0 {
			r.b.RemoveRetained(e.Topic)
			return
		}
		pub.Properties.SetUint32(mqtt.PropMessageExpiryInterval, uint32((left+time.Second-1)/time.Second))
	}
	if same(r.b.RetainedLookup(e.Topic), pub, from) {
		// Already held (this node's own, or restored from its store): not
		// stored again, which would renumber it for the retained cursors
		// walking now.
		return
	}
	if r.b.StoreRetained(broker.NewMessage(pub, from, now)) {
		r.applied.Add(1)
	}
}

// same reports whether the broker's message cur is pub from from.
func same(cur *broker.Message, pub *mqtt.Publish, from string) bool {
	if cur == nil {
		return false
	}
	c := cur.Publish()
	return c.QoS == pub.QoS && cur.From() == from && bytes.Equal(c.Payload, pub.Payload) &&
		c.Properties.Has(mqtt.PropMessageExpiryInterval) == pub.Properties.Has(mqtt.PropMessageExpiryInterval) &&
		len(c.Properties.UserProperties) == len(pub.Properties.UserProperties) &&
		c.Properties.ContentType == pub.Properties.ContentType &&
		c.Properties.ResponseTopic == pub.Properties.ResponseTopic &&
		bytes.Equal(c.Properties.CorrelationData, pub.Properties.CorrelationData)
}

// reconcile runs when the mirror has read the whole stream: a topic the
// broker holds that the stream does not (deleted while this node was
// away or cut off, its deletion perhaps expired from the stream since,
// or stored locally but never in the stream) is dropped, unless a local
// write of it is on its way.
func (r *Retained) reconcile() {
	seen := r.seen
	r.seen, r.readTo = nil, 0
	r.synced.Store(true)
	var stale []string
	topics := r.b.RetainedTopics()
	r.pubMu.Lock()
	for _, t := range topics {
		_, ok := seen[t]
		_, local := r.pending[t]
		if !ok && !local {
			stale = append(stale, t)
		}
	}
	r.pubMu.Unlock()
	for _, t := range stale {
		r.b.RemoveRetained(t)
	}
	r.log.Info("retained messages mirrored", zap.Int("topics", len(seen)), zap.Int("dropped", len(stale)))
}

// RetainedStats are Retained's counters since start.
type RetainedStats struct {
	// Stored counts this node's retained messages the stream
	// acknowledged, Failed those it did not; Applied the changes the
	// mirror made to the local store; Refused the SUBSCRIBEs refused
	// because the mirror was behind (retained_wait.go).
	Stored, Failed, Applied, Refused int64
}

// Stats returns the counters.
func (r *Retained) Stats() RetainedStats {
	return RetainedStats{Stored: r.stored.Load(), Failed: r.failed.Load(), Applied: r.applied.Load(), Refused: r.refused.Load()}
}

// retainedPublisher stores retained messages in the stream too.
type retainedPublisher struct {
	broker.Publisher
	r *Retained
}

// WithRetained returns next, storing every retained message it routes in
// the cluster's retained stream as well, and completing (AfterCommit)
// only once the stream acknowledged the retained messages routed before:
// a retained QoS 1 or 2 PUBLISH is acknowledged once the cluster stored
// it.
func WithRetained(next broker.Publisher, r *Retained) broker.Publisher {
	return retainedPublisher{Publisher: next, r: r}
}

// RouteAt implements broker.Publisher.
func (p retainedPublisher) RouteAt(m *broker.Message, buf *[]broker.Match, now time.Time) int {
	if m.Publish().Retain {
		p.r.publish(m)
	}
	return p.Publisher.RouteAt(m, buf, now)
}

// Durable implements broker.Publisher.
func (p retainedPublisher) Durable() bool { return true }

// AfterCommit implements broker.Publisher: done runs when both the
// stream and next have committed, with the first error.
func (p retainedPublisher) AfterCommit(client string, done func(error)) bool {
	if !p.Publisher.Durable() {
		p.r.after(done)
		return true
	}
	var left atomic.Int32
	left.Store(2)
	var first atomic.Pointer[error]
	part := func(err error) {
		if err != nil {
			first.CompareAndSwap(nil, &err)
		}
		if left.Add(-1) == 0 {
			var err error
			if e := first.Load(); e != nil {
				err = *e
			}
			done(err)
		}
	}
	if !p.Publisher.AfterCommit(client, part) {
		part(nil)
	}
	p.r.after(part)
	return true
}
