package cluster

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Check renews the record once now, revision-checked: nil when it is
// still this incarnation's (a renewal acknowledged late is adopted),
// ErrFenced when it lapsed or another wrote it, another error when
// JetStream could not be asked. It is what Run does each heartbeat, for
// a caller that runs its own loop (the node's health, which also decides
// when to stop serving); it must not run alongside Run.
func (l *Liveness) Check(ctx context.Context) error { return l.renew(ctx) }

// Heartbeat returns the renewal interval, TTL the record's time to live.
func (l *Liveness) Heartbeat() (heartbeat, ttl time.Duration) { return l.heartbeat, l.ttl }

// Liveness returns the node's liveness record, for a caller that renews
// it itself (Check) instead of calling Run.
func (n *Node) Liveness() *Liveness { return n.live }

// SetAdvertise sets the MQTT address the record carries from the next
// Acquire on (cluster.advertise), which the other nodes hand to clients
// as a Server Reference (Peers).
func (l *Liveness) SetAdvertise(addr string) { l.advertise.Store(&addr) }

// leaderRecord reads the node's record from the nodes stream's leader
// (leaderGet: the stream message API, not a direct get, which any
// replica answers, possibly behind or without a quorum). A record deleted
// or lapsed (a KV delete or purge marker, or a TTL marker) is
// jetstream.ErrKeyNotFound.
func (l *Liveness) leaderRecord(ctx context.Context) (value []byte, rev uint64, err error) {
	r, err := leaderGet(ctx, l.js.Conn(), NodesBucket, l.key)
	if errors.Is(err, ErrNoRecord) {
		return nil, r.Revision, jetstream.ErrKeyNotFound
	}
	return r.Value, r.Revision, err
}

// Incarnation returns the incarnation the node's record names: new at
// each Acquire (a restart, or a record acquired anew after it lapsed),
// "" before the first. A session record names it with its owner, so
// that the lapse of one incarnation is never taken for another's.
func (l *Liveness) Incarnation() string {
	if p := l.incarnation.Load(); p != nil {
		return *p
	}
	return ""
}
