package gateway

// The operator dashboard on the admin listener (package listeners/web,
// web.Dashboard): its files are served at /dashboard/ without the token —
// they hold no data — and the page then calls the admin API with the
// token the operator types into its login form. GET /api/v1/overview,
// behind the token like every /api/v1 route, is what the dashboard polls:
// the server's counters and gauges (the same samples as the ops
// listener's /metrics, as JSON), its listeners and the clients that
// received the most traffic.

import (
	"cmp"
	"net/http"
	"slices"
	"strings"
	"time"

	"edgemq/listeners/web"

	dto "github.com/prometheus/client_model/go"
)

// dashboardPath is where the admin listener serves the dashboard.
const dashboardPath = "/dashboard/"

// topClientsMax bounds the top_clients list of GET /api/v1/overview.
const topClientsMax = 10

// adminFront routes the admin listener's requests: the dashboard's files
// (no token), "/" redirected to them, GET /api/v1/overview behind auth
// (405 for other methods, as the other routes answer), and everything
// else to api (the authenticated /api/v1 routes).
func (s *Server) adminFront(auth func(http.Handler) http.Handler, api http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET "+dashboardPath, http.StripPrefix(strings.TrimSuffix(dashboardPath, "/"), web.Dashboard()))
	mux.Handle("GET /{$}", http.RedirectHandler(dashboardPath, http.StatusFound))
	mux.Handle("GET /api/v1/overview", auth(http.HandlerFunc(s.adminOverview)))
	mux.Handle("/api/v1/overview", auth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", "GET, HEAD")
		writeAdminError(w, http.StatusMethodNotAllowed, "method %s not allowed; allowed: GET, HEAD", r.Method)
	})))
	mux.Handle("/", api)
	return mux
}

// overview is GET /api/v1/overview.
type overview struct {
	Version string    `json:"version"`
	Time    time.Time `json:"time"`
	// Listeners are the configured listeners with the URL clients use.
	Listeners []overviewListener `json:"listeners"`
	// Metrics are the samples of every edgemq_* counter and gauge, and
	// process_start_time_seconds, as /metrics of the ops listener has
	// them; histograms are left out.
	Metrics []metricSample `json:"metrics"`
	// AdmissionRefused counts the sockets refused before CONNECT by the
	// admission limits, by reason (Stats.AdmissionRefused; server_busy
	// refusals also answer CONNACK 0x89, counted in edgemq_connack_total).
	AdmissionRefused map[string]int64 `json:"admission_refused"`
	// TopClients are the connected clients that were sent the most
	// bytes, most first (at most 10).
	TopClients []trafficItem `json:"top_clients"`
	// ClusterNodes lists the nodes of a cluster; absent while edgemq runs
	// as a single node. The dashboard shows its cluster panel only when
	// there are some.
	ClusterNodes []any `json:"cluster_nodes,omitempty"`
}

type overviewListener struct {
	Name    string `json:"name"`
	Type    string `json:"type"`
	Address string `json:"address"`
	URL     string `json:"url"`
	PageURL string `json:"page_url,omitempty"`
	TLS     string `json:"tls,omitempty"`
}

// metricSample is one sample of a metric family.
type metricSample struct {
	Name   string            `json:"name"`
	Labels map[string]string `json:"labels,omitempty"`
	Value  float64           `json:"value"`
}

// trafficItem is a client in top_clients: what was written to it since
// it connected.
type trafficItem struct {
	ClientID    string `json:"client_id"`
	Listener    string `json:"listener"`
	Protocol    string `json:"protocol"`
	MessagesOut int64  `json:"messages_out"`
	BytesOut    int64  `json:"bytes_out"`
}

// adminOverview answers GET /api/v1/overview.
func (s *Server) adminOverview(w http.ResponseWriter, r *http.Request) {
	ov := overview{Version: cmp.Or(s.sys.version, "dev"), Time: time.Now().UTC()}
	for _, l := range s.lsts {
		url, page := listenerURLs(l.cfg, l.ln.Addr()) // endpoints.go
		ov.Listeners = append(ov.Listeners, overviewListener{
			Name: l.cfg.Name, Type: l.cfg.Type, Address: l.ln.Addr().String(), URL: url, PageURL: page, TLS: l.cfg.TLS,
		})
	}
	families, err := s.gatherMetrics()
	if err != nil {
		writeAdminError(w, http.StatusInternalServerError, "gathering metrics: %v", err)
		return
	}
	ov.Metrics = metricSamples(families)
	ov.AdmissionRefused = s.Stats().AdmissionRefused
	ov.TopClients = s.topClients(topClientsMax)
	writeAdminJSON(w, http.StatusOK, ov)
}

// gatherMetrics collects the samples /metrics of the ops listener would
// show, from the server's registry.
func (s *Server) gatherMetrics() ([]*dto.MetricFamily, error) { return s.metrics.reg.Gather() }

// metricSamples flattens the counters and gauges of the edgemq_* families
// and process_start_time_seconds.
func metricSamples(families []*dto.MetricFamily) []metricSample {
	out := []metricSample{}
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
			sm := metricSample{Name: name, Value: v}
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

// topClients returns the n connected clients that were sent the most
// bytes, most first, ties by client id.
func (s *Server) topClients(n int) []trafficItem {
	items := []trafficItem{}
	for _, ac := range s.connectedClients() {
		items = append(items, trafficItem{
			ClientID: ac.neg().ClientID, Listener: ac.c.ch.meta.Listener, Protocol: ac.neg().Version.String(),
			MessagesOut: ac.c.out.sentMsgs.Load(), BytesOut: ac.c.out.sentBytes.Load(),
		})
	}
	slices.SortStableFunc(items, func(a, b trafficItem) int { return cmp.Compare(b.BytesOut, a.BytesOut) })
	return items[:min(n, len(items))]
}
