package backend

// A SUBSCRIBE and the retained mirror. The node's broker holds the
// cluster's retained messages as far as the mirror applied them, and a
// retained delivery skips what is stored in the broker after it started
// (that went live: broker/retained_cursor.go). A retained message the
// cluster stored before a SUBSCRIBE but the mirror had not applied yet
// would be skipped, neither retained nor live. So the SUBSCRIBE first
// learns how far the stream is (target) and waits, with no lock held and
// routing going on, until the mirror applied that far: from then on every
// retained message stored in the cluster before it is in the broker, and
// is delivered as retained [MQTT-3.3.1-9] (3.1.1: [MQTT-3.3.1-6]); one
// stored later reaches the subscription live, through the interest the
// SUBSCRIBE registers. The mirror's position only grows, so the wait's
// answer still holds inside Subscribing. If the mirror cannot get there in
// time (mirroredWait), or the stream cannot be asked, the SUBSCRIBE is
// refused (DISCONNECT Server busy, 0x89) rather than served without
// retained messages the cluster has: the client comes back, to this node
// or another.
//
// The target is the newest message the stream holds, read from its
// leader: not the stream's last sequence, whose message may be gone (a
// deletion whose time ran out, backend/retained.go), nor a replica's or
// the mirror's consumer's view, which may be behind.
//
// What is left: a retained message another node stores while the
// SUBSCRIBE is under way (after the target was read, before the new
// interest reached that node's NATS server, which NATS spreads
// asynchronously) comes neither live (no interest there yet) nor as
// retained when the mirror applies it after the retained delivery
// started (taken for live): the window of live messages published while
// a subscription's interest spreads, here for a retained one. Closing it
// needs the broker to deliver such a late entry to the subscriptions it
// missed, unless their live copy came (matched by origin); not done.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"edgemq/gateway/broker"
	"edgemq/gateway/cluster"
	"edgemq/mqtt"

	"go.uber.org/zap"
)

// errMirrorBehind is the cause of a SUBSCRIBE refused for want of the
// retained mirror.
var errMirrorBehind = errors.New("the retained mirror is behind the cluster")

// advance records that the mirror handed over stream sequence seq, once
// applied, and wakes WaitMirrored. The position never goes back (a full
// read after a lost link hands over older sequences again).
func (r *Retained) advance(seq uint64) {
	for {
		cur := r.mirrored.Load()
		if seq <= cur {
			return
		}
		if r.mirrored.CompareAndSwap(cur, seq) {
			break
		}
	}
	next := make(chan struct{})
	close(*r.moved.Swap(&next))
}

// WaitMirrored waits until the mirror has applied every message the
// retained stream held when it was called, or ctx ends: a subscription
// made then finds in the local store every retained message stored
// before it, whichever node stored it. It fails when the stream cannot
// be asked or ctx ends first.
func (r *Retained) WaitMirrored(ctx context.Context) error {
	ask := lastSeqAsk{answer: make(chan lastSeqAnswer, 1)}
	var a lastSeqAnswer
	select {
	case r.lastSeqs <- ask:
	case <-ctx.Done():
		return fmt.Errorf("waiting for the retained mirror: %w", ctx.Err())
	}
	select {
	case a = <-ask.answer:
	case <-ctx.Done():
		return fmt.Errorf("waiting for the retained mirror: %w", ctx.Err())
	}
	if a.err != nil {
		return fmt.Errorf("waiting for the retained mirror: %w", a.err)
	}
	if r.targeted != nil {
		r.targeted(a.seq)
	}
	for {
		moved := *r.moved.Load()
		if r.mirrored.Load() >= a.seq {
			return nil
		}
		select {
		case <-moved:
		case <-ctx.Done():
			return fmt.Errorf("waiting for the retained mirror at %d of %d: %w", r.mirrored.Load(), a.seq, ctx.Err())
		}
	}
}

// lastSeqAsk asks lastSeqLoop for the mirror's target, read after the
// ask arrived.
type lastSeqAsk struct {
	answer chan lastSeqAnswer
}

type lastSeqAnswer struct {
	seq uint64
	err error
}

// lastSeqLoop answers WaitMirrored's asks, all those waiting with one
// stream read made after they arrived: a storm of SUBSCRIBEs costs one
// JetStream request at a time (two when the mirror is behind), not one
// each.
func (r *Retained) lastSeqLoop(ctx context.Context) {
	for {
		var asks []lastSeqAsk
		select {
		case <-ctx.Done():
			return
		case a := <-r.lastSeqs:
			asks = append(asks, a)
		}
		for more := true; more; {
			select {
			case a := <-r.lastSeqs:
				asks = append(asks, a)
			default:
				more = false
			}
		}
		rctx, cancel := context.WithTimeout(ctx, r.wait)
		var ans lastSeqAnswer
		ans.seq, ans.err = r.target(rctx)
		cancel()
		for _, a := range asks {
			a.answer <- ans
		}
	}
}

// target returns the stream sequence the mirror must reach to hold every
// retained message stored before the call: the stream's last sequence
// when the mirror is there already (the usual case: one request, no
// message body), else the newest message the stream still holds.
func (r *Retained) target(ctx context.Context) (uint64, error) {
	s, err := r.js.Stream(ctx, cluster.RetainedStream)
	if err != nil {
		return 0, fmt.Errorf("reading the retained stream's state: %w", err)
	}
	if last := s.CachedInfo().State.LastSeq; r.mirrored.Load() >= last {
		return last, nil
	}
	return cluster.LastRetainedSeq(ctx, r.js.Conn())
}

// mirroredWait bounds how long a SUBSCRIBE waits for the retained mirror
// to catch up; past it the SUBSCRIBE is refused. The mirror is usually
// milliseconds behind; a second was too short on a loaded 2-core machine
// just after the cluster formed (the stream read alone took longer), and
// the wait delays only this client's SUBACK (it runs before Subscribing,
// with no lock held and routing going on).
const mirroredWait = 5 * time.Second

// retainedSubscriptions makes a subscription wait for the mirror.
type retainedSubscriptions struct {
	broker.Subscriptions
	r *Retained
}

// WithMirroredRetained returns next, whose Subscribing first waits (up to
// mirroredWait) for the retained mirror to hold every retained message the
// cluster stored before it: a retained message set on another node just
// before a SUBSCRIBE here is delivered as retained. When the mirror does
// not get there in time Subscribing fails with Server busy, running
// nothing.
func WithMirroredRetained(next broker.Subscriptions, r *Retained) broker.Subscriptions {
	return retainedSubscriptions{Subscriptions: next, r: r}
}

// Subscribing implements broker.Subscriptions.
func (s retainedSubscriptions) Subscribing(fn func() error) error {
	ctx, cancel := context.WithTimeout(context.Background(), s.r.wait)
	err := s.r.WaitMirrored(ctx)
	cancel()
	if err != nil {
		s.r.refused.Add(1)
		s.r.log.Warn("refusing a subscribe: the retained mirror is behind the cluster", zap.Error(err))
		// 3.14.2.1: the server cannot process the client's request now.
		return mqtt.Errorf(mqtt.ServerBusy, "", "%v: %v", errMirrorBehind, err)
	}
	return s.Subscriptions.Subscribing(fn)
}
