package gateway

// A cluster node's operations (issue 15; gateway/cluster/backend
// Operations): its health (the NATS link and the liveness record), its
// cluster-wide retained messages and the other nodes' addresses, and
// what the server does with them: the seams wrapped (no CONNECT and no
// acknowledgement while the node does not serve, retained messages
// stored in the cluster), its clients closed when it stops serving, the
// drain's Server Reference, the cluster's metrics and readiness.

import (
	"context"
	"fmt"
	"sync/atomic"

	"edgemq/gateway/broker"
	"edgemq/gateway/cluster"
	"edgemq/gateway/cluster/backend"
	"edgemq/gateway/ops"
	"edgemq/gateway/proto"
	"edgemq/mqtt"
)

// clusterLinkHooks returns the node's link callbacks, which reach the
// operations' health once attachCluster built it (the link comes up
// before: a loss meanwhile is read from the link then).
func clusterLinkHooks(h *atomic.Pointer[backend.Health]) cluster.NodeHooks {
	return cluster.NodeHooks{
		OnLinkUp: func() {
			if hp := h.Load(); hp != nil {
				hp.LinkUp()
			}
		},
		OnLinkDown: func() {
			if hp := h.Load(); hp != nil {
				hp.LinkDown()
			}
		},
	}
}

// attachOperations builds the node's operations over the broker b and
// returns the backend's seams wrapped with them.
func (s *Server) attachOperations(c *clusterState, b *broker.Broker, seams proto.Seams) (proto.Seams, error) {
	o, err := backend.NewOperations(c.node, b, backend.HealthHooks{
		CloseClients: s.closeForCluster,
		// After an outage the sessions another node claimed meanwhile are
		// dropped here before the node serves again (backend/takeover.go).
		Recheck: func(ctx context.Context, _ bool) error {
			_, err := c.be.ClusterSessions().Recheck(ctx)
			return err
		},
	}, s.log.Named("cluster"))
	if err != nil {
		return proto.Seams{}, fmt.Errorf("joining the cluster: %w", err)
	}
	c.ops = o
	c.health.Store(o.Health())
	return proto.Seams{
		Sessions:      o.Sessions(seams.Sessions),
		Publisher:     o.Publisher(seams.Publisher),
		Subscriptions: o.Subscriptions(seams.Subscriptions),
	}, nil
}

// closeForCluster closes every client of a node that stopped serving, so
// that each reconnects to a healthy node before this node's ownership
// records lapse: v5 clients get DISCONNECT 0x9C (Use another server)
// with another live node's address when one is known.
func (s *Server) closeForCluster() {
	for _, c := range s.connections() {
		c.Channel().KickRef(s.clusterKick(mqtt.UseAnotherServer, ""))
	}
}

// clusterKick returns the DISCONNECT a client of a node leaving (a drain,
// a lost link) gets: 0x9C with another live node's address as Server
// Reference, taking turns, when a cluster knows one; else code and ref.
func (s *Server) clusterKick(code mqtt.ReasonCode, ref string) (mqtt.ReasonCode, string) {
	if s.cluster == nil || s.cluster.ops == nil {
		return code, ref
	}
	if r := s.cluster.ops.Peers().Reference(); r != "" {
		return mqtt.UseAnotherServer, r
	}
	return code, ref
}

// clusterOps returns the node's cluster state and counters for the
// metrics and /readyz, nil without a cluster.
func (s *Server) clusterOps() *ops.Cluster {
	if s.cluster == nil || s.cluster.ops == nil {
		return nil
	}
	c := s.cluster
	h, r := c.ops.Health().Stats(), c.ops.Retained().Stats()
	n, sc := c.be.Counters(), c.be.ClusterSessions().Counts()
	return &ops.Cluster{
		LinkUp: h.LinkUp, Serving: h.State == backend.Serving, LinkLosses: h.Closings,
		MessagesIn: n.Received.Load(), MessagesOut: n.SentCore.Load() + n.SentStream.Load(),
		TakeoversLocal: sc.TakeoversLocal.Load(), TakeoversRemote: sc.TakeoversRemote.Load(),
		RemoteWills:    sc.RemoteWills.Load(),
		RetainedStored: r.Stored, RetainedApplied: r.Applied,
	}
}
