package backend

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"edgemq/gateway/cluster"
	"edgemq/gateway/internal/lockorder"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// Durable groups: the QoS 1/2 messages of a shared subscription group go
// to its nodes through a JetStream consumer of the group (a pull
// consumer on the messages stream, named after the group's queue,
// filtered to its filter's durable subjects), which every node with a
// member of the group pulls from. The node confirms (acknowledges) a
// message only once the member that took it need not hold it any more
// for the message to survive the node: its session's record lists the
// message (shared.go: what the claimer of a dead member's session hands
// over), or it took the message at QoS 0. A node that dies with a
// message anywhere before that (its NATS client's buffer, its socket,
// the member's gate waiting for the record write) never confirms it, and
// the consumer hands it to a node again after AckWait: the transit
// window of the queue group alone (shared.go) is closed for these
// groups. A message no member here takes any more (the group left the
// node meanwhile, or the member's session ended before its record
// listed it and no other member here took it) is refused (Nak), so that
// the consumer hands it out again at once.
//
// The group's NATS queue group stays, for QoS 0 messages and for the
// messages handed over by orphan and handOverShared: its copy of a
// stored message (the stream's republish) is dropped on a node that
// pulls from the consumer, when its sequence is at or above the first
// the consumer hands out (groupState.from: the stream's next sequence
// when the consumer was made, kept in its configuration, so that every
// node agrees on it). A node that does not pull (not bound yet, or the
// group is beyond the cap) routes the queue's copies as before: while
// another node pulls, a message may then reach two members (at least
// once), never none.
//
// The cap (SharedOptions.DurableGroups) bounds the consumers in the
// cluster, counted from the stream's consumer names before one is made:
// a consumer is a replicated JetStream object, and a group per client
// ("$share/{client id}/...") must not become a consumer per session
// (issue 15's rule). A group beyond it goes through its queue group
// alone, and its node asks again every capRetry. A consumer no node
// pulls from for idleGroupTTL is deleted by JetStream; one still there
// hands a member that joins within that time what was published
// meanwhile.
//
// What is left: a node that dies after a record write listed a message
// and before its acknowledgement reached the consumer leaves both the
// record (handed over by the claimer) and the consumer (after AckWait)
// to deliver it: twice, to two members (at least once).

// SharedOptions configure the durable groups (configs.ClusterShared).
type SharedOptions struct {
	// DurableGroups caps the groups with a consumer in the cluster; 0:
	// none.
	DurableGroups int
	// AckWait is how long a consumer waits for a node's confirmation
	// before it hands the message out again.
	AckWait time.Duration
}

// DefaultSharedOptions returns those of the default configuration.
func DefaultSharedOptions() SharedOptions {
	return SharedOptions{DurableGroups: 100, AckWait: 30 * time.Second}
}

const (
	// capRetry is how often a node asks again for a consumer of a group
	// that was beyond the cap, or whose consumer could not be had.
	capRetry = 10 * time.Second
	// idleGroupTTL is how long a consumer no node pulls from lives on.
	idleGroupTTL = 5 * time.Minute
	// groupPullBatch is how many messages a node asks a consumer for at
	// a time.
	groupPullBatch = 64
	// groupMaxPending bounds the messages a consumer has handed out and
	// not had confirmed, over all its nodes.
	groupMaxPending = 10000
	// heldLeases is how many AckWaits a node keeps a message's lease
	// alive while its member's record does not list it.
	heldLeases = 4
	// groupAPITimeout bounds each JetStream API call of a group.
	groupAPITimeout = 5 * time.Second
	// drainWait bounds how long a pull that stops hands out what it
	// buffered.
	drainWait = 2 * time.Second
)

// errGroupCap: the cluster has as many group consumers as the cap allows.
var errGroupCap = errors.New("the cluster has its cap of shared subscription group consumers")

// groupState is a group this node has members of, as ingress reads it.
type groupState struct {
	key groupKey
	// from is the first stream sequence the group's consumer hands out,
	// while this node pulls from it; 0 otherwise.
	from atomic.Uint64
}

// dropsCopy reports whether the queue's copy msg of a stored message
// (its stream sequence seq) is the consumer's to hand out.
func (g *groupState) dropsCopy(msg *nats.Msg, seq uint64) bool {
	from := g.from.Load()
	return from != 0 && seq >= from && strings.HasPrefix(msg.Subject, cluster.LivePrefix)
}

// groupPull is this node's pulling from one group's consumer.
type groupPull struct {
	st       *groupState
	q        string
	subjects []string // the consumer's filter: durable subjects
	stop     context.CancelFunc
}

// heldMsg is a message a consumer handed this node and that waits for
// its member's record (or a refusal).
type heldMsg struct {
	msg jetstream.Msg
	at  time.Time
}

// durableGroups pulls the group consumers of this node's groups and
// confirms what they hand out.
type durableGroups struct {
	be     *Backend
	stream jetstream.Stream
	o      SharedOptions
	log    *zap.Logger

	mu     lockorder.Mutex[groupsMu]
	pulls  map[groupKey]*groupPull // the applier's joins and leaves
	held   map[uint64]heldMsg      // by stream sequence
	closed bool
	wg     sync.WaitGroup
}

func newDurableGroups(be *Backend, stream jetstream.Stream, o SharedOptions) *durableGroups {
	return &durableGroups{be: be, stream: stream, o: o, log: be.log, pulls: map[groupKey]*groupPull{}, held: map[uint64]heldMsg{}}
}

// join starts pulling from the consumer of group k, whose live subjects
// are subjects, and returns its state for ingress. It binds the consumer
// first, within interestWait, so that the node drops the queue's
// copies of what the consumer hands out from the start (its interest
// applier calls it before it subscribes to the group's queue); when that
// fails, the node routes the queue's copies until a later bind.
func (d *durableGroups) join(k groupKey, q string, subjects []string) *groupState {
	st := &groupState{key: k}
	if d.o.DurableGroups <= 0 {
		return st
	}
	durable := make([]string, len(subjects))
	for i, s := range subjects {
		durable[i] = cluster.DurablePrefix + strings.TrimPrefix(s, cluster.LivePrefix)
	}
	ctx, stop := context.WithCancel(context.Background())
	gp := &groupPull{st: st, q: q, subjects: durable, stop: stop}
	cons, from, err := d.bind(ctx, gp, interestWait)
	if err == nil {
		st.from.Store(from)
	}
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		stop()
		return st
	}
	d.pulls[k] = gp // the applier joins a group only after it left
	d.wg.Add(1)
	d.mu.Unlock()
	go func() {
		defer d.wg.Done()
		d.pull(ctx, gp, cons, err)
	}()
	return st
}

// leave stops pulling from the consumer of group k; what the pull holds
// is handed to the group (or refused) first. It never blocks.
func (d *durableGroups) leave(k groupKey) {
	d.mu.Lock()
	gp := d.pulls[k]
	delete(d.pulls, k)
	d.mu.Unlock()
	if gp != nil {
		gp.st.from.Store(0)
		gp.stop()
	}
}

// close stops every pull and waits for them.
func (d *durableGroups) close() {
	d.mu.Lock()
	d.closed = true
	for k, gp := range d.pulls {
		gp.stop()
		delete(d.pulls, k)
	}
	d.mu.Unlock()
	d.wg.Wait()
}

// pull hands out what gp's consumer delivers until ctx ends, binding it
// (again) when cons is nil or the pull fails; err is why join could not
// bind it.
func (d *durableGroups) pull(ctx context.Context, gp *groupPull, cons jetstream.Consumer, err error) {
	capped := false // logged once
	for ctx.Err() == nil {
		if cons == nil {
			var from uint64
			if err == nil {
				cons, from, err = d.bind(ctx, gp, groupAPITimeout)
			}
			if err != nil {
				if ctx.Err() == nil && !(capped && errors.Is(err, errGroupCap)) {
					capped = errors.Is(err, errGroupCap)
					d.log.Info("a shared subscription group has no consumer; its queue group hands out its messages meanwhile",
						zap.String("queue", gp.q), zap.Error(err))
				}
				err = nil
				wait(ctx, capRetry)
				continue
			}
			gp.st.from.Store(from)
		}
		err = d.consume(ctx, gp, cons)
		gp.st.from.Store(0)
		cons = nil
		if ctx.Err() == nil {
			d.log.Info("pulling from a shared subscription group's consumer stopped; binding again", zap.String("queue", gp.q), zap.Error(err))
			err = nil
			wait(ctx, time.Second)
		}
	}
}

// wait returns after d or when ctx ends.
func wait(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// bind returns gp's consumer, made when the cluster has fewer than the
// cap, and the first stream sequence it hands out, within timeout.
func (d *durableGroups) bind(ctx context.Context, gp *groupPull, timeout time.Duration) (jetstream.Consumer, uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cons, err := d.stream.Consumer(ctx, gp.q)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		cons, err = d.create(ctx, gp)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("binding group consumer %s: %w", gp.q, err)
	}
	cfg := cons.CachedInfo().Config
	from := uint64(1)
	if cfg.DeliverPolicy == jetstream.DeliverByStartSequencePolicy {
		from = max(cfg.OptStartSeq, 1)
	}
	return cons, from, nil
}

// create makes gp's consumer, starting at the stream's next sequence,
// unless the cluster has its cap of them.
func (d *durableGroups) create(ctx context.Context, gp *groupPull) (jetstream.Consumer, error) {
	n := 0
	names := d.stream.ConsumerNames(ctx)
	for name := range names.Name() {
		if strings.HasPrefix(name, queuePrefix) {
			n++
		}
	}
	if err := names.Err(); err != nil {
		return nil, fmt.Errorf("counting group consumers: %w", err)
	}
	if n >= d.o.DurableGroups {
		return nil, errGroupCap
	}
	info, err := d.stream.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the messages stream: %w", err)
	}
	cons, err := d.stream.CreateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:           gp.q,
		Description:       "edgemq shared subscription group: its QoS 1/2 messages, each to one node",
		FilterSubjects:    gp.subjects,
		DeliverPolicy:     jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:       info.State.LastSeq + 1,
		AckPolicy:         jetstream.AckExplicitPolicy,
		AckWait:           d.o.AckWait,
		MaxDeliver:        -1,
		MaxAckPending:     groupMaxPending,
		InactiveThreshold: idleGroupTTL,
	})
	if errors.Is(err, jetstream.ErrConsumerExists) {
		return d.stream.Consumer(ctx, gp.q) // another node made it first
	}
	return cons, err
}

// consume hands out what cons delivers until ctx ends (then what it
// buffered) or the pull fails.
func (d *durableGroups) consume(ctx context.Context, gp *groupPull, cons jetstream.Consumer) error {
	it, err := cons.Messages(jetstream.PullMaxMessages(groupPullBatch))
	if err != nil {
		return fmt.Errorf("pulling from group consumer %s: %w", gp.q, err)
	}
	// Drained, not stopped: what it buffered is refused at once (the
	// group left) instead of waiting out AckWait; within drainWait, so
	// that a node whose link is down does not wait for its server.
	hard, abandon := context.WithCancel(context.Background())
	defer abandon()
	stop := context.AfterFunc(ctx, func() {
		it.Drain()
		time.AfterFunc(drainWait, abandon)
	})
	defer stop()
	defer it.Stop()
	for {
		msg, err := it.Next(jetstream.NextContext(hard))
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("pulling from group consumer %s: %w", gp.q, err)
		}
		d.take(gp.st, msg, time.Now())
	}
}

// take hands msg, from the consumer of group st, to a member here.
func (d *durableGroups) take(st *groupState, msg jetstream.Msg, now time.Time) {
	md, err := msg.Metadata()
	if err != nil {
		_ = msg.Term()
		return
	}
	seq := md.Sequence.Stream
	nm := &nats.Msg{Subject: msg.Subject(), Header: msg.Headers(), Data: msg.Data()}
	m, err := decodeMessage(nm, now)
	if err != nil {
		d.be.ing.undecodable(nm, err)
		_ = msg.Term()
		return
	}
	m.SetSeq(seq)
	if md.NumDelivered > 1 {
		d.be.counters.GroupRedelivered.Add(1)
	}
	// Held before it is routed: the member's record write may list it
	// before RouteGroupOwed returns.
	d.mu.Lock()
	d.held[seq] = heldMsg{msg: msg, at: now}
	d.mu.Unlock()
	taken, owed := d.be.b.RouteGroupOwed(st.key.share, st.key.filter, m, now)
	switch {
	case !taken:
		d.be.counters.Unroutable.Add(1)
		if h, ok := d.release(seq); ok {
			_ = h.msg.Nak()
		}
	case !owed:
		d.be.counters.Received.Add(1)
		if h, ok := d.release(seq); ok {
			_ = h.msg.Ack()
		}
	default:
		d.be.counters.Received.Add(1)
	}
}

// release removes and returns the held message of sequence seq.
func (d *durableGroups) release(seq uint64) (heldMsg, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	h, ok := d.held[seq]
	if ok {
		delete(d.held, seq)
	}
	return h, ok
}

// recorded confirms the held messages a member's record now lists.
func (d *durableGroups) recorded(list []cluster.RecordShared) {
	var acks []jetstream.Msg
	d.mu.Lock()
	for _, o := range list {
		if h, ok := d.held[o.Seq]; ok {
			delete(d.held, o.Seq)
			acks = append(acks, h.msg)
		}
	}
	d.mu.Unlock()
	for _, msg := range acks {
		_ = msg.Ack()
	}
}

// refuse hands the held message of sequence seq back to its consumer,
// which gives it to a node again; it reports whether one was held.
func (d *durableGroups) refuse(seq uint64) bool {
	if seq == 0 {
		return false
	}
	h, ok := d.release(seq)
	if ok {
		_ = h.msg.Nak()
	}
	return ok
}

// run keeps the leases of held messages alive (InProgress) until ctx
// ends, up to heldLeases AckWaits; beyond, the consumer hands the
// message out again.
func (d *durableGroups) run(ctx context.Context) {
	if d.o.DurableGroups <= 0 {
		return
	}
	every := d.o.AckWait / 4
	t := time.NewTicker(every)
	defer t.Stop()
	var renew []jetstream.Msg
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			renew = renew[:0]
			d.mu.Lock()
			for seq, h := range d.held {
				switch age := now.Sub(h.at); {
				case age > heldLeases*d.o.AckWait:
					delete(d.held, seq)
				case age >= every:
					renew = append(renew, h.msg)
				}
			}
			d.mu.Unlock()
			for _, msg := range renew {
				_ = msg.InProgress()
			}
		}
	}
}
