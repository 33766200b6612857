package cluster

import (
	"context"
	"time"
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
