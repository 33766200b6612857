package gateway

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkAdminOverview measures GET /api/v1/overview, what the dashboard
// polls every 2 seconds, with 500 connected clients, through the admin
// listener's handler (guard and token check included): the registry
// gathered, Stats, the listeners and the top clients sorted. It reports
// the answer's size.
func BenchmarkAdminOverview(b *testing.B) {
	cfg := adminConfig(b)
	yes := true
	cfg.Listeners[0].AllowAnonymous = &yes
	ts := startServer(b, cfg)
	const clients = 500
	for i := range clients {
		nc := dial(b, ts, "tcp")
		b.Cleanup(func() { nc.Close() })
		if rc := rawConnect(b, nc, i%2 == 0, fmt.Sprintf("bench-%04d", i)); rc != 0 {
			b.Fatalf("client %d: CONNACK %#x", i, rc)
		}
	}
	req := httptest.NewRequest(http.MethodGet, "/api/v1/overview", nil)
	req.Header.Set("Authorization", "Bearer "+adminTestToken)
	h := ts.admin.Handler() // the admin listener's handler: guard, token, route
	var size int
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		size = rec.Body.Len()
	}
	b.ReportMetric(float64(size), "bytes/answer")
}
