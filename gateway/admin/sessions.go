package admin

// Sessions: GET /api/v1/sessions, GET and DELETE /api/v1/sessions/{id};
// with scope=cluster, one session held by any node of a cluster
// (sessions_cluster.go).

import (
	"errors"
	"net/http"
	"strconv"

	"edgemq/gateway/logsafe"

	"go.uber.org/zap"
)

// SessionItem is a session in GET /api/v1/sessions.
type SessionItem struct {
	ClientID  string `json:"client_id"`
	Connected bool   `json:"connected"`
	// Expiry is the Session Expiry Interval in force, in seconds
	// (4294967295: never). An offline session ends that long after its
	// connection ended.
	Expiry        uint32 `json:"expiry"`
	Subscriptions int    `json:"subscriptions"`
	Inflight      int    `json:"inflight"`
	Queued        int    `json:"queued"`
	// Owner is the identity the session is bound to ("user:<name>",
	// "cert:<identity>", "anonymous:<listener>"); "" for a session
	// restored from a record without one.
	Owner string `json:"owner"`
	// Node is the cluster node holding the session; absent on a single
	// node.
	Node string `json:"node,omitempty"`
}

// ItemOfSession returns s as GET /api/v1/sessions lists it.
func ItemOfSession(s *Session) SessionItem {
	return SessionItem{
		ClientID: s.ClientID, Connected: s.Connected, Expiry: s.Expiry,
		Subscriptions: len(s.Subscriptions), Inflight: s.Inflight, Queued: s.Queued,
		Owner: s.Owner, Node: s.Node,
	}
}

// listSessions lists sessions, connected or not, by client id, paged,
// filtered by client_id (a prefix) and connected (true/false).
func (a *Server) listSessions(w http.ResponseWriter, r *http.Request) {
	pp, err := parsePage(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "%v", err)
		return
	}
	q := r.URL.Query()
	var connected *bool
	if v := q.Get("connected"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			writeError(w, http.StatusBadRequest, "connected %q is not true or false", v)
			return
		}
		connected = &b
	}
	var items []SessionItem
	for s := range a.b.Sessions.Sessions(q.Get("client_id"), pp.after) {
		if connected != nil && s.Connected != *connected {
			continue
		}
		items = append(items, ItemOfSession(&s))
		if len(items) > pp.limit {
			break // one more than the page tells whether a next one exists
		}
	}
	pp.after = "" // applied above
	writeJSON(w, http.StatusOK, paginate(items, func(it SessionItem) string { return it.ClientID }, pp))
}

// SessionDetail is GET /api/v1/sessions/{id}: the listing's item with
// the subscriptions and the bytes queued.
type SessionDetail struct {
	SessionItem
	QueuedBytes   int64          `json:"queued_bytes"`
	Subscriptions []Subscription `json:"subscriptions"`
}

// SessionDetailOf returns s as GET /api/v1/sessions/{id} shows it (and
// as a cluster node answers for it, ClusterSession).
func SessionDetailOf(s *Session) SessionDetail {
	subs := s.Subscriptions
	if subs == nil {
		subs = []Subscription{}
	}
	return SessionDetail{SessionItem: ItemOfSession(s), QueuedBytes: s.QueuedBytes, Subscriptions: subs}
}

// getSession shows one session, connected or not; with scope=cluster,
// one held by any node of a cluster (sessions_cluster.go).
func (a *Server) getSession(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	cluster, ok := a.sessionScope(w, r)
	if !ok {
		return
	}
	s, found := a.b.Sessions.Session(id)
	if !found {
		if cluster {
			a.getClusterSession(w, r, id)
			return
		}
		writeError(w, http.StatusNotFound, "no session for client %q", id)
		return
	}
	s.ClientID = id
	writeJSON(w, http.StatusOK, SessionDetailOf(&s))
}

// SessionDeleteResult is the answer of DELETE /api/v1/sessions/{id}.
type SessionDeleteResult struct {
	ClientID string `json:"client_id"`
	// Kicked says a connected client was disconnected first.
	Kicked bool `json:"kicked"`
	// Node is the cluster node that held the session; absent on a single
	// node.
	Node string `json:"node,omitempty"`
}

// deleteSession discards a session (Sessions.DeleteSession): a connected
// client is kicked first, then the session ends, its will going as the
// specification has it [MQTT-3.1.3-9]. 409 when the client still holds
// it or reconnected meanwhile. With scope=cluster, a session held by
// another node of a cluster is discarded there (sessions_cluster.go).
func (a *Server) deleteSession(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	cluster, ok := a.sessionScope(w, r)
	if !ok {
		return
	}
	kicked, err := a.b.Sessions.DeleteSession(r.Context(), id)
	if errors.Is(err, ErrNotFound) && cluster {
		a.deleteClusterSession(w, r, id)
		return
	}
	if err != nil {
		if !writeSessionConflict(w, id, err) {
			writeError(w, http.StatusInternalServerError, "deleting session %q: %v", id, err)
		}
		return
	}
	a.log.Info("admin session discarded", logsafe.String("client_id", id), zap.Bool("kicked", kicked))
	writeJSON(w, http.StatusOK, SessionDeleteResult{ClientID: id, Kicked: kicked, Node: a.nodeName()})
}

// writeSessionConflict writes the error of a session's delete, here or
// on another node (ClusterSessions), when it is one of DeleteSession's:
// 404 when there is no session of id, 409 when its client still holds
// it or reconnected meanwhile. It reports whether it wrote.
func writeSessionConflict(w http.ResponseWriter, id string, err error) bool {
	switch {
	case errors.Is(err, ErrNotFound):
		writeError(w, http.StatusNotFound, "no session for client %q", id)
	case errors.Is(err, ErrStillHeld):
		writeError(w, http.StatusConflict, "client %q still holds its session; retry", id)
	case errors.Is(err, ErrReconnected):
		writeError(w, http.StatusConflict, "client %q reconnected; kick it or retry", id)
	default:
		return false
	}
	return true
}
