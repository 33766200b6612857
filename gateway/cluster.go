package gateway

// A server that is one node of a cluster (issue 15): when the
// configuration has a cluster section, the server joins it
// (gateway/cluster: the embedded NATS server, the link, the JetStream
// layout, the liveness record) and builds the backend
// (gateway/cluster/backend) around its broker, whose seams the engine
// then uses in place of the broker's own. Without a cluster section
// nothing here runs and the broker is the engine's seams, as on a single
// node.

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"edgemq/configs"
	"edgemq/gateway/broker"
	"edgemq/gateway/cluster"
	"edgemq/gateway/cluster/backend"
	"edgemq/gateway/ops"
	"edgemq/gateway/proto"
	"edgemq/mqtt"

	"go.uber.org/zap"
)

// clusterCloseTimeout bounds leaving the cluster at shutdown: the
// stream's last acknowledgements, the liveness record's deletion, the
// embedded server's stop.
const clusterCloseTimeout = 10 * time.Second

// clusterState is the server's membership of its cluster.
type clusterState struct {
	node *cluster.Node
	be   *backend.Backend
	// ops is the node's health, retained messages and peers; health its
	// health for the link's callbacks (below).
	ops    *backend.Operations
	health atomic.Pointer[backend.Health]
	// stop ends Run's goroutines; closeOnce leaves the cluster once.
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// joinCluster joins the configured cluster, within ctx, and returns the
// Interest the broker is to be built with: broker.NoInterest without a
// cluster section.
func (s *Server) joinCluster(ctx context.Context, cfg *configs.Config, st *proto.Stats) (broker.Interest, error) {
	if !cfg.Cluster.Enabled() {
		return broker.NoInterest{}, nil
	}
	log := s.log.Named("cluster")
	c := &clusterState{}
	node, err := cluster.StartNode(ctx, cfg.Cluster, cfg.DataDir, log, clusterLinkHooks(&c.health))
	if err != nil {
		return nil, fmt.Errorf("joining the cluster: %w", err)
	}
	c.node, c.be = node, backend.New(node, &st.Counters, log)
	c.be.SetShared(backend.SharedOptions{DurableGroups: cfg.Cluster.Shared.DurableGroups, AckWait: cfg.Cluster.Shared.AckWait})
	s.cluster = c
	return s.cluster.be.Interest(), nil
}

// attachCluster attaches the broker to the backend and returns the
// backend's seams, which the engine uses in place of the broker's own.
// The zero Seams (the broker's) without a cluster.
func (s *Server) attachCluster(b *broker.Broker) (proto.Seams, error) {
	c := s.cluster
	if c == nil {
		return proto.Seams{}, nil
	}
	if err := c.be.Attach(b); err != nil {
		return proto.Seams{}, fmt.Errorf("joining the cluster: %w", err)
	}
	s.checkPayload()
	seams := proto.Seams{Sessions: c.be.Sessions(), Publisher: c.be.Publisher(), Subscriptions: c.be.Subscriptions()}
	return s.attachOperations(c, b, seams)
}

// natsOverhead is what a message on NATS adds to its MQTT packet: the
// headers (backend/route_codec.go), a client id included, with room.
const natsOverhead = 4 << 10

// checkPayload warns when a listener accepts MQTT packets larger than
// the NATS servers carry: such a message would reach no other node (and
// a QoS 1/2 one would not be acknowledged).
func (s *Server) checkPayload() {
	cfg := s.config()
	largest := int64(cfg.MQTT.MaxPacketSize)
	for _, lc := range cfg.Listeners {
		largest = max(largest, int64(cfg.LimitsFor(lc).MaxPacketSize))
	}
	if most := s.cluster.node.Link().Conn().MaxPayload(); largest+natsOverhead > most {
		s.log.Warn("mqtt packets may be larger than the nats servers carry: lower mqtt.max_packet_size or raise the servers' max_payload",
			zap.Int64("max_packet_size", largest), zap.Int64("nats_max_payload", most))
	}
}

// runCluster runs the node's liveness and the backend until ctx ends or
// the returned stop is called, which then leaves the cluster. Nothing
// without a cluster.
func (s *Server) runCluster(ctx context.Context) (stop func()) {
	c := s.cluster
	if c == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	c.wg.Go(func() {
		// The operations renew the liveness record (Node.Run's work) and
		// stop the node serving when it lapses (below).
		if err := c.ops.Run(ctx); err != nil {
			s.log.Error("cluster operations failed", zap.Error(err))
		}
	})
	c.wg.Go(func() {
		if err := c.be.Run(ctx); err != nil {
			s.log.Error("cluster backend failed", zap.Error(err))
		}
	})
	c.wg.Go(func() { s.answerClusterAdmin(ctx) }) // admin_cluster.go
	return func() {
		cancel()
		c.wg.Wait()
		s.closeCluster()
	}
}

// closeCluster leaves the cluster (once): the backend's subscriptions and
// last acknowledgements, then the node. Run's goroutines must have ended
// (or never started).
func (s *Server) closeCluster() {
	c := s.cluster
	if c == nil {
		return
	}
	c.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), clusterCloseTimeout)
		defer cancel()
		err := errors.Join(c.be.Close(ctx), c.node.Close(ctx))
		if err != nil {
			s.log.Warn("leaving the cluster failed", zap.Error(err))
		}
	})
}

// The node's operations (issue 15; gateway/cluster/backend
// Operations): its health (the NATS link and the liveness record), its
// cluster-wide retained messages and the other nodes' addresses, and
// what the server does with them: the seams wrapped (no CONNECT and no
// acknowledgement while the node does not serve, retained messages
// stored in the cluster), its clients closed when it stops serving, the
// drain's Server Reference, the cluster's metrics and readiness.

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
		// dropped here before the node serves again (backend/recheck.go).
		Recheck: func(ctx context.Context, _ bool) error {
			_, err := c.be.ClusterSessions().RecheckChanged(ctx) // backend/recheck.go
			return err
		},
	}, s.log.Named("cluster"))
	if err != nil {
		return proto.Seams{}, fmt.Errorf("joining the cluster: %w", err)
	}
	c.ops = o
	// A retained will is the cluster's retained message too (no guard:
	// nobody waits for a will's acknowledgement).
	c.be.ClusterSessions().SetWillPublisher(backend.WithRetained(c.be.Publisher(), o.Retained()))
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

// clusterRetained returns the node's cluster-wide retained messages, nil
// without a cluster.
func (s *Server) clusterRetained() *backend.Retained {
	if s.cluster == nil || s.cluster.ops == nil {
		return nil
	}
	return s.cluster.ops.Retained()
}

// clusterOps returns the node's cluster state and counters for the
// metrics and /readyz, nil without a cluster.
func (s *Server) clusterOps() *ops.Cluster {
	if s.cluster == nil || s.cluster.ops == nil {
		return nil
	}
	c := s.cluster
	h, r := c.ops.Health().Stats(), c.ops.Retained().Stats()
	n, sc, rp := c.be.Counters(), c.be.ClusterSessions().Counts(), c.be.ClusterSessions().Replays()
	return &ops.Cluster{
		LinkUp: h.LinkUp, Serving: h.State == backend.Serving, LinkLosses: h.Closings,
		MessagesIn: n.Received.Load(), MessagesOut: n.SentCore.Load() + n.SentStream.Load(),
		TakeoversLocal: sc.TakeoversLocal.Load(), TakeoversRemote: sc.TakeoversRemote.Load(),
		RemoteWills:    sc.RemoteWills.Load(),
		RetainedStored: r.Stored, RetainedApplied: r.Applied,
		RetainedRefused: r.Refused,
		Claimed:         sc.Claimed.Load(),
		ReplayLag:       rp.Lag.Load(), Replays: rp.Replays.Load(), ReplaySeconds: rp.Seconds(),
		SharedRedelivered: n.GroupRedelivered.Load(),
	}
}
