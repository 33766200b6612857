package web

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestDashboardServesAssets checks the dashboard's files: content types,
// the Content Security Policy that keeps it to its own origin, gzip, and
// 404 and 405 for what it does not serve.
func TestDashboardServesAssets(t *testing.T) {
	srv := httptest.NewServer(Dashboard())
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	rows := []struct {
		method, path, contentType string
		status                    int
		contains                  []string
	}{
		{"GET", "/", "text/html; charset=utf-8", 200, []string{`<script src="uplot.min.js"`, `<script src="dashboard.js"`, `id="login-form"`, `id="token"`, `id="chart-messages"`, `id="clients"`, `id="kick"`}},
		{"GET", "/index.html", "text/html; charset=utf-8", 200, []string{"<title>edgemq dashboard</title>"}},
		{"GET", "/dashboard.js", "text/javascript; charset=utf-8", 200, []string{"api/v1/", "Authorization"}},
		{"GET", "/dashboard.css", "text/css; charset=utf-8", 200, []string{".charts"}},
		// The IIFE bundle defines the global the page uses.
		{"GET", "/uplot.min.js", "text/javascript; charset=utf-8", 200, []string{"var uPlot=", "uPlot 1."}},
		{"GET", "/uplot.min.css", "text/css; charset=utf-8", 200, []string{".uplot"}},
		{"GET", "/app.js", "", 404, nil}, // the page's files are not the dashboard's
		{"GET", "/nope", "", 404, nil},
		{"POST", "/", "", 405, nil},
	}
	for _, row := range rows {
		t.Run(row.method+row.path, func(t *testing.T) {
			req, _ := http.NewRequest(row.method, srv.URL+row.path, nil)
			req.Header.Set("Accept-Encoding", "gzip")
			res, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			if res.StatusCode != row.status {
				t.Fatalf("status %d, want %d", res.StatusCode, row.status)
			}
			if row.status != 200 {
				return
			}
			if ct := res.Header.Get("Content-Type"); ct != row.contentType {
				t.Errorf("Content-Type %q, want %q", ct, row.contentType)
			}
			var r io.Reader = res.Body
			if res.Header.Get("Content-Encoding") == "gzip" {
				zr, err := gzip.NewReader(res.Body)
				if err != nil {
					t.Fatal(err)
				}
				r = zr
			}
			body, err := io.ReadAll(r)
			if err != nil {
				t.Fatal(err)
			}
			if strings.HasPrefix(row.contentType, "text/html") {
				csp := res.Header.Get("Content-Security-Policy")
				for _, want := range []string{"connect-src 'self';", "script-src 'self';", "frame-ancestors 'none'"} {
					if !strings.Contains(csp, want) {
						t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
					}
				}
			}
			for _, s := range row.contains {
				if !strings.Contains(string(body), s) {
					t.Errorf("body lacks %q", s)
				}
			}
		})
	}
}
