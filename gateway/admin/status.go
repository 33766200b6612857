package admin

// The server as a whole: GET /api/v1/status (for `edgemq ctl status`) and
// GET /api/v1/overview (what the operator dashboard polls).

import (
	"cmp"
	"net/http"
	"slices"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// StatusDoc is the answer of GET /api/v1/status.
type StatusDoc struct {
	Version       string           `json:"version"`
	StartedAt     time.Time        `json:"started_at"`
	UptimeSeconds int64            `json:"uptime_seconds"`
	Draining      bool             `json:"draining"`
	Listeners     []ListenerStatus `json:"listeners"`
	Counts        StatusCounts     `json:"counts"`
	// Node is this node's name (cluster.node); absent on a single node.
	Node string `json:"node,omitempty"`
	// Cluster lists the cluster's nodes; empty while edgemq runs as a
	// single node.
	Cluster []ClusterNodeStatus `json:"cluster"`
}

// ListenerStatus is one configured listener.
type ListenerStatus struct {
	Name    string `json:"name"`
	Type    string `json:"type"` // tcp, tls, ws or wss
	Address string `json:"address"`
	// Up says the listener is serving.
	Up bool `json:"up"`
}

// StatusCounts are the server's gauges and totals.
type StatusCounts struct {
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

// ClusterNodeStatus is a node of the cluster.
type ClusterNodeStatus struct {
	Name string `json:"name"`
	Up   bool   `json:"up"`
	// Self marks the node answering.
	Self bool `json:"self,omitempty"`
}

// status answers the version, uptime, listeners, counts and cluster.
func (a *Server) status(w http.ResponseWriter, _ *http.Request) {
	now := time.Now()
	st := a.b.Status.Status()
	doc := StatusDoc{
		Version:       st.Version,
		StartedAt:     st.StartedAt.UTC(),
		UptimeSeconds: int64(now.Sub(st.StartedAt) / time.Second),
		Draining:      st.Draining,
		Listeners:     make([]ListenerStatus, 0, len(st.Listeners)),
		Counts: StatusCounts{
			Connections: st.Connections, Sessions: st.Sessions, Subscriptions: st.Subscriptions,
			Retained: st.Retained, RetainedBytes: st.RetainedBytes,
			MessagesIn: st.MessagesIn, MessagesOut: st.MessagesOut, Dropped: st.Dropped,
		},
		Node:    st.Node,
		Cluster: make([]ClusterNodeStatus, 0, len(st.Cluster)),
	}
	for _, l := range st.Listeners {
		doc.Listeners = append(doc.Listeners, ListenerStatus{Name: l.Name, Type: l.Type, Address: l.Address, Up: l.Up})
	}
	for _, n := range st.Cluster {
		doc.Cluster = append(doc.Cluster, ClusterNodeStatus{Name: n.Name, Up: n.Up, Self: n.Self})
	}
	writeJSON(w, http.StatusOK, doc)
}

// topClientsMax bounds the top_clients list of GET /api/v1/overview.
const topClientsMax = 10

// OverviewDoc is the answer of GET /api/v1/overview.
type OverviewDoc struct {
	Version string    `json:"version"`
	Time    time.Time `json:"time"`
	// Listeners are the configured listeners with the URL clients use.
	Listeners []OverviewListener `json:"listeners"`
	// Metrics are the samples of every edgemq_* counter and gauge, and
	// process_start_time_seconds, as /metrics of the ops listener has
	// them; histograms are left out.
	Metrics []MetricSample `json:"metrics"`
	// AdmissionRefused counts the sockets refused before CONNECT by the
	// admission limits, by reason (Stats.AdmissionRefused; server_busy
	// refusals also answer CONNACK 0x89, counted in edgemq_connack_total).
	AdmissionRefused map[string]int64 `json:"admission_refused"`
	// TopClients are the connected clients that were sent the most
	// bytes, most first (at most 10).
	TopClients []TrafficItem `json:"top_clients"`
	// ClusterNodes lists the nodes of a cluster; absent while edgemq runs
	// as a single node. The dashboard shows its cluster panel only when
	// there are some.
	ClusterNodes []ClusterNodeStatus `json:"cluster_nodes,omitempty"`
}

// OverviewListener is a listener in the overview.
type OverviewListener struct {
	Name    string `json:"name"`
	Type    string `json:"type"`
	Address string `json:"address"`
	URL     string `json:"url"`
	PageURL string `json:"page_url,omitempty"`
	TLS     string `json:"tls,omitempty"`
}

// MetricSample is one sample of a metric family.
type MetricSample struct {
	Name   string            `json:"name"`
	Labels map[string]string `json:"labels,omitempty"`
	Value  float64           `json:"value"`
}

// TrafficItem is a client in top_clients: what was written to it since
// it connected.
type TrafficItem struct {
	ClientID    string `json:"client_id"`
	Listener    string `json:"listener"`
	Protocol    string `json:"protocol"`
	MessagesOut int64  `json:"messages_out"`
	BytesOut    int64  `json:"bytes_out"`
}

// overview answers GET /api/v1/overview.
func (a *Server) overview(w http.ResponseWriter, _ *http.Request) {
	ov := a.b.Status.Overview()
	doc := OverviewDoc{Version: ov.Version, Time: time.Now().UTC(), AdmissionRefused: ov.AdmissionRefused}
	for _, l := range ov.Listeners {
		doc.Listeners = append(doc.Listeners, OverviewListener{
			Name: l.Name, Type: l.Type, Address: l.Address, URL: l.URL, PageURL: l.PageURL, TLS: l.TLS,
		})
	}
	families, err := a.b.Status.Metrics()
	if err != nil {
		writeError(w, http.StatusInternalServerError, "gathering metrics: %v", err)
		return
	}
	doc.Metrics = metricSamples(families)
	doc.TopClients = topClients(a.b.Clients.Clients(), topClientsMax)
	for _, n := range ov.Cluster {
		doc.ClusterNodes = append(doc.ClusterNodes, ClusterNodeStatus{Name: n.Name, Up: n.Up, Self: n.Self})
	}
	writeJSON(w, http.StatusOK, doc)
}

// metricSamples flattens the counters and gauges of the edgemq_* families
// and process_start_time_seconds.
func metricSamples(families []*dto.MetricFamily) []MetricSample {
	out := []MetricSample{}
	for _, f := range families {
		name := f.GetName()
		if !strings.HasPrefix(name, "edgemq_") && name != "process_start_time_seconds" {
			continue
		}
		for _, m := range f.GetMetric() {
			var v float64
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				v = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				v = m.GetGauge().GetValue()
			case dto.MetricType_UNTYPED:
				v = m.GetUntyped().GetValue()
			default:
				continue
			}
			sm := MetricSample{Name: name, Value: v}
			if lp := m.GetLabel(); len(lp) > 0 {
				sm.Labels = make(map[string]string, len(lp))
				for _, l := range lp {
					sm.Labels[l.GetName()] = l.GetValue()
				}
			}
			out = append(out, sm)
		}
	}
	return out
}

// topClients returns the n clients of clients (sorted by client id) that
// were sent the most bytes, most first, ties by client id.
func topClients(clients []Client, n int) []TrafficItem {
	items := make([]TrafficItem, 0, len(clients))
	for _, c := range clients {
		items = append(items, TrafficItem{
			ClientID: c.ClientID, Listener: c.Listener, Protocol: c.Version.String(),
			MessagesOut: c.MessagesOut, BytesOut: c.BytesOut,
		})
	}
	slices.SortStableFunc(items, func(x, y TrafficItem) int { return cmp.Compare(y.BytesOut, x.BytesOut) })
	return items[:min(n, len(items))]
}
