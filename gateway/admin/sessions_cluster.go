package admin

// GET and DELETE /api/v1/sessions/{id}?scope=cluster: a session this
// node does not hold, shown or deleted by the node that holds it
// (connected there, or offline there: a persistent session waits on the
// node its record names), asked over NATS (ClusterSessions), its answer
// naming that node. As for one client (clients_cluster.go): 404 only
// when every live node answered that it holds no session of the id; 504
// naming the node when the node holding it (or one that might) did not
// answer in time, 503 when the cluster could not be asked. A delete
// keeps its 409s, from the holding node's answer. The request was
// authorised here, with this node's token; the hop to the other node
// stays inside the cluster's NATS account and is not authorised again
// there.

import (
	"context"
	"errors"
	"net/http"
	"time"

	"edgemq/gateway/logsafe"

	"go.uber.org/zap"
)

// ClusterSessions shows and deletes a session held by another node of a
// cluster. Safe for concurrent use; the caller holds none of the
// server's locks.
type ClusterSessions interface {
	// NodeName returns this node's name.
	NodeName() string
	// ClusterSession returns the session of id held by another node of
	// the cluster, connected or offline, as that node shows it (GET
	// /api/v1/sessions/{id} there, its node named), asking over NATS
	// until ctx ends. The error is ErrNotFound when every live node
	// answered that it holds no session of id; one wrapping ErrNoAnswer,
	// naming the node, when the node holding it (or one that might) did
	// not answer; another when the cluster could not be asked.
	ClusterSession(ctx context.Context, id string) (SessionDetail, error)
	// ClusterDeleteSession deletes the session of id held by another
	// node of the cluster, on that node, as its Sessions.DeleteSession
	// does (its client kicked first, waiting for the connection to
	// release the session), and returns that node's answer. Errors as
	// ClusterSession's, and ErrStillHeld or ErrReconnected as that
	// node's DeleteSession gave them.
	ClusterDeleteSession(ctx context.Context, id string) (SessionDeleteResult, error)
}

// clusterSessionTimeout bounds showing a session held by another node:
// finding the node (its session record, or asking the live nodes) and
// its answer, each step bounded by the implementation.
const clusterSessionTimeout = 3 * clusterAskTimeout

// clusterDeleteTimeout bounds deleting a session held by another node,
// which waits there for the kicked connection to release the session
// (at most the connection's close grace and a second): the steps of
// clusterSessionTimeout, and up to two such waits (the record's node,
// then the node found to hold it).
const clusterDeleteTimeout = clusterSessionTimeout + 14*time.Second

// sessionScope reads the scope of a request on /api/v1/sessions/{id}:
// "node" (the default) is this node's sessions, "cluster" every node's.
// cluster is false on a single node; ok is false when an error was
// written.
func (a *Server) sessionScope(w http.ResponseWriter, r *http.Request) (cluster, ok bool) {
	cluster, ok = a.clusterScope(w, r) // clients_cluster.go
	return cluster && a.b.ClusterSessions != nil, ok
}

// nodeName returns this node's name, "" on a single node.
func (a *Server) nodeName() string {
	if a.b.ClusterSessions == nil {
		return ""
	}
	return a.b.ClusterSessions.NodeName()
}

// getClusterSession answers GET /api/v1/sessions/{id}?scope=cluster for
// a session this node does not hold.
func (a *Server) getClusterSession(w http.ResponseWriter, r *http.Request, id string) {
	ctx, cancel := context.WithTimeout(r.Context(), clusterSessionTimeout)
	defer cancel()
	d, err := a.b.ClusterSessions.ClusterSession(ctx, id)
	if err != nil {
		writeClusterSessionError(w, id, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

// deleteClusterSession answers DELETE /api/v1/sessions/{id}?scope=cluster
// for a session this node does not hold: the node holding it deletes it
// as its own API would.
func (a *Server) deleteClusterSession(w http.ResponseWriter, r *http.Request, id string) {
	ctx, cancel := context.WithTimeout(r.Context(), clusterDeleteTimeout)
	defer cancel()
	res, err := a.b.ClusterSessions.ClusterDeleteSession(ctx, id)
	if err != nil {
		writeClusterSessionError(w, id, err)
		return
	}
	a.log.Info("admin session discarded", logsafe.String("client_id", id), zap.Bool("kicked", res.Kicked), zap.String("node", res.Node))
	writeJSON(w, http.StatusOK, res)
}

// writeClusterSessionError writes the error of ClusterSession or
// ClusterDeleteSession.
func writeClusterSessionError(w http.ResponseWriter, id string, err error) {
	switch {
	case errors.Is(err, ErrNotFound):
		writeError(w, http.StatusNotFound, "no node of the cluster holds a session for client %q", id)
	case writeSessionConflict(w, id, err): // sessions.go: 409
	default:
		writeClusterError(w, id, err) // clients_cluster.go: 504, 503
	}
}
