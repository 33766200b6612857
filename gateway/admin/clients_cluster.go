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

import (
	"cmp"
	"context"
	"net/http"
	"slices"
	"time"
)

// clusterAskTimeout bounds the wait for the other nodes' answers.
const clusterAskTimeout = 2 * time.Second

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
	switch scope := r.URL.Query().Get("scope"); scope {
	case "", "node":
	case "cluster":
		if a.b.Cluster == nil {
			break // a single node is the whole cluster
		}
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
	default:
		writeError(w, http.StatusBadRequest, "scope %q is not node or cluster", scope)
		return nil, nil, false
	}
	for _, c := range a.b.Clients.Clients() {
		items = append(items, ItemOf(&c))
	}
	if r.URL.Query().Get("scope") == "cluster" {
		missing = []string{}
	}
	return items, missing, true
}
