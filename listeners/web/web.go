// Package web serves edgemq's diagnostic web client: a plain HTML page
// that connects to the gateway's ws/wss listener with MQTT.js, shows the
// CONNACK properties the server sent, subscribes, publishes and lists the
// messages that arrive.
//
// The ws and wss listeners mount Handler at "/" when websocket.page is
// set. Everything is embedded: static/ holds the hand-written page
// (index.html, app.js, style.css) and dist/ the MQTT.js browser bundle
// that build/build.sh makes with npm and esbuild. dist/ is committed, so
// building edgemq never needs Node.js.
package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"
)

//go:embed static/index.html static/app.js static/style.css dist/mqtt.min.js
var files embed.FS

// asset is one embedded file as served, and its gzip encoding when that
// is smaller.
type asset struct {
	body        []byte
	contentType string
	etag        string
	gz          []byte
	gzETag      string
}

// routes maps request paths to embedded files.
var routes = map[string]string{
	"/":            "static/index.html",
	"/index.html":  "static/index.html",
	"/app.js":      "static/app.js",
	"/style.css":   "static/style.css",
	"/mqtt.min.js": "dist/mqtt.min.js",
}

var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
}

// csp keeps the page to its own scripts and styles. connect-src allows any
// ws/wss URL because the broker URL is editable; worker-src allows the
// blob: worker MQTT.js uses for keep-alive timers that background tabs do
// not throttle.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self' ws: wss:; worker-src blob:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// loadAssets reads and compresses the page's embedded files once.
var loadAssets = sync.OnceValue(func() map[string]*asset { return readAssets(files, routes) })

// readAssets reads and compresses the files of fsys that routes names, by
// request path.
func readAssets(fsys fs.FS, routes map[string]string) map[string]*asset {
	assets := make(map[string]*asset, len(routes))
	byFile := map[string]*asset{}
	for p, name := range routes {
		a := byFile[name]
		if a == nil {
			body, err := fs.ReadFile(fsys, name)
			if err != nil {
				panic("web: embedded file missing: " + name) // caught by the package's tests
			}
			a = &asset{body: body, contentType: contentTypes[path.Ext(name)], etag: etagOf(body, "")}
			var buf bytes.Buffer
			zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
			zw.Write(body)
			zw.Close()
			if buf.Len() < len(body) {
				a.gz, a.gzETag = buf.Bytes(), etagOf(body, "-gzip")
			}
			byFile[name] = a
		}
		assets[p] = a
	}
	return assets
}

func etagOf(body []byte, suffix string) string {
	sum := sha256.Sum256(body)
	return `"` + hex.EncodeToString(sum[:12]) + suffix + `"`
}

// Handler returns the handler of the diagnostic page. It answers GET and
// HEAD for "/", "/index.html", "/app.js", "/style.css" and "/mqtt.min.js"
// (gzip-encoded for clients that accept it), 404 for any other path and
// 405 for other methods.
func Handler() http.Handler { return serveAssets(loadAssets(), csp) }

// serveAssets serves assets by request path, HTML with the Content
// Security Policy csp.
func serveAssets(assets map[string]*asset, csp string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a := assets[r.URL.Path]
		if a == nil {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("Content-Type", a.contentType)
		// Revalidate every time: the page must match the running gateway.
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		if strings.HasPrefix(a.contentType, "text/html") {
			h.Set("Content-Security-Policy", csp)
			h.Set("X-Frame-Options", "DENY")
		}
		body, etag := a.body, a.etag
		if a.gz != nil {
			h.Set("Vary", "Accept-Encoding")
			if acceptsGzip(r) {
				body, etag = a.gz, a.gzETag
				h.Set("Content-Encoding", "gzip")
			}
		}
		h.Set("ETag", etag)
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
	})
}

// acceptsGzip reports whether the request's Accept-Encoding allows gzip
// (a "gzip" or "*" coding whose q is not 0).
func acceptsGzip(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept-Encoding") {
		for part := range strings.SplitSeq(v, ",") {
			coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
			coding = strings.ToLower(strings.TrimSpace(coding))
			if coding != "gzip" && coding != "*" {
				continue
			}
			q := strings.ReplaceAll(strings.ToLower(params), " ", "")
			if q == "q=0" || q == "q=0.0" || q == "q=0.00" || q == "q=0.000" {
				return false
			}
			return true
		}
	}
	return false
}
