package backend

// The offline queue of a session carried over from another node: the
// QoS 1 and 2 messages stored in the messages stream after the session's
// cursor, on the subjects of its subscriptions, replayed into it by an
// ordered consumer that lives only while replaying (never a durable
// consumer per session).
//
// Where replay meets live delivery: the session's subscriptions are
// registered first (adopt), which makes this node's NATS server
// subscribe to their subjects (the backend's Interest, flushed by its
// Subscribing); the live deliveries to the session are held meanwhile
// (broker.Session.BeginReplay). Then the stream's last sequence L is read
// from the stream's leader: the request travels to it after the
// subscriptions on the same connection and route, so the leader knows
// this node's interest before it answers, and every message stored after
// L is republished live to this node. The replay delivers the session's
// messages up to L; EndReplay(L) releases the held live deliveries but
// for those up to L, replayed already, and drops their later live
// arrivals too: no gap, no duplicate.

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"edgemq/gateway/broker"
	"edgemq/gateway/cluster"
	"edgemq/gateway/logsafe"
	"edgemq/mqtt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// decodeStored decodes a message of the messages stream as ingress
// does a live one (route_codec.go), its Message Expiry Interval counted
// from when it was stored.
func decodeStored(msg jetstream.Msg) (*broker.Message, error) {
	stored := time.Now()
	if md, err := msg.Metadata(); err == nil {
		stored = md.Timestamp
	}
	return decodeMessage(&nats.Msg{Subject: msg.Subject(), Data: msg.Data(), Header: msg.Headers()}, stored)
}

// streamSeq returns the sequence in the messages stream of a message the
// stream republished (Nats-Sequence), 0 for one that did not come
// through it.
func streamSeq(msg *nats.Msg) uint64 {
	v := msg.Header.Get(hdrStreamSeq)
	if v == "" {
		return 0
	}
	seq, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0
	}
	return seq
}

// lastSeq returns the messages stream's last sequence, read from its
// leader.
func (s *Sessions) lastSeq(ctx context.Context) (uint64, error) {
	info, err := s.o.Layout.Messages.Info(ctx)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return 0, nil // no stream, nothing stored before
	}
	if err != nil {
		return 0, fmt.Errorf("reading the messages stream: %w", err)
	}
	return info.State.LastSeq, nil
}

// replayInactive is how long the server keeps a replay's consumer
// that was not deleted (its node died while replaying).
const replayInactive = 10 * time.Second

// dropConsumer deletes a replay's consumer, so that none outlives its
// replay (no consumer per session piles up).
func (s *Sessions) dropConsumer(cons jetstream.Consumer) {
	ci := cons.CachedInfo()
	if ci == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.o.KickWait)
	defer cancel()
	if err := s.o.Layout.Messages.DeleteConsumer(ctx, ci.Name); err != nil {
		s.o.Log.Debug("deleting a replay consumer failed; it lapses on its own", zap.String("consumer", ci.Name), zap.Error(err))
	}
}

// replayBatch is the number of messages one fetch of the replay asks
// for.
const replayBatch = 256

// replayTries bounds the tries of a replay that fails (each on from
// where the one before got), replayPause times the try number apart,
// within the replay's context.
const (
	replayTries = 4
	replayPause = 100 * time.Millisecond
)

// replay delivers to sess, replaying since Adopt, its stored messages
// after cursor on the subjects of subs, but for those carried in flight
// (out, put in flight by adopt: outflight.go), which get their message
// and are not delivered anew, and those it is done with (done); then
// ends the replay. Errors are logged:
// the session then misses what was not replayed, and says so.
func (s *Sessions) replay(ctx context.Context, sess *broker.Session, subs []cluster.RecordSub, cursor uint64, out []cluster.RecordOut, done []cluster.RecordDone) {
	keys := newCarryKeys(out, done)
	through, n, err := s.replayUpTo(ctx, sess, subs, cursor, keys)
	for try := 1; err != nil && try < replayTries; try++ {
		// A stream busy electing a leader answers no one for a moment:
		// on from where the replay got, after a pause.
		select {
		case <-ctx.Done():
		case <-time.After(time.Duration(try) * replayPause):
		}
		if ctx.Err() != nil {
			break
		}
		var more int
		through, more, err = s.replayUpTo(ctx, sess, subs, through, keys)
		n += more
	}
	if lost := sess.SettleCarried(); lost > 0 {
		s.o.Log.Warn("messages in flight on the previous node are no longer stored; their qos 2 ids are released",
			logsafe.String("client_id", sess.ClientID()), zap.Int("messages", lost))
	}
	sess.EndReplay(through)
	if err != nil {
		s.o.Log.Warn("replaying a session's offline queue failed; messages after the cursor may be missing",
			logsafe.String("client_id", sess.ClientID()), zap.Uint64("cursor", cursor), zap.Uint64("through", through), zap.Error(err))
		return
	}
	if n > 0 {
		s.o.Log.Debug("offline queue replayed", logsafe.String("client_id", sess.ClientID()), zap.Int("messages", n),
			zap.Uint64("from", cursor+1), zap.Uint64("through", through))
	}
}

// replayUpTo replays and returns the sequence replayed through and the
// number of messages delivered.
func (s *Sessions) replayUpTo(ctx context.Context, sess *broker.Session, subs []cluster.RecordSub, cursor uint64, keys carryKeys) (uint64, int, error) {
	var subjects []string
	for _, sub := range subs {
		if _, _, shared, _ := mqtt.ParseShared(sub.Filter); shared {
			continue // a group's messages go to its other members
		}
		for _, t := range cluster.FilterTails(sub.Filter) {
			subjects = append(subjects, cluster.DurablePrefix+t)
		}
	}
	if len(subjects) == 0 {
		return cursor, 0, nil
	}
	info, err := s.o.Layout.Messages.Info(ctx)
	if err != nil {
		return cursor, 0, fmt.Errorf("reading the messages stream: %w", err)
	}
	last := info.State.LastSeq
	if last <= cursor {
		return cursor, 0, nil
	}
	start := max(cursor+1, info.State.FirstSeq)
	cons, err := s.o.Layout.Messages.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects:    subjects,
		DeliverPolicy:     jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:       start,
		InactiveThreshold: replayInactive,
	})
	if err != nil {
		return cursor, 0, fmt.Errorf("replaying from %d: %w", start, err)
	}
	defer s.dropConsumer(cons)
	if ci := cons.CachedInfo(); ci != nil && ci.NumPending == 0 {
		return last, 0, nil // nothing on the session's subjects
	}
	through, n := cursor, 0
	lag := s.startReplay() // replay_lag.go
	defer func() { lag.end(n) }()
	if ci := cons.CachedInfo(); ci != nil {
		lag.pending(ci.NumPending)
	}
	for {
		batch, err := cons.Fetch(replayBatch, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			return through, n, fmt.Errorf("replaying from %d: %w", through+1, err)
		}
		got := 0
		for msg := range batch.Messages() {
			got++
			md, err := msg.Metadata()
			if err != nil {
				return through, n, fmt.Errorf("replaying after %d: %w", through, err)
			}
			seq := md.Sequence.Stream
			lag.pending(md.NumPending)
			if seq > last {
				return last, n, nil
			}
			m, err := s.o.Decode(msg)
			if err != nil {
				s.o.Log.Warn("skipping a stored message that cannot be read", zap.Uint64("seq", seq), zap.Error(err))
			} else {
				m.SetSeq(seq)
				id := msg.Headers().Get(nats.MsgIdHdr)
				if keys.done(seq, id) {
					// completed on the previous node, out of order
				} else if pids := keys.pids(seq, id); pids != nil {
					for _, pid := range pids {
						s.o.Broker.ReplayCarried(sess, pid, m) // in flight: DUP, same id
					}
				} else if s.o.Broker.ReplayTo(sess, m) {
					n++
				}
			}
			through = seq
			if seq == last || md.NumPending == 0 {
				return last, n, nil
			}
		}
		if err := batch.Error(); err != nil {
			return through, n, fmt.Errorf("replaying after %d: %w", through, err)
		}
		if got == 0 {
			// Nothing on the session's subjects up to last.
			return last, n, nil
		}
	}
}
