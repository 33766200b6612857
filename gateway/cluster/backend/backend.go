package backend

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"edgemq/gateway/broker"
	"edgemq/gateway/cluster"
	"edgemq/gateway/stats"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
)

// Backend is the broker of one node of a cluster: the local broker, and
// the NATS subscriptions and publishes that join it to the other nodes'.
//
// Build it in two steps, since the broker needs the Interest when it is
// built and the Backend needs the broker: New, then broker.New with
// Interest(), then Attach. Then Run until the node stops, and Close.
type Backend struct {
	node *cluster.Node
	nc   *nats.Conn
	// origin names this incarnation of the node on the messages it sends
	// (the node's name and a start nonce): the header other nodes
	// deduplicate by and this node recognises its echoes by.
	origin string
	b      *broker.Broker
	stats  *stats.Counters // the node's, which its broker counts into
	log    *zap.Logger

	in   *interest
	pub  *publisher
	subs *subscriptions
	ing  *ingress
	sess *Sessions      // session.go
	dur  *durableGroups // shared_durable.go

	counters Counters
	wg       sync.WaitGroup
}

// New returns the backend of node, counting into st. Attach must give it
// its broker before Run.
func New(node *cluster.Node, st *stats.Counters, log *zap.Logger) *Backend {
	be := &Backend{node: node, nc: node.Link().Conn(), stats: st, log: log, origin: newOrigin(node.Name())}
	be.ing = newIngress(be)
	be.in = newInterest(be.nc, be.ing, &be.counters, log)
	be.dur = newDurableGroups(be, node.Layout().Messages, DefaultSharedOptions())
	be.in.dur = be.dur
	return be
}

// SetShared sets how shared subscription groups hand out their QoS 1/2
// messages (shared_durable.go); call it before Run. An AckWait of 0 is
// the default's.
func (be *Backend) SetShared(o SharedOptions) {
	if o.AckWait <= 0 {
		o.AckWait = DefaultSharedOptions().AckWait
	}
	be.dur.o = o
}

// Interest returns what the broker tells of the filters it needs
// (broker.Config.Interest).
func (be *Backend) Interest() broker.Interest { return be.in }

// Attach makes b the backend's local broker; b must have been built with
// Interest().
func (be *Backend) Attach(b *broker.Broker) error {
	be.b = b
	be.ing.b = b
	pub, err := newPublisher(be)
	if err != nil {
		return fmt.Errorf("attaching the broker: %w", err)
	}
	be.pub = pub
	b.SetWillRoute(pub.routeWill)
	b.SetSharedOrphan(be.orphan) // shared.go
	be.subs = &subscriptions{b: b, in: be.in}
	n := be.node
	be.sess = NewSessions(SessionsOptions{Node: n.Name(), Conn: be.nc, JS: n.JetStream(), Layout: n.Layout(), Up: n.Link().Up,
		Broker: b, Subs: be.subs, Pub: be.pub, StrictOwner: b.StrictOwner(), Incarnation: n.Liveness().Incarnation, Log: be.log, Recorded: be.dur.recorded}) // session.go
	return nil
}

// Sessions returns the session ownership seam.
func (be *Backend) Sessions() broker.Sessions { return be.sess }

// ClusterSessions returns the node's sessions across the cluster
// (session.go): takeover, node failure, wills, and their counts.
func (be *Backend) ClusterSessions() *Sessions { return be.sess }

// Publisher returns the routing seam: local sessions and the cluster.
func (be *Backend) Publisher() broker.Publisher { return be.pub }

// Subscriptions returns the subscription seam, whose SUBACK waits for the
// node's NATS server to have the interest.
func (be *Backend) Subscriptions() broker.Subscriptions { return be.sess.Subscriptions() }

// Node returns the cluster node.
func (be *Backend) Node() *cluster.Node { return be.node }

// Run applies interest changes and routes what comes in from the other
// nodes until ctx ends. It returns nil then.
func (be *Backend) Run(ctx context.Context) error {
	if be.b == nil {
		return errors.New("running the cluster backend: no broker attached")
	}
	be.wg.Go(func() { be.in.run(ctx) })
	be.wg.Go(func() { be.ing.run(ctx) })
	be.wg.Go(func() { be.pub.run(ctx) })
	be.wg.Go(func() { be.dur.run(ctx) })
	be.wg.Go(func() {
		if err := be.sess.Run(ctx); err != nil {
			be.log.Error("cluster sessions failed", zap.Error(err))
		}
	})
	<-ctx.Done()
	be.wg.Wait()
	return nil
}

// Close drops the node's NATS subscriptions and waits, within ctx, for
// the acknowledgements of what it published. Run must have returned.
func (be *Backend) Close(ctx context.Context) error {
	var errs []error
	if be.sess != nil {
		be.sess.Close()
	}
	be.dur.close()
	if err := be.in.close(); err != nil {
		errs = append(errs, err)
	}
	if be.pub != nil {
		if err := be.pub.close(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("closing the cluster backend: %w", err)
	}
	return nil
}
