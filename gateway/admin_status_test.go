package gateway

import (
	"net/http"
	"testing"

	"edgemq/gateway/admin"
	"edgemq/mqtt"
)

// TestAdminStatus: GET /api/v1/status reports the version, the listeners
// with their bound addresses, and counts that follow what clients do; it
// is behind the token like every route.
func TestAdminStatus(t *testing.T) {
	cfg := adminConfig(t)
	cfg.Sys.Interval = 0 // no $SYS retained messages in the counts
	ts := startServerWith(t, cfg, func(s *Server) { s.SetVersion("v9.8.7-test") })
	a := newAdminClient(t, ts)

	sub, _ := dialSess(t, ts, "tcp", sessConnect(mqtt.V5, "status-sub", true, 600))
	sub.subscribe(t, "status/#", 1, mqtt.GrantedQoS1)
	adminDo[admin.PublishResult](t, a, "POST", "/api/v1/publish", admin.PublishRequest{Topic: "status/r", Payload: "x", Retain: true}, http.StatusOK)
	waitConnections(t, ts, 1)

	st := adminDo[admin.StatusDoc](t, a, "GET", "/api/v1/status", nil, http.StatusOK)
	if st.Version != "v9.8.7-test" {
		t.Errorf("version %q", st.Version)
	}
	if st.StartedAt.IsZero() || st.UptimeSeconds < 0 || st.Draining {
		t.Errorf("started %v, uptime %d, draining %v", st.StartedAt, st.UptimeSeconds, st.Draining)
	}
	if len(st.Listeners) != 1 || st.Listeners[0].Name != "tcp" || st.Listeners[0].Type != "tcp" ||
		st.Listeners[0].Address != ts.addr(t, "tcp") {
		t.Errorf("listeners %+v, want tcp on %s", st.Listeners, ts.addr(t, "tcp"))
	}
	// Retained bytes are topic and payload (retainedSize).
	c := st.Counts
	if c.Connections != 1 || c.Sessions != 1 || c.Subscriptions != 1 || c.Retained != 1 || c.RetainedBytes != int64(len("status/r")+len("x")) || c.MessagesIn != 1 {
		t.Errorf("counts %+v", c)
	}
	if _, ok := c.Dropped["queue_full"]; !ok {
		t.Errorf("dropped %v lacks queue_full", c.Dropped)
	}
	if st.Cluster == nil || len(st.Cluster) != 0 {
		t.Errorf("cluster %v, want [] on a single node", st.Cluster)
	}

	a.token = "wrong"
	adminDo[admin.ErrorBody](t, a, "GET", "/api/v1/status", nil, http.StatusUnauthorized)
}

// TestAdminGetSession: GET /api/v1/sessions/{id} shows an offline
// session with its subscriptions and queue; 404 for none.
func TestAdminGetSession(t *testing.T) {
	ts := startAdminServer(t, adminConfig(t))
	a := newAdminClient(t, ts)

	off, _ := dialSess(t, ts, "tcp", sessConnect(mqtt.V5, "show-off", true, 600))
	off.subscribe(t, "show/#", 1, mqtt.GrantedQoS1)
	off.send(t, &mqtt.Disconnect{})
	off.expectClosed(t)
	adminDo[admin.PublishResult](t, a, "POST", "/api/v1/publish", admin.PublishRequest{Topic: "show/q", Payload: "queued", QoS: 1}, http.StatusOK)

	got := adminDo[admin.SessionDetail](t, a, "GET", "/api/v1/sessions/show-off", nil, http.StatusOK)
	if got.ClientID != "show-off" || got.Connected || got.Expiry != 600 || got.Queued != 1 || got.QueuedBytes != 6 || got.Owner != "anonymous:tcp" {
		t.Errorf("session %+v", got)
	}
	if len(got.Subscriptions) != 1 || got.Subscriptions[0].Filter != "show/#" || got.Subscriptions[0].QoS != 1 {
		t.Errorf("subscriptions %+v", got.Subscriptions)
	}
	adminDo[admin.ErrorBody](t, a, "GET", "/api/v1/sessions/nobody", nil, http.StatusNotFound)
}
