package backend

// After an outage of the NATS link the node rechecks which of its
// sessions another node claimed meanwhile (a kick sent while it was cut
// off never arrived). Recheck (takeover.go) writes every owned record
// once, which at tens of thousands of sessions takes longer than the
// window Health gives it, so that the node never served again. Only the
// records that changed while the node was cut off can have been claimed
// elsewhere: RecheckChanged reads the keys of the session records
// written after a point the node saw while it was healthy (the sessions
// stream's last sequence, read every second, taken a margin before the
// outage), through one ordered consumer of the records' subjects, headers
// only, and rechecks those of its sessions alone: the work is in the
// changes, not the sessions.

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"edgemq/gateway/cluster"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// recheckMargin is how long before an outage the point of
// RecheckChanged was read, at least: a claim whose kick was still on
// its way then (a kick waits KickWait, twice for a slow answer) is
// after it.
func (s *Sessions) recheckMargin() time.Duration { return 2*s.o.KickWait + recheckEvery }

// recheckEvery is how often the checkpoints read the point.
const recheckEvery = time.Second

// recheckPoints are the sessions stream's last sequences read while the
// link was up, with when: the last ten minutes', and the newest before
// them (any point read while the link was up bounds an outage after it).
// One goroutine adds (the checkpoints'); readers load the slice, which
// is replaced, never changed.
type recheckPoints struct {
	points atomic.Pointer[[]recheckPoint]
}

type recheckPoint struct {
	at  time.Time
	seq uint64
}

// add records seq, read at now.
func (p *recheckPoints) add(now time.Time, seq uint64) {
	var old []recheckPoint
	if cur := p.points.Load(); cur != nil {
		old = *cur
	}
	keep := make([]recheckPoint, 0, len(old)+1)
	for i, pt := range old {
		stale := now.Sub(pt.at) > 10*time.Minute
		if !stale || i+1 == len(old) || now.Sub(old[i+1].at) <= 10*time.Minute {
			keep = append(keep, pt)
		}
	}
	keep = append(keep, recheckPoint{at: now, seq: seq})
	p.points.Store(&keep)
}

// before returns the newest point read at least margin before now; 0
// when there is none.
func (p *recheckPoints) before(now time.Time, margin time.Duration) uint64 {
	cur := p.points.Load()
	if cur == nil {
		return 0
	}
	var seq uint64
	for _, pt := range *cur {
		if now.Sub(pt.at) >= margin {
			seq = pt.seq
		}
	}
	return seq
}

// readRecheckPoint records the sessions stream's last sequence (the
// checkpoints call it every recheckEvery while the link is up).
func (s *Sessions) readRecheckPoint(ctx context.Context) {
	rctx, cancel := context.WithTimeout(ctx, recheckEvery)
	defer cancel()
	st, err := s.o.Layout.Sessions.Status(rctx)
	if err != nil {
		return
	}
	if kv, ok := st.(*jetstream.KeyValueBucketStatus); ok && kv.StreamInfo() != nil {
		s.points.add(time.Now(), kv.StreamInfo().State.LastSeq)
	}
}

// RecheckChanged is Recheck for the sessions whose records changed
// since a point read a margin before the link was lost (Recheck itself
// when no such point is known: just after the node started). It drops
// (closing its client with 0x8E) each that another node claimed, and
// returns the number dropped and the first error. Until one succeeds
// the outage's start stays where the checkpoints first saw it.
func (s *Sessions) RecheckChanged(ctx context.Context) (n int, err error) {
	at, lost := time.Now(), s.lostAt.Load()
	if lost != nil {
		at = *lost
	}
	defer func() {
		if err == nil && lost != nil {
			s.lostAt.CompareAndSwap(lost, nil)
		}
	}()
	from := s.points.before(at, s.recheckMargin())
	if from == 0 {
		return s.Recheck(ctx) // takeover.go
	}
	ids, err := s.changedSince(ctx, from)
	if err != nil {
		return 0, fmt.Errorf("rechecking sessions changed after %d: %w", from, err)
	}
	var mu sync.Mutex // guards dropped, firstErr; local
	dropped := 0
	var firstErr error
	var wg sync.WaitGroup
	work := make(chan string)
	for range min(lapseWorkers, max(len(ids), 1)) {
		wg.Go(func() {
			for id := range work {
				gone, err := s.recheckOne(ctx, id)
				mu.Lock()
				if gone {
					dropped++
				}
				if err != nil && firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		})
	}
	for _, id := range ids {
		work <- id
	}
	close(work)
	wg.Wait()
	s.o.Log.Info("sessions rechecked after an outage", zap.Uint64("changed_after", from), zap.Int("changed_held", len(ids)),
		zap.Int("dropped", dropped), zap.Error(firstErr))
	return dropped, firstErr
}

// changedSince returns the client ids of the sessions this node holds
// whose records were written (or deleted) after sequence from.
func (s *Sessions) changedSince(ctx context.Context, from uint64) ([]string, error) {
	st, err := s.o.JS.Stream(ctx, "KV_"+s.o.Layout.Sessions.Bucket())
	if err != nil {
		return nil, err
	}
	info, err := st.Info(ctx)
	if err != nil {
		return nil, err
	}
	if info.State.LastSeq <= from {
		return nil, nil
	}
	cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		// A record's key holds no '.': the owner index's keys are not
		// matched.
		FilterSubjects: []string{"$KV." + s.o.Layout.Sessions.Bucket() + ".*"},
		DeliverPolicy:  jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:    from + 1,
		HeadersOnly:    true,
	})
	if err != nil {
		return nil, err
	}
	defer s.dropSessionsConsumer(st, cons)
	if ci := cons.CachedInfo(); ci != nil && ci.NumPending == 0 {
		return nil, nil
	}
	prefix := len("$KV." + s.o.Layout.Sessions.Bucket() + ".")
	seen := make(map[string]struct{})
	var out []string
	for {
		batch, err := cons.Fetch(replayBatch, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			return nil, err
		}
		got, done := 0, false
		for msg := range batch.Messages() {
			got++
			if id, err := cluster.KeyName(msg.Subject()[prefix:]); err == nil {
				s.mu.Lock()
				_, mine := s.owned[id]
				s.mu.Unlock()
				if _, dup := seen[id]; mine && !dup {
					seen[id] = struct{}{}
					out = append(out, id)
				}
			}
			if md, err := msg.Metadata(); err == nil && md.NumPending == 0 {
				done = true
			}
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) {
			return nil, err
		}
		if done || got == 0 {
			return out, nil
		}
	}
}

// dropSessionsConsumer deletes the ordered consumer of changedSince.
func (s *Sessions) dropSessionsConsumer(st jetstream.Stream, cons jetstream.Consumer) {
	ci := cons.CachedInfo()
	if ci == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.o.KickWait)
	defer cancel()
	_ = st.DeleteConsumer(ctx, ci.Name)
}

// recheckOne writes id's record as this node last wrote it, at its
// revision, if this node holds it: a write that fails on its revision
// means another node claimed the session, which is dropped here (its
// client closed with 0x8E). It reports whether it was dropped.
func (s *Sessions) recheckOne(ctx context.Context, id string) (bool, error) {
	unlock, err := s.gates.lock(ctx, id)
	if err != nil {
		return false, err
	}
	defer unlock()
	o, rec, mine := s.held(id) // checkpoint.go
	if o == nil {
		return false, nil
	}
	s.counts.Rechecked.Add(1)
	rev, err := s.store.Put(ctx, id, &rec, mine)
	switch {
	case err == nil:
		s.mu.Lock()
		if o.rev == mine {
			o.rev = rev
		}
		s.mu.Unlock()
		return false, nil
	case errors.Is(err, cluster.ErrStale):
		switch err := s.rebase(ctx, id, o, &rec, mine); {
		case err == nil:
			// Moved on by this node's own holding (a write stored as the
			// link went whose answer never came): still this node's.
			return false, nil
		case !errors.Is(err, cluster.ErrStale):
			// Unknown (the leader could not be read, as after a heal
			// while the stream elects one): left as it is, like a record
			// that could not be written; never dropped on a guess.
			return false, err
		}
		s.fenced(id, o) // checkpoint.go
		return true, nil
	}
	return false, err
}
