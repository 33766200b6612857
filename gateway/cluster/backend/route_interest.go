package backend

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"edgemq/gateway/cluster"
	"edgemq/gateway/internal/lockorder"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
)

// Interest-based routing: the node subscribes to the NATS subjects of the
// filters its sessions hold (cluster.FilterSubjects), and only those, so
// that a message crosses to a node only when one of its sessions may
// want it; NATS spreads the interest between its servers.
//
// The broker tells of each filter's first subscription and its last
// going (broker.Interest) under router.mu: the calls only queue an event.
// One goroutine (run) applies the events in order: a subject's NATS
// subscription is reference-counted over the filters that map to it (a/#
// and a both need "a"), made on the first and dropped on the last, then
// the connection is flushed, so that the node's own NATS server has the
// interest: only then is a SUBACK sent (subscriptions.RetainedSeq waits
// for it). A shared subscription group has its own queue subscriptions,
// one NATS queue group per (share name, filter), so that each message
// goes to one member in the whole cluster (shared.go).

// interestWait bounds how long a SUBSCRIBE waits for its interest to
// reach the node's NATS server (a flush takes well under a millisecond on
// a healthy link); beyond, SUBACK goes anyway: the node's routing is
// stopped while it waits, and nats.go makes the subscriptions again
// when it reconnects.
const interestWait = 2 * time.Second

// flushRetry is the pause between flushes while the link is down.
const flushRetry = 100 * time.Millisecond

// dropCheck is how often the applier reads how many messages the NATS
// client dropped because ingress fell behind (Counters.Overflowed).
const dropCheck = 5 * time.Second

// interestEvent is one change the broker told of: a filter's plain
// subscriptions (share empty) or a shared group's members; or (orphan
// set) a message for a shared group to hand to a member elsewhere, once
// the changes before it are flushed (shared.go).
type interestEvent struct {
	added         bool
	share, filter string
	orphan        *nats.Msg
}

// interest implements broker.Interest over NATS subscriptions.
type interest struct {
	nc       *nats.Conn
	ing      *ingress
	dur      *durableGroups // the groups' consumers (shared_durable.go)
	log      *zap.Logger
	counters *Counters

	mu lockorder.Mutex[interestMu]
	// events wait for the applier; queued counts every event ever
	// queued, applied those applied and flushed; changed is closed (and
	// replaced) whenever applied grows; closed stops new subscriptions.
	events  []interestEvent
	queued  uint64
	applied uint64
	changed chan struct{}
	closed  bool
	wake    chan struct{} // one token: events are waiting

	// The applier's own (run, close after run ended).
	plain  map[string]*subRef                // subject → its subscription (route_cover.go)
	groups map[groupKey][]*nats.Subscription // group → its queue subscriptions
	// tree holds plain's subjects by token (route_cover.go).
	tree subjTree
	// dropped is how many messages the NATS client dropped for the
	// subscriptions dropped since, and counted is how many were counted.
	dropped, counted int64
}

// subRef is a subject with the number of filters needing it, and its NATS
// subscription: nil while another subscribed subject covers it
// (route_cover.go).
type subRef struct {
	sub  *nats.Subscription
	refs int
}

// groupKey is a shared subscription group: its share name and filter.
type groupKey struct{ share, filter string }

func newInterest(nc *nats.Conn, ing *ingress, counters *Counters, log *zap.Logger) *interest {
	return &interest{nc: nc, ing: ing, log: log, counters: counters, changed: make(chan struct{}), wake: make(chan struct{}, 1),
		plain: map[string]*subRef{}, groups: map[groupKey][]*nats.Subscription{}}
}

// FilterAdded implements broker.Interest.
func (in *interest) FilterAdded(filter string) { in.queue(interestEvent{added: true, filter: filter}) }

// FilterRemoved implements broker.Interest.
func (in *interest) FilterRemoved(filter string) { in.queue(interestEvent{filter: filter}) }

// GroupAdded implements broker.Interest.
func (in *interest) GroupAdded(share, filter string) {
	in.queue(interestEvent{added: true, share: share, filter: filter})
}

// GroupRemoved implements broker.Interest.
func (in *interest) GroupRemoved(share, filter string) {
	in.queue(interestEvent{share: share, filter: filter})
}

// queue hands ev to the applier; it never blocks.
func (in *interest) queue(ev interestEvent) {
	in.mu.Lock()
	in.events = append(in.events, ev)
	in.queued++
	in.mu.Unlock()
	select {
	case in.wake <- struct{}{}:
	default:
	}
}

// wait waits, at most interestWait, until every event queued so far is
// applied and flushed to the node's NATS server. It reports whether it
// was; at once when nothing is outstanding or the link is down.
func (in *interest) wait() bool {
	if !in.nc.IsConnected() {
		// Nothing to wait for: routing on the node would stop for
		// nothing. nats.go makes the subscriptions on reconnecting.
		return false
	}
	in.mu.Lock()
	target := in.queued
	in.mu.Unlock()
	var timeout <-chan time.Time
	for {
		in.mu.Lock()
		done, changed, closed := in.applied >= target, in.changed, in.closed
		in.mu.Unlock()
		if done || closed {
			return done
		}
		if timeout == nil {
			t := time.NewTimer(interestWait)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-changed:
		case <-timeout:
			in.log.Warn("subscription interest not confirmed by nats in time", zap.Duration("waited", interestWait))
			return false
		}
	}
}

// run applies the queued events until ctx ends.
func (in *interest) run(ctx context.Context) {
	tick := time.NewTicker(dropCheck)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			in.countDropped()
			continue
		case <-in.wake:
		}
		in.mu.Lock()
		evs, target := in.events, in.queued
		in.events = nil
		in.mu.Unlock()
		var orphans []*nats.Msg
		for _, ev := range evs {
			if ev.orphan != nil {
				orphans = append(orphans, ev.orphan)
				continue
			}
			if err := in.apply(ev); err != nil {
				in.log.Error("changing a nats subscription failed", zap.String("filter", ev.filter), zap.String("share", ev.share), zap.Error(err))
			}
		}
		if !in.flush(ctx) {
			return
		}
		in.sendOrphans(orphans)
		in.mu.Lock()
		in.applied = target
		close(in.changed)
		in.changed = make(chan struct{})
		in.mu.Unlock()
	}
}

// flush waits until the node's NATS server has processed the
// subscriptions made so far, retrying while the link is down; false when
// ctx ended first.
func (in *interest) flush(ctx context.Context) bool {
	for {
		fctx, cancel := context.WithTimeout(ctx, interestWait)
		err := in.nc.FlushWithContext(fctx)
		cancel()
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		in.log.Warn("flushing nats subscriptions failed, retrying", zap.Error(err))
		select {
		case <-ctx.Done():
			return false
		case <-time.After(flushRetry):
		}
	}
}

// apply makes or drops the NATS subscriptions of one event.
func (in *interest) apply(ev interestEvent) error {
	subjects := cluster.FilterSubjects(ev.filter)
	if ev.share != "" {
		return in.applyGroup(ev, subjects)
	}
	var errs []error
	for _, subj := range subjects {
		var err error
		if ev.added {
			err = in.addPlain(subj)
		} else {
			err = in.removePlain(subj)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// applyGroup makes or drops the queue subscriptions of a shared group.
func (in *interest) applyGroup(ev interestEvent, subjects []string) error {
	k := groupKey{ev.share, ev.filter}
	q := queueName(ev.share, ev.filter)
	var errs []error
	if !ev.added {
		for _, sub := range in.groups[k] {
			in.dropped += droppedBy(sub)
			if err := sub.Unsubscribe(); err != nil {
				errs = append(errs, fmt.Errorf("unsubscribing group %s from %s: %w", q, sub.Subject, err))
			}
		}
		delete(in.groups, k)
		in.ing.groups.Delete(q)
		in.dur.leave(k)
		return errors.Join(errs...)
	}
	in.ing.groups.Store(q, in.dur.join(k, q, subjects)) // shared_durable.go
	subs := make([]*nats.Subscription, 0, len(subjects)+1)
	for _, subj := range append(subjects, groupSubject(q)) {
		sub, err := in.nc.ChanQueueSubscribe(subj, q, in.ing.ch)
		if err != nil {
			errs = append(errs, fmt.Errorf("subscribing group %s to %s: %w", q, subj, err))
			continue
		}
		subs = append(subs, sub)
	}
	in.groups[k] = subs
	return errors.Join(errs...)
}

// queueName returns the NATS queue group of a shared subscription group:
// a digest of its share name and filter, since a queue name is one token
// and the two may hold any character.
func queueName(share, filter string) string {
	h := sha256.New()
	h.Write([]byte(share))
	h.Write([]byte{0})
	h.Write([]byte(filter))
	return queuePrefix + hex.EncodeToString(h.Sum(nil)[:16])
}

// queuePrefix starts every queue name, and the name of every group's
// consumer (shared_durable.go).
const queuePrefix = "emq_g_"

// close drops every subscription, once run has returned, and releases
// the waiters.
func (in *interest) close() error {
	in.mu.Lock()
	in.closed = true
	close(in.changed)
	in.changed = make(chan struct{})
	in.mu.Unlock()
	var errs []error
	for subj, ref := range in.plain {
		if ref.sub == nil {
			continue
		}
		if err := ref.sub.Unsubscribe(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
			errs = append(errs, fmt.Errorf("unsubscribing from %s: %w", subj, err))
		}
	}
	for _, subs := range in.groups {
		for _, sub := range subs {
			if err := sub.Unsubscribe(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
				errs = append(errs, fmt.Errorf("unsubscribing group from %s: %w", sub.Subject, err))
			}
		}
	}
	clear(in.plain)
	clear(in.groups)
	in.tree = subjTree{}
	return errors.Join(errs...)
}

// countDropped adds to Counters.Overflowed what the NATS client dropped
// since the last count, because ingress fell behind (a slow consumer).
func (in *interest) countDropped() {
	total := in.dropped
	for _, ref := range in.plain {
		total += droppedBy(ref.sub)
	}
	for _, subs := range in.groups {
		for _, sub := range subs {
			total += droppedBy(sub)
		}
	}
	if d := total - in.counted; d > 0 {
		in.counters.Overflowed.Add(d)
		in.log.Warn("nats messages dropped: the node's ingress fell behind", zap.Int64("dropped", d))
	}
	in.counted = total
}

// droppedBy returns how many messages the NATS client dropped for sub.
func droppedBy(sub *nats.Subscription) int64 {
	if sub == nil {
		return 0
	}
	n, err := sub.Dropped()
	if err != nil {
		return 0
	}
	return int64(n)
}
