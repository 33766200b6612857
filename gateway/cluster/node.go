package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"edgemq/configs"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// Node is this edgemq node's membership of a cluster: its embedded NATS
// server (if it runs one), its link to NATS, the JetStream layout and its
// liveness record. StartNode builds it, Run renews the liveness, Close
// takes it down in reverse order.
type Node struct {
	name     string
	embedded *Embedded // nil with external servers
	link     *Link
	js       jetstream.JetStream
	layout   *Layout
	live     *Liveness
	log      *zap.Logger
}

// NodeHooks are called on changes of the node's NATS link (see
// LinkOptions.OnUp and OnDown): on one goroutine, in order, and they
// must not block.
type NodeHooks struct {
	OnLinkUp, OnLinkDown func()
}

// StartNode joins the cluster configured by c (cluster.Enabled must be
// true; dataDir is the configuration's data_dir): it starts the embedded
// NATS server when no URL is configured, connects, creates the layout
// (retrying while JetStream has no quorum yet: the other nodes may be
// starting too) and acquires the node's liveness record (waiting for a
// previous incarnation's to lapse). Everything is bounded by ctx; on
// error what was started is stopped.
func StartNode(ctx context.Context, c configs.Cluster, dataDir string, log *zap.Logger, hooks NodeHooks) (*Node, error) {
	n := &Node{name: c.Node, log: log}
	ok := false
	defer func() {
		if !ok {
			n.stop(context.WithoutCancel(ctx), false)
		}
	}()
	var url string
	if c.Embedded() {
		e, err := StartEmbedded(ctx, EmbeddedOptionsFrom(c, dataDir), log.Named("nats"))
		if err != nil {
			return nil, fmt.Errorf("starting node %s: %w", c.Node, err)
		}
		n.embedded, url = e, e.ClientURL()
	}
	lo := LinkOptionsFrom(c, url)
	lo.OnUp, lo.OnDown = hooks.OnLinkUp, hooks.OnLinkDown
	link, err := Connect(ctx, lo, log)
	if err != nil {
		return nil, fmt.Errorf("starting node %s: %w", c.Node, err)
	}
	n.link = link
	if n.js, err = jetstream.New(link.Conn()); err != nil {
		return nil, fmt.Errorf("starting node %s: %w", c.Node, err)
	}
	if n.layout, err = n.ensureLayout(ctx, LayoutOptions{Replicas: c.Replicas}); err != nil {
		return nil, fmt.Errorf("starting node %s: %w", c.Node, err)
	}
	n.live = NewLiveness(n.js, n.layout.Nodes, c.Node, c.HeartbeatInterval, c.LivenessTTL, log)
	n.live.SetAdvertise(c.Advertise)
	if err := n.live.Acquire(ctx); err != nil {
		return nil, fmt.Errorf("starting node %s: %w", c.Node, err)
	}
	ok = true
	log.Info("cluster node started", zap.String("node", c.Node), zap.Bool("embedded_nats", n.embedded != nil))
	return n, nil
}

// layoutAttempt bounds one EnsureLayout. When several nodes create the
// layout at once, nats-server 2.15.3 leaves some of the concurrent
// requests for one new bucket unanswered (the bucket is created; the
// request times out): a short attempt and a retry, which finds the bucket
// in place, keeps the start quick.
const layoutAttempt = time.Second

// ensureLayout retries EnsureLayout until it succeeds or ctx ends, with
// a pause growing from 50ms to 1s.
func (n *Node) ensureLayout(ctx context.Context, o LayoutOptions) (*Layout, error) {
	pause := 50 * time.Millisecond
	for {
		actx, cancel := context.WithTimeout(ctx, layoutAttempt)
		l, err := EnsureLayout(actx, n.js, o)
		cancel()
		if err == nil {
			return l, nil
		}
		if sv := (*ServerVersionError)(nil); errors.As(err, &sv) {
			return nil, err // retrying will not help
		}
		n.log.Warn("creating the jetstream layout failed, retrying", zap.Error(err), zap.Duration("pause", pause))
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("creating the jetstream layout: %w (last error: %w)", ctx.Err(), err)
		case <-time.After(pause):
		}
		pause = min(2*pause, time.Second)
	}
}

// Run renews the node's liveness until ctx ends (nil) or the record is
// lapsed or taken (ErrFenced: the node must stop serving its sessions).
func (n *Node) Run(ctx context.Context) error { return n.live.Run(ctx) }

// Close leaves the cluster cleanly: it deletes the liveness record (the
// other nodes see a clean stop, not a lapse), closes the link and stops
// the embedded server, within ctx. Run must have returned first. The
// link and server are stopped even when the record cannot be deleted
// (no JetStream quorum: it then lapses after its TTL).
func (n *Node) Close(ctx context.Context) error {
	return n.stop(ctx, true)
}

func (n *Node) stop(ctx context.Context, release bool) error {
	var errs []error
	if release && n.live != nil {
		if err := n.live.Release(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if n.link != nil {
		n.link.Close(ctx)
	}
	if n.embedded != nil {
		if err := n.embedded.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Name returns the node's name.
func (n *Node) Name() string { return n.name }

// Link returns the node's link to NATS.
func (n *Node) Link() *Link { return n.link }

// JetStream returns the node's JetStream context.
func (n *Node) JetStream() jetstream.JetStream { return n.js }

// Layout returns the cluster's buckets and streams.
func (n *Node) Layout() *Layout { return n.layout }

// Embedded returns the node's embedded server, nil with external ones.
func (n *Node) Embedded() *Embedded { return n.embedded }
