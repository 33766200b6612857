package web

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHandlerServesAssets(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()

	rows := []struct {
		path, contentType string
		contains          []string
	}{
		{"/", "text/html; charset=utf-8", []string{`<script src="mqtt.min.js"`, `<script src="app.js"`, `id="url"`, `id="username"`, `id="password"`, `id="connect"`, `id="status"`, `id="connack"`, `id="topic"`, `id="subscribe"`, `id="payload"`, `id="publish"`, `id="messages"`}},
		{"/index.html", "text/html; charset=utf-8", []string{"<title>edgemq diagnostic client</title>"}},
		{"/app.js", "text/javascript; charset=utf-8", []string{"mqtt.connect(", "protocolVersion"}},
		{"/style.css", "text/css; charset=utf-8", []string{"#status"}},
		// The IIFE bundle defines the global the page uses.
		{"/mqtt.min.js", "text/javascript; charset=utf-8", []string{"var mqtt=", "MQTT.js"}},
	}
	for _, row := range rows {
		t.Run(row.path, func(t *testing.T) {
			res, err := http.Get(srv.URL + row.path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				t.Fatalf("status %d, want 200", res.StatusCode)
			}
			if ct := res.Header.Get("Content-Type"); ct != row.contentType {
				t.Errorf("Content-Type %q, want %q", ct, row.contentType)
			}
			if got := res.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options %q, want nosniff", got)
			}
			if res.Header.Get("ETag") == "" {
				t.Error("no ETag")
			}
			if strings.HasPrefix(row.contentType, "text/html") && !strings.Contains(res.Header.Get("Content-Security-Policy"), "script-src 'self'") {
				t.Errorf("Content-Security-Policy %q", res.Header.Get("Content-Security-Policy"))
			}
			for _, s := range row.contains {
				if !strings.Contains(string(body), s) {
					t.Errorf("body lacks %q", s)
				}
			}
		})
	}
}

func TestHandlerBundleSize(t *testing.T) {
	// The committed bundle must be the real one, not a placeholder or a
	// Git LFS pointer.
	body, err := files.ReadFile("dist/mqtt.min.js")
	if err != nil {
		t.Fatal(err)
	}
	if len(body) < 100<<10 {
		t.Fatalf("dist/mqtt.min.js is %d bytes; run listeners/web/build/build.sh", len(body))
	}
}

func TestHandlerNotFound(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	for _, p := range []string{"/nope", "/mqtt.js", "/static/app.js", "/dist/mqtt.min.js", "/web.go", "/build/package.json", "/index.html/", "/app.js/x", "/../web.go"} {
		res, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404", p, res.StatusCode)
		}
	}
}

func TestHandlerMethodsAndConditional(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()

	res, err := http.Post(srv.URL+"/", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusMethodNotAllowed || res.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /: status %d, Allow %q; want 405 and GET, HEAD", res.StatusCode, res.Header.Get("Allow"))
	}

	head, _ := http.NewRequest(http.MethodHead, srv.URL+"/mqtt.min.js", nil)
	head.Header.Set("Accept-Encoding", "identity")
	res, err = http.DefaultClient.Do(head)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.ContentLength < 100<<10 {
		t.Errorf("HEAD /mqtt.min.js: status %d, length %d", res.StatusCode, res.ContentLength)
	}
	etag := res.Header.Get("ETag")

	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/mqtt.min.js", nil)
	req.Header.Set("If-None-Match", etag)
	req.Header.Set("Accept-Encoding", "identity")
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotModified {
		t.Errorf("conditional GET: status %d, want 304", res.StatusCode)
	}
}

func TestHandlerGzip(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	get := func(path, acceptEncoding string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
		// Set explicitly, so the transport neither adds nor undoes gzip.
		req.Header.Set("Accept-Encoding", acceptEncoding)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		return res, body
	}
	plainRes, plain := get("/mqtt.min.js", "identity")
	if plainRes.Header.Get("Content-Encoding") != "" {
		t.Fatalf("identity request got Content-Encoding %q", plainRes.Header.Get("Content-Encoding"))
	}
	for _, ae := range []string{"gzip", "br, gzip;q=0.8", "*"} {
		res, body := get("/mqtt.min.js", ae)
		if res.Header.Get("Content-Encoding") != "gzip" || res.Header.Get("Vary") != "Accept-Encoding" {
			t.Fatalf("Accept-Encoding %q: Content-Encoding %q, Vary %q", ae, res.Header.Get("Content-Encoding"), res.Header.Get("Vary"))
		}
		if res.Header.Get("ETag") == plainRes.Header.Get("ETag") {
			t.Errorf("gzip and identity share ETag %s", res.Header.Get("ETag"))
		}
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		unzipped, err := io.ReadAll(zr)
		if err != nil || !bytes.Equal(unzipped, plain) {
			t.Fatalf("gzip body does not decode to the bundle (%v)", err)
		}
		if len(body) >= len(plain)/2 {
			t.Errorf("gzip body %d bytes for %d", len(body), len(plain))
		}
	}
	if res, _ := get("/mqtt.min.js", "gzip;q=0"); res.Header.Get("Content-Encoding") != "" {
		t.Errorf("gzip;q=0 got Content-Encoding %q", res.Header.Get("Content-Encoding"))
	}
}
