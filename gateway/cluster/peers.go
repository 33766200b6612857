package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// Peers follows the nodes bucket for the live nodes' MQTT addresses
// (NodeRecord.MQTT, cluster.advertise), so that a node sending its
// clients away (a drain, a lost link) can name another node: the Server
// Reference of DISCONNECT 0x9C. The set is the last one read: while the
// link is down it is what was live when it went down.
//
// Concurrency: Reference and Addrs are safe from any goroutine (an
// atomic snapshot, replaced by Run's goroutine on each change).
type Peers struct {
	nodes jetstream.KeyValue
	self  string
	log   *zap.Logger
	addrs atomic.Pointer[map[string]string] // node → address, others only
	turn  atomic.Uint64
}

// NewPeers returns the peers of node self in bucket nodes.
func NewPeers(nodes jetstream.KeyValue, self string, log *zap.Logger) *Peers {
	p := &Peers{nodes: nodes, self: self, log: log}
	p.addrs.Store(&map[string]string{})
	return p
}

// peersRetry is the pause before watching again after the watch failed.
const peersRetry = 250 * time.Millisecond

// Run watches the bucket until ctx ends (it returns nil then), watching
// anew when the watch ends.
func (p *Peers) Run(ctx context.Context) error {
	for ctx.Err() == nil {
		if err := p.watch(ctx); err != nil && ctx.Err() == nil {
			p.log.Debug("watching the nodes' addresses, again", zap.Error(err))
		}
		select {
		case <-ctx.Done():
		case <-time.After(peersRetry):
		}
	}
	return nil
}

func (p *Peers) watch(ctx context.Context) error {
	w, err := p.nodes.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("watching nodes: %w", err)
	}
	defer func() { _ = w.Stop() }()
	// The current records first, then changes: a fresh map per watch, so
	// that a record deleted while the watch was down is forgotten.
	cur := map[string]string{}
	initial := true
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				return fmt.Errorf("watching nodes: the watch ended")
			}
			if e == nil {
				initial = false
				p.addrs.Store(new(maps.Clone(cur)))
				continue
			}
			node, err := KeyName(e.Key())
			if err != nil || node == p.self {
				continue
			}
			var rec NodeRecord
			if e.Operation() == jetstream.KeyValuePut && json.Unmarshal(e.Value(), &rec) == nil && rec.MQTT != "" {
				cur[node] = rec.MQTT
			} else {
				delete(cur, node)
			}
			if !initial {
				p.addrs.Store(new(maps.Clone(cur)))
			}
		}
	}
}

// Addrs returns the other live nodes' addresses, sorted.
func (p *Peers) Addrs() []string {
	m := *p.addrs.Load()
	out := slices.Collect(maps.Values(m))
	slices.Sort(out)
	return out
}

// Reference returns another live node's address, taking turns among
// them call after call, or "" when no other node advertises one.
func (p *Peers) Reference() string {
	addrs := p.Addrs()
	if len(addrs) == 0 {
		return ""
	}
	return addrs[(p.turn.Add(1)-1)%uint64(len(addrs))]
}
