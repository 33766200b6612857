package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// RetainedEntry is one message of the retained stream as the mirror
// hands it on: the latest retained message of Topic, or its deletion.
type RetainedEntry struct {
	// Topic is the MQTT topic.
	Topic string
	// Value is the stored value (EncodeRetained); empty: the topic's
	// retained message was deleted.
	Value []byte
	// Origin is the node that stored it and OriginSeq its number there
	// (RetainedHeader); Origin is "" when the headers are missing.
	Origin    string
	OriginSeq uint64
	// Sequence is the stream sequence, Stored when the stream stored it
	// (a Message Expiry Interval runs from then).
	Sequence uint64
	Stored   time.Time
}

// Deleted reports whether the entry deletes its topic's retained
// message.
func (e RetainedEntry) Deleted() bool { return len(e.Value) == 0 }

// MirrorHandler receives what a RetainedMirror reads.
//
// Concurrency: every method is called on the mirror's goroutine (Run's),
// one call at a time: they may block briefly (applying to a local store)
// but every stream message waits for them. ctx: none. Ordering: a full
// read starts with Reading, then Entry is called in stream order with
// the last message of every topic the stream holds, and Synced after the
// last of those (at once for an empty stream), with the stream sequence
// up to which every message was handed over or is gone; then Entry with
// each new message. The mirror makes a full read when it starts and again each
// time the link to NATS comes back after a loss: a deletion whose
// message expired from the stream while the node was cut off (deletions
// are kept for a while only, backend/retained.go) is then known by the
// topic's absence, which the handler reconciles at Synced. A topic's last
// Entry is always its current state. Not found: a stream message that is
// not a retained subject is skipped (logged).
type MirrorHandler interface {
	Reading()
	Entry(e RetainedEntry)
	Synced(at uint64)
}

// RetainedMirror follows the retained stream with one ordered consumer:
// every node of a cluster runs one, so that each keeps the whole set of
// retained messages locally (a subscription matching thousands of topics
// reads them from memory, paced as on one node) and applies every change,
// deletions included. The ordered consumer is an ephemeral in-memory
// consumer; there is one per node, whatever the number of topics.
type RetainedMirror struct {
	js  jetstream.JetStream
	h   MirrorHandler
	log *zap.Logger
}

// NewRetainedMirror returns a mirror of the retained stream reached
// through js, handing what it reads to h.
func NewRetainedMirror(js jetstream.JetStream, h MirrorHandler, log *zap.Logger) *RetainedMirror {
	return &RetainedMirror{js: js, h: h, log: log}
}

// mirrorRetry is the pause between attempts to create the consumer while
// the stream cannot be reached.
const mirrorRetry = 250 * time.Millisecond

// mirrorHeartbeat is the idle heartbeat the mirror's pulls ask of the
// server. The client takes two missed ones for a lost consumer or pull
// (a server restarted, a leader moved) and recreates the consumer after
// the last message handed on: within about 2 s, not the 10 s of the
// ordered consumer's default of 5 s, during which every SUBSCRIBE on the
// node would wait for the mirror and be refused (retained_wait.go). It
// costs one small message a second per node while the stream is idle.
const mirrorHeartbeat = time.Second

// Run creates the consumer (retrying until ctx ends while JetStream
// cannot be reached) and hands every message to the handler until ctx
// ends; it returns nil then. The client recreates the consumer after a
// missed heartbeat, resuming after the last message handed on; after a
// lost link Run makes a full read again (MirrorHandler).
func (m *RetainedMirror) Run(ctx context.Context) error {
	back := make(chan nats.Status, 1)
	nc := m.js.Conn()
	sc := nc.StatusChanged(nats.CONNECTED)
	defer nc.RemoveStatusListener(sc)
	go func() {
		for range sc {
			select {
			case back <- nats.CONNECTED:
			default:
			}
		}
	}()
	for {
		again, err := m.read(ctx, back)
		if err != nil || !again {
			return err
		}
		m.log.Info("the link to nats came back: reading the retained stream again")
	}
}

// read makes one full read, then follows the stream until ctx ends
// (again false) or the link came back after a loss (again true).
func (m *RetainedMirror) read(ctx context.Context, back <-chan nats.Status) (again bool, _ error) {
	var cons jetstream.Consumer
	for {
		var err error
		cons, err = m.js.OrderedConsumer(ctx, RetainedStream, jetstream.OrderedConsumerConfig{
			FilterSubjects: []string{RetainedPrefix + ">"},
			DeliverPolicy:  jetstream.DeliverLastPerSubjectPolicy,
		})
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return false, nil
		}
		m.log.Warn("creating the retained mirror's consumer failed, retrying", zap.Error(err))
		select {
		case <-ctx.Done():
			return false, nil
		case <-time.After(mirrorRetry):
		}
	}
	// A CONNECTED from before this read is no news.
	select {
	case <-back:
	default:
	}
	m.h.Reading()
	synced := false
	if info := cons.CachedInfo(); info != nil && info.NumPending == 0 {
		// Nothing to read: the consumer starts past the stream's last
		// sequence.
		m.h.Synced(info.Delivered.Stream)
		synced = true
	}
	it, err := cons.Messages(jetstream.PullHeartbeat(mirrorHeartbeat))
	if err != nil {
		return false, fmt.Errorf("reading the retained stream: %w", err)
	}
	defer it.Stop()
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	reread := make(chan struct{})
	go func() {
		select {
		case <-back:
			close(reread)
			cancel()
		case <-rctx.Done():
		}
	}()
	for {
		msg, err := it.Next(jetstream.NextContext(rctx))
		if err != nil {
			select {
			case <-reread:
				return true, nil
			default:
			}
			if ctx.Err() != nil {
				return false, nil
			}
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return false, fmt.Errorf("reading the retained stream: %w", err)
			}
			m.log.Info("reading the retained stream failed, continuing", zap.Error(err))
			continue
		}
		meta, err := msg.Metadata()
		if err != nil {
			m.log.Warn("retained message without metadata, skipped", zap.Error(err))
			continue
		}
		if e, ok := m.entry(msg, meta); ok {
			m.h.Entry(e)
		}
		if !synced && meta.NumPending == 0 {
			m.h.Synced(meta.Sequence.Stream)
			synced = true
		}
	}
}

// LastRetainedSeq returns the stream sequence of the newest message the
// retained stream holds (0: none), asked of the stream's leader (not a
// replica, which may be behind, as a direct get could be). Unlike the
// stream's last sequence, it is never that of a message gone since (a
// deletion whose TTL ran out).
func LastRetainedSeq(ctx context.Context, nc *nats.Conn) (uint64, error) {
	m, _, err := lastFromLeader(ctx, nc, RetainedStream, RetainedPrefix+">")
	if err != nil {
		return 0, fmt.Errorf("reading the last retained message: %w", err)
	}
	return m.Seq, nil // 0 when there is none
}

// entry reads one stream message.
func (m *RetainedMirror) entry(msg jetstream.Msg, meta *jetstream.MsgMetadata) (RetainedEntry, bool) {
	tail, ok := strings.CutPrefix(msg.Subject(), RetainedPrefix)
	if !ok {
		m.log.Warn("retained stream message on a foreign subject, skipped", zap.String("subject", msg.Subject()))
		return RetainedEntry{}, false
	}
	topic, err := TailTopic(tail)
	if err != nil {
		m.log.Warn("retained stream message on a subject of no topic, skipped", zap.String("subject", msg.Subject()), zap.Error(err))
		return RetainedEntry{}, false
	}
	e := RetainedEntry{Topic: topic, Value: msg.Data(), Sequence: meta.Sequence.Stream, Stored: meta.Timestamp}
	e.Origin, e.OriginSeq, _ = retainedOrigin(msg.Headers())
	return e, true
}
