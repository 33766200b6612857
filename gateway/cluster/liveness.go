package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
	"go.uber.org/zap"
)

// ErrFenced is returned by Liveness.Run when the node's record lapsed or
// was written by someone else: the other nodes may already be taking its
// sessions over, so it must stop serving them.
var ErrFenced = errors.New("liveness record lapsed or taken")

// NodeRecord is the value of a liveness record, JSON. Each node writes
// only its own; the others read it leniently (fields they do not know
// are ignored), so a newer version may add optional fields; removing one
// or changing its meaning needs every node to read the new form first.
type NodeRecord struct {
	// Node is the node's name.
	Node string `json:"node"`
	// Since is when this incarnation of the node acquired the record.
	Since time.Time `json:"since"`
	// Incarnation tells this incarnation's writes from any other's.
	Incarnation string `json:"incarnation"`
	// MQTT is the host:port at which clients reach the node
	// (cluster.advertise); empty: not handed out.
	MQTT string `json:"mqtt,omitempty"`
}

// Liveness keeps one node's record in the nodes bucket: written with a
// TTL, renewed every heartbeat with a revision-checked write (so a second
// process with the same node name cannot renew it too), lapsing after the
// TTL when the node stops renewing. Acquire first, then Run.
type Liveness struct {
	js        jetstream.JetStream
	kv        jetstream.KeyValue
	node      string
	key       string
	heartbeat time.Duration
	ttl       time.Duration
	log       *zap.Logger
	// rev is the revision of the node's last write; 0 before Acquire.
	rev atomic.Uint64
	// value is the record's encoded value, fixed at Acquire.
	value atomic.Pointer[[]byte]
	// advertise is the record's MQTT address (SetAdvertise).
	advertise atomic.Pointer[string]
	// incarnation is the record's incarnation, new at each Acquire.
	incarnation atomic.Pointer[string]
}

// NewLiveness returns the liveness of node in bucket nodes (the Nodes of
// a Layout), renewed every heartbeat and lapsing ttl (at least 1s, whole
// seconds on the wire) after the last renewal.
func NewLiveness(js jetstream.JetStream, nodes jetstream.KeyValue, node string, heartbeat, ttl time.Duration, log *zap.Logger) *Liveness {
	return &Liveness{js: js, kv: nodes, node: node, key: NodeKey(node), heartbeat: heartbeat, ttl: ttl, log: log}
}

// Revision returns the revision of the node's last write, 0 before
// Acquire.
func (l *Liveness) Revision() uint64 { return l.rev.Load() }

// Acquire writes the node's record. When a record of the node is live (a
// previous incarnation that crashed, or another process with the same
// name) it waits for it to lapse first, until ctx ends.
func (l *Liveness) Acquire(ctx context.Context) error {
	rec := NodeRecord{Node: l.node, Since: time.Now().UTC(), Incarnation: nuid.Next()}
	if a := l.advertise.Load(); a != nil {
		rec.MQTT = *a
	}
	v, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encoding liveness record: %w", err)
	}
	l.value.Store(&v)
	l.incarnation.Store(&rec.Incarnation)
	for {
		var rev uint64
		err := settle(ctx, func() (err error) { // records.go
			rev, err = l.kv.Create(ctx, l.key, v, jetstream.KeyTTL(l.ttl))
			return err
		})
		if err == nil {
			l.rev.Store(rev)
			return nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return fmt.Errorf("acquiring liveness of %s: %w", l.node, err)
		}
		l.log.Warn("node record still live, waiting for it to lapse", zap.String("node", l.node), zap.Duration("ttl", l.ttl))
		if err := WaitLapse(ctx, l.kv, l.node); err != nil {
			return fmt.Errorf("acquiring liveness of %s: %w", l.node, err)
		}
	}
}

// renew rewrites the record with a fresh TTL if it is still the node's.
func (l *Liveness) renew(ctx context.Context) error {
	v := l.value.Load()
	if v == nil {
		return errors.New("renewing liveness before acquiring it")
	}
	var ack *jetstream.PubAck
	err := settle(ctx, func() (err error) { // records.go
		ack, err = l.js.Publish(ctx, "$KV."+NodesBucket+"."+l.key, *v,
			jetstream.WithMsgTTL(l.ttl),
			jetstream.WithExpectLastSequencePerSubject(l.rev.Load()))
		return err
	})
	if isWrongLastSequence(err) {
		return l.recheck(ctx, *v)
	}
	if err != nil {
		return fmt.Errorf("renewing liveness of %s: %w", l.node, err)
	}
	l.rev.Store(ack.Sequence)
	return nil
}

// recheck decides, after a renewal refused for its revision, whether the
// record is still this incarnation's: a renewal whose acknowledgement was
// lost (the link dropped, the stream changed leader) moved the revision
// on without the node learning it. The record holds this incarnation's
// own value at a later revision then, and that revision is adopted; a
// record of another value is fenced. The record is read from the stream's
// leader (leaderRecord): a replica may lag behind a renewal that landed,
// or answer while the stream has no quorum.
func (l *Liveness) recheck(ctx context.Context, v []byte) error {
	value, rev, err := l.leaderRecord(ctx)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return fmt.Errorf("renewing liveness of %s: lapsed: %w", l.node, ErrFenced)
	case err != nil:
		return fmt.Errorf("renewing liveness of %s: rereading the record: %w", l.node, err)
	case !bytes.Equal(value, v):
		return fmt.Errorf("renewing liveness of %s: written by another at %d: %w", l.node, rev, ErrFenced)
	case rev <= l.rev.Load():
		// The leader shows no write after the node's own, yet refused
		// the revision: not a late acknowledgement; not renewed.
		return fmt.Errorf("renewing liveness of %s: refused at revision %d with no later write", l.node, rev)
	}
	l.log.Info("liveness renewal acknowledged late, adopting its revision",
		zap.String("node", l.node), zap.Uint64("revision", rev), zap.Uint64("expected", l.rev.Load()))
	l.rev.Store(rev)
	return nil
}

// Run renews the record every heartbeat until ctx ends (it returns nil
// then; the record lapses ttl later unless Release deletes it). It
// returns ErrFenced as soon as the record is found lapsed or taken.
// Other failures (the link is down) are logged and retried at the next
// heartbeat: the record survives them until its TTL.
func (l *Liveness) Run(ctx context.Context) error {
	t := time.NewTicker(l.heartbeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		rctx, cancel := context.WithTimeout(ctx, l.heartbeat)
		err := l.renew(rctx)
		cancel()
		switch {
		case errors.Is(err, ErrFenced):
			return err
		case err != nil && ctx.Err() == nil:
			l.log.Warn("renewing liveness failed", zap.String("node", l.node), zap.Error(err))
		}
	}
}

// releaseAttempt bounds one delete of Release: a request that reaches a
// stream between two leaders goes unanswered, and is retried.
const releaseAttempt = time.Second

// Release deletes the record (a clean stop), if it is still the node's,
// retrying unanswered requests until ctx ends. Run must have returned
// first.
func (l *Liveness) Release(ctx context.Context) error {
	v := l.value.Load()
	if v == nil {
		return errors.New("releasing liveness before acquiring it")
	}
	for {
		actx, cancel := context.WithTimeout(ctx, releaseAttempt)
		err := settle(actx, func() error { // records.go
			return l.kv.Delete(actx, l.key, jetstream.LastRevision(l.rev.Load()))
		})
		if isWrongLastSequence(err) {
			// A renewal acknowledged late: recheck adopts its revision.
			err = l.recheck(actx, *v)
			if errors.Is(err, ErrFenced) {
				cancel()
				return fmt.Errorf("releasing: %w", err)
			}
			if err == nil {
				err = errors.New("revision adopted")
			}
		}
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("releasing liveness of %s: %w (last error: %w)", l.node, ctx.Err(), err)
		}
		if errors.Is(err, nats.ErrConnectionClosed) {
			// No retry can succeed: the record lapses after its TTL.
			return fmt.Errorf("releasing liveness of %s: %w", l.node, err)
		}
		l.log.Debug("releasing liveness, retrying", zap.String("node", l.node), zap.Error(err))
	}
}

// NodeEvent is a change of a node's liveness.
type NodeEvent struct {
	// Node is the node's name.
	Node string
	// Live is true for a written or renewed record, false for one that
	// lapsed or was deleted.
	Live bool
	// Revision is the record's revision (of the marker when not Live).
	Revision uint64
}

// WatchNodes sends every change of the nodes bucket, starting with the
// current records, until ctx ends; then the channel is closed. Keys that
// are not node keys are skipped.
func WatchNodes(ctx context.Context, nodes jetstream.KeyValue) (<-chan NodeEvent, error) {
	w, err := nodes.WatchAll(ctx)
	if err != nil {
		return nil, fmt.Errorf("watching nodes: %w", err)
	}
	out := make(chan NodeEvent, 16)
	go func() {
		defer close(out)
		defer func() { _ = w.Stop() }()
		for {
			select {
			case <-ctx.Done():
				return
			case e, ok := <-w.Updates():
				if !ok {
					return
				}
				if e == nil { // the end of the current records
					continue
				}
				node, err := KeyName(e.Key())
				if err != nil {
					continue
				}
				ev := NodeEvent{Node: node, Live: e.Operation() == jetstream.KeyValuePut, Revision: e.Revision()}
				select {
				case out <- ev:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out, nil
}

// WaitLapse returns once node has no live record, or with ctx's error.
func WaitLapse(ctx context.Context, nodes jetstream.KeyValue, node string) error {
	w, err := nodes.Watch(ctx, NodeKey(node))
	if err != nil {
		return fmt.Errorf("watching node %s: %w", node, err)
	}
	defer func() { _ = w.Stop() }()
	live := false
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for node %s to lapse: %w", node, ctx.Err())
		case e, ok := <-w.Updates():
			switch {
			case !ok:
				return fmt.Errorf("waiting for node %s to lapse: watch ended", node)
			case e == nil: // the end of the current record, if any
				if !live {
					return nil
				}
			default:
				live = e.Operation() == jetstream.KeyValuePut
				if !live {
					return nil
				}
			}
		}
	}
}
