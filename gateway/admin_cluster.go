package gateway

// The admin API on a cluster node: the node's name on its clients and
// status, and the cluster-wide client list (admin.ClusterClients), for
// which every node answers a NATS question with its own connected
// clients (cluster.Answer, cluster.AskAll); showing and kicking a client
// of another node is admin_forward.go's. Answering reads the
// connections as GET /api/v1/clients does (adminSource.Clients: Server.mu,
// then each session.mu alone), on the NATS subscription's goroutine.

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"edgemq/gateway/admin"
	"edgemq/gateway/cluster"

	"go.uber.org/zap"
)

// askClients is the question every node answers with its connected
// clients: a JSON array of admin.ClientItem.
const askClients = "clients"

// clusterStatusTimeout bounds the read of the live nodes for the status.
const clusterStatusTimeout = time.Second

// clusterNodeName returns the node's name, "" without a cluster.
func (s *Server) clusterNodeName() string {
	if s.cluster == nil {
		return ""
	}
	return s.cluster.node.Name()
}

// adminCluster returns what the admin API lists cluster-wide clients
// with: nil without a cluster.
func (a adminSource) adminCluster() admin.ClusterClients {
	if a.s.cluster == nil {
		return nil
	}
	return a
}

// localItems returns this node's connected clients as the API lists them.
func (a adminSource) localItems() []admin.ClientItem {
	cs := a.Clients()
	out := make([]admin.ClientItem, len(cs))
	for i := range cs {
		out[i] = admin.ItemOf(&cs[i])
	}
	return out
}

// ClusterClients implements admin.ClusterClients: every live node,
// this one included, is asked over NATS, and their lists merged.
func (a adminSource) ClusterClients(ctx context.Context) ([]admin.ClientItem, []string, error) {
	c := a.s.cluster
	nodes, err := cluster.LiveNodes(ctx, c.node.Layout().Nodes)
	if err != nil {
		return nil, nil, fmt.Errorf("listing the cluster's clients: %w", err)
	}
	if self := c.node.Name(); !slices.Contains(nodes, self) {
		nodes = append(nodes, self)
	}
	answers, missing, err := cluster.AskAll(ctx, c.node.Link().Conn(), askClients, nodes)
	if err != nil {
		return nil, nil, fmt.Errorf("listing the cluster's clients: %w", err)
	}
	var items []admin.ClientItem
	for node, b := range answers {
		var its []admin.ClientItem
		if err := json.Unmarshal(b, &its); err != nil {
			a.s.log.Warn("a node's client list is unreadable", zap.String("node", node), zap.Error(err))
			missing = append(missing, node)
			continue
		}
		for i := range its {
			its[i].Node = node
		}
		items = append(items, its...)
	}
	slices.Sort(missing)
	return items, missing, nil
}

// answerClusterAdmin answers the other nodes' questions about this one,
// and the admin requests they forward to it (admin_forward.go), until
// ctx ends.
func (s *Server) answerClusterAdmin(ctx context.Context) {
	c := s.cluster
	a := adminSource{s}
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { s.serveAdminForward(ctx) })
	sub, err := cluster.Answer(c.node.Link().Conn(), c.node.Name(), askClients, func() ([]byte, error) {
		return json.Marshal(a.localItems())
	})
	if err != nil {
		s.log.Warn("this node's clients will not be listed cluster-wide", zap.Error(err))
		return
	}
	<-ctx.Done()
	_ = sub.Unsubscribe()
}

// clusterNodes returns the cluster's live nodes for the status and the
// dashboard's overview, this one included; none without a cluster.
func (s *Server) clusterNodes() []admin.ClusterNode {
	if s.cluster == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), clusterStatusTimeout)
	defer cancel()
	names, err := cluster.LiveNodes(ctx, s.cluster.node.Layout().Nodes)
	if err != nil {
		s.log.Debug("reading the live nodes for the status", zap.Error(err))
	}
	if self := s.cluster.node.Name(); !slices.Contains(names, self) {
		names = append(names, self)
		slices.Sort(names)
	}
	out := make([]admin.ClusterNode, len(names))
	for i, n := range names {
		out[i] = admin.ClusterNode{Name: n, Up: true, Self: n == s.cluster.node.Name()}
	}
	return out
}
