package admin

// GET /api/v1/clients?scope=cluster: the connected clients of every node
// of a cluster, each naming its node. The node answering the request
// asks the others over NATS (ClusterClients: one request every node
// answers with its own list) and merges the answers, waiting at most
// clusterAskTimeout for them; a node that did not answer in time is
// named in missing_nodes rather than failing the listing. Asking the
// nodes, rather than reading the session records, lists every connected
// client (the records hold persistent sessions only, and say which node
// owns a session, not whether its client is connected now) and shows
// what each node sees at the moment, at the cost of one request per
// listing page.
//
// GET and DELETE /api/v1/clients/{id}?scope=cluster: a client connected
// to another node, shown or kicked by that node (below).

import (
	"cmp"
	"context"
	"errors"
	"net/http"
	"slices"
	"time"

	"edgemq/gateway/logsafe"
	"edgemq/mqtt"

	"go.uber.org/zap"
)

// clusterAskTimeout bounds the wait for the other nodes' answers.
const clusterAskTimeout = 2 * time.Second

// clusterActTimeout bounds showing or kicking a client on another node:
// finding the node (its session record, or asking the live nodes) and
// its answer, each step bounded by the implementation.
const clusterActTimeout = 3 * clusterAskTimeout

// ClusterPage is a page of a cluster-wide listing: the page, and the
// live nodes that did not answer in time (their clients are not in it).
type ClusterPage struct {
	Page[ClientItem]
	MissingNodes []string `json:"missing_nodes"`
}

// clusterKey orders a cluster-wide listing: by client id, then node (a
// client being taken over may be on two nodes for a moment).
func clusterKey(it ClientItem) string { return it.ClientID + "\x00" + it.Node }

// clientsInScope returns the clients the request's scope asks for
// ("node", the default, or "cluster"), sorted (clusterKey); missing is
// non-nil for the cluster scope. ok is false when an error was written.
func (a *Server) clientsInScope(w http.ResponseWriter, r *http.Request) (items []ClientItem, missing []string, ok bool) {
	cluster, ok := a.clusterScope(w, r)
	if !ok {
		return nil, nil, false
	}
	if cluster {
		ctx, cancel := context.WithTimeout(r.Context(), clusterAskTimeout)
		defer cancel()
		items, missing, err := a.b.Cluster.ClusterClients(ctx)
		if err != nil {
			writeError(w, http.StatusServiceUnavailable, "%v", err)
			return nil, nil, false
		}
		slices.SortFunc(items, func(x, y ClientItem) int { return cmp.Compare(clusterKey(x), clusterKey(y)) })
		if missing == nil {
			missing = []string{}
		}
		return items, missing, true
	}
	for _, c := range a.b.Clients.Clients() {
		items = append(items, ItemOf(&c))
	}
	if r.URL.Query().Get("scope") == "cluster" {
		missing = []string{}
	}
	return items, missing, true
}

// clusterScope reads the scope of a request on /api/v1/clients and
// /api/v1/clients/{id} (and /api/v1/sessions/{id}, sessionScope): "node"
// (the default) is this node's clients, "cluster" every node's. cluster is false on a single node, whose
// clients are the whole cluster's; ok is false when an error was
// written.
func (a *Server) clusterScope(w http.ResponseWriter, r *http.Request) (cluster, ok bool) {
	switch scope := r.URL.Query().Get("scope"); scope {
	case "", "node":
		return false, true
	case "cluster":
		return a.b.Cluster != nil, true
	default:
		writeError(w, http.StatusBadRequest, "scope %q is not node or cluster", scope)
		return false, false
	}
}

// GET and DELETE /api/v1/clients/{id}?scope=cluster for a client that is
// not connected to this node: the node it is connected to answers,
// asked over NATS (ClusterClient, ClusterKick), and its answer names
// it. 404 only when every live node answered that it has no such
// client; 504 naming the node when the node holding it (or one that
// might) did not answer in time, 503 when the cluster could not be
// asked. The request was authorised here, with this node's token: the
// hop to the other node stays inside the cluster's NATS account, which
// only the cluster's nodes reach, and is not authorised again there.

// getClusterClient answers GET /api/v1/clients/{id}?scope=cluster for a
// client not connected here.
func (a *Server) getClusterClient(w http.ResponseWriter, r *http.Request, id string) {
	ctx, cancel := context.WithTimeout(r.Context(), clusterActTimeout)
	defer cancel()
	doc, err := a.b.Cluster.ClusterClient(ctx, id)
	if err != nil {
		writeClusterError(w, id, err)
		return
	}
	writeJSON(w, http.StatusOK, doc)
}

// kickClusterClient answers DELETE /api/v1/clients/{id}?scope=cluster
// for a client not connected here: the node it is connected to kicks it
// as its own API would.
func (a *Server) kickClusterClient(w http.ResponseWriter, r *http.Request, id string, code mqtt.ReasonCode) {
	ctx, cancel := context.WithTimeout(r.Context(), clusterActTimeout)
	defer cancel()
	res, err := a.b.Cluster.ClusterKick(ctx, id, code)
	if err != nil {
		writeClusterError(w, id, err)
		return
	}
	a.log.Info("admin kick", logsafe.String("client_id", id), zap.Stringer("reason_code", code), zap.String("node", res.Node))
	writeJSON(w, http.StatusOK, res)
}

// writeClusterError writes the error of ClusterClient or ClusterKick.
func writeClusterError(w http.ResponseWriter, id string, err error) {
	switch {
	case errors.Is(err, ErrNotFound):
		writeError(w, http.StatusNotFound, "client %q is not connected to any node of the cluster", id)
	case errors.Is(err, ErrNoAnswer):
		writeError(w, http.StatusGatewayTimeout, "%v", err)
	default:
		writeError(w, http.StatusServiceUnavailable, "%v", err)
	}
}
