package gateway

import (
	"fmt"
	"io"
	"net/http"
	"testing"

	"edgemq/mqtt"
)

// opsAdminBenchServer starts a server with ops and admin listeners, 50
// connected clients with a subscription each and 150 offline sessions.
func opsAdminBenchServer(b *testing.B) (*testServer, *adminClient) {
	b.Helper()
	cfg := adminConfig(b)
	cfg.Ops.Address = "127.0.0.1:0"
	cfg.Sys.Interval = 0
	ts := startAdminServer(b, cfg)
	for i := range 200 {
		c, _ := dialSess(b, ts, "tcp", sessConnect(mqtt.V5, fmt.Sprintf("bench-%03d", i), true, 600))
		c.subscribe(b, fmt.Sprintf("bench/%d/#", i), 1, mqtt.GrantedQoS1)
		if i >= 50 {
			c.send(b, &mqtt.Disconnect{})
			c.expectClosed(b)
		}
	}
	waitConnections(b, ts, 50)
	return ts, newAdminClient(b, ts)
}

// BenchmarkOpsAdminReads measures the reads that go through the ops and
// admin adapters, over real HTTP: a /metrics scrape, a page of sessions,
// the client list and one client's detail.
func BenchmarkOpsAdminReads(b *testing.B) {
	ts, a := opsAdminBenchServer(b)
	hc := &http.Client{}
	b.Cleanup(hc.CloseIdleConnections)
	get := func(b *testing.B, url string, auth bool) {
		req, _ := http.NewRequest("GET", url, nil)
		if auth {
			req.Header.Set("Authorization", "Bearer "+adminTestToken)
		}
		resp, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("%s: %s", url, resp.Status)
		}
	}
	for _, bc := range []struct {
		name, url string
		auth      bool
	}{
		{"metrics", "http://" + ts.OpsAddr().String() + "/metrics", false},
		{"sessions_page", a.base + "/api/v1/sessions?limit=100&client_id=bench-", true},
		{"clients", a.base + "/api/v1/clients", true},
		{"client_detail", a.base + "/api/v1/clients/bench-007", true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				get(b, bc.url, bc.auth)
			}
		})
	}
}
