package backend

import (
	"context"
	"fmt"
	"sync"

	"edgemq/gateway/broker"
	"edgemq/gateway/cluster"

	"go.uber.org/zap"
)

// Operations is what keeps a node's service sound in the cluster: its
// health (link, liveness record, recheck), its cluster-wide retained
// messages and its view of the other nodes' addresses (Peers). It
// renews the liveness record itself: run it instead of Node.Run.
type Operations struct {
	health   *Health
	retained *Retained
	peers    *cluster.Peers
}

// NewOperations builds the operations of node over its broker b. hooks
// are Health's (closing the node's clients, rechecking ownership).
func NewOperations(node *cluster.Node, b RetainedStore, hooks HealthHooks, log *zap.Logger) (*Operations, error) {
	r, err := NewRetained(node.Link().Conn(), node.Name(), b, log.Named("retained"))
	if err != nil {
		return nil, fmt.Errorf("starting the node's operations: %w", err)
	}
	o := &Operations{
		health:   NewHealth(node.Liveness(), hooks, log.Named("health")),
		retained: r,
		peers:    cluster.NewPeers(node.Layout().Nodes, node.Name(), log.Named("peers")),
	}
	if !node.Link().Up() {
		o.health.LinkDown()
	}
	return o, nil
}

// Health returns the node's health: give it the link's events
// (LinkUp, LinkDown).
func (o *Operations) Health() *Health { return o.health }

// Retained returns the cluster-wide retained messages.
func (o *Operations) Retained() *Retained { return o.retained }

// Peers returns the other nodes' addresses.
func (o *Operations) Peers() *cluster.Peers { return o.peers }

// Sessions wraps next: no session opens while the node does not serve.
func (o *Operations) Sessions(next broker.Sessions) broker.Sessions {
	return GuardSessions(next, o.health)
}

// Publisher wraps next: retained messages go to the cluster's stream too,
// and nothing is acknowledged while the node does not serve.
func (o *Operations) Publisher(next broker.Publisher) broker.Publisher {
	return GuardPublisher(WithRetained(next, o.retained), o.health)
}

// Subscriptions wraps next: a SUBSCRIBE first waits for the retained
// mirror to catch up with the cluster.
func (o *Operations) Subscriptions(next broker.Subscriptions) broker.Subscriptions {
	return WithMirroredRetained(next, o.retained)
}

// Run runs the health (renewing the liveness record), the retained
// mirror and the peers' watch until ctx ends; it returns nil then.
func (o *Operations) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	errs := make([]error, 3)
	wg.Go(func() { errs[0] = o.health.Run(ctx) })
	wg.Go(func() { errs[1] = o.retained.Run(ctx) })
	wg.Go(func() { errs[2] = o.peers.Run(ctx) })
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return fmt.Errorf("running the node's operations: %w", err)
		}
	}
	return nil
}
