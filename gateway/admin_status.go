package gateway

// Admin API: the server's status (GET /api/v1/status) and one session
// (GET /api/v1/sessions/{id}), for `edgemq ctl status` and `edgemq ctl
// sessions show`.
//
// Locks: as the other handlers, each lock alone and briefly: Server.mu
// (isDraining, connections), registry.mu (counts), each session.mu in
// turn (view), retainedStore.mu (size). No lock pair.

import (
	"cmp"
	"net/http"
	"time"
)

// statusDoc is the answer of GET /api/v1/status.
type statusDoc struct {
	Version       string           `json:"version"`
	StartedAt     time.Time        `json:"started_at"`
	UptimeSeconds int64            `json:"uptime_seconds"`
	Draining      bool             `json:"draining"`
	Listeners     []listenerStatus `json:"listeners"`
	Counts        statusCounts     `json:"counts"`
	// Cluster lists the cluster's nodes; empty while edgemq runs as a
	// single node.
	Cluster []clusterNodeStatus `json:"cluster"`
}

// listenerStatus is one configured listener.
type listenerStatus struct {
	Name    string `json:"name"`
	Type    string `json:"type"` // tcp, tls, ws or wss
	Address string `json:"address"`
	// Up says the listener is serving.
	Up bool `json:"up"`
}

// statusCounts are the server's gauges and totals.
type statusCounts struct {
	Connections   int64 `json:"connections"`
	Sessions      int   `json:"sessions"`
	Subscriptions int   `json:"subscriptions"`
	Retained      int   `json:"retained"`
	RetainedBytes int64 `json:"retained_bytes"`
	MessagesIn    int64 `json:"messages_in"`
	MessagesOut   int64 `json:"messages_out"`
	// Dropped counts dropped messages by reason
	// (edgemq_messages_dropped_total).
	Dropped map[string]int64 `json:"dropped"`
}

// clusterNodeStatus is a node of the cluster.
type clusterNodeStatus struct {
	Name string `json:"name"`
	Up   bool   `json:"up"`
}

// adminStatus answers the version, uptime, listeners, counts and cluster.
func (s *Server) adminStatus(w http.ResponseWriter, _ *http.Request) {
	now := time.Now()
	st := s.Stats()
	retained, retainedBytes := s.eng.broker.RetainedSize()
	doc := statusDoc{
		Version:       cmp.Or(s.sys.version, "dev"),
		StartedAt:     s.startedAt.UTC(),
		UptimeSeconds: int64(now.Sub(s.startedAt) / time.Second),
		Draining:      s.isDraining(),
		Listeners:     make([]listenerStatus, 0, len(s.lsts)),
		Counts: statusCounts{
			Connections: st.Connections, Sessions: st.Sessions,
			Subscriptions: subscriptionCount(s),
			Retained:      retained, RetainedBytes: retainedBytes,
			MessagesIn: st.MessagesIn, MessagesOut: st.MessagesOut, Dropped: st.Dropped,
		},
		Cluster: []clusterNodeStatus{},
	}
	for _, l := range s.lsts {
		doc.Listeners = append(doc.Listeners, listenerStatus{
			Name: l.cfg.Name, Type: l.cfg.Type, Address: l.ln.Addr().String(), Up: l.up.Load(),
		})
	}
	writeAdminJSON(w, http.StatusOK, doc)
}

// sessionDetail is GET /api/v1/sessions/{id}: the listing's item with
// the subscriptions and the bytes queued.
type sessionDetail struct {
	sessionItem
	QueuedBytes   int64             `json:"queued_bytes"`
	Subscriptions []subscriptionDoc `json:"subscriptions"`
}

// adminGetSession shows one session, connected or not.
func (s *Server) adminGetSession(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	ss := s.eng.broker.Lookup(id)
	if ss == nil {
		writeAdminError(w, http.StatusNotFound, "no session for client %q", id)
		return
	}
	v := ss.View()
	writeAdminJSON(w, http.StatusOK, sessionDetail{
		sessionItem: sessionItem{
			ClientID: id, Connected: v.Connected, Expiry: v.Expiry,
			Subscriptions: len(v.Subs), Inflight: v.Inflight, Queued: v.Queued,
			Owner: ss.OwnerIdentity(),
		},
		QueuedBytes: v.QueuedBytes, Subscriptions: subscriptionDocs(v.Subs),
	})
}
