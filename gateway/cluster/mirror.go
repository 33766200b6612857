package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

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
// Concurrency: both methods are called on the mirror's goroutine (Run's),
// one call at a time: they may block briefly (applying to a local store)
// but every stream message waits for them. ctx: none. Ordering: Entry is
// called in stream order, first with the last message of every topic the
// stream holds when the mirror starts, then with each new one; Synced is
// called once, after the last of those first messages (at once for an
// empty stream). After the link to NATS is lost and repaired the mirror
// resumes after the last message it handed on, so a topic's last Entry is
// always its current state. Not found: a stream message that is not a
// retained subject is skipped (logged).
type MirrorHandler interface {
	Entry(e RetainedEntry)
	Synced()
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

// Run creates the consumer (retrying until ctx ends while JetStream
// cannot be reached) and hands every message to the handler until ctx
// ends; it returns nil then. The consumer is recreated by the client
// after a lost link or a missed heartbeat, resuming after the last
// message handed on.
func (m *RetainedMirror) Run(ctx context.Context) error {
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
			return nil
		}
		m.log.Warn("creating the retained mirror's consumer failed, retrying", zap.Error(err))
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(mirrorRetry):
		}
	}
	synced := false
	if info := cons.CachedInfo(); info != nil && info.NumPending == 0 {
		m.h.Synced()
		synced = true
	}
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("reading the retained stream: %w", err)
	}
	defer it.Stop()
	for {
		msg, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return fmt.Errorf("reading the retained stream: %w", err)
			}
			m.log.Debug("reading the retained stream", zap.Error(err))
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
			m.h.Synced()
			synced = true
		}
	}
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
