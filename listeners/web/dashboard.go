package web

import (
	"embed"
	"net/http"
	"sync"
)

// The operator dashboard: a page the admin listener serves at
// /dashboard/ (gateway/admin, wired in gateway/admin_source.go). It asks
// for the admin token, keeps it in memory and polls the admin API of the
// same origin with it: GET /api/v1/overview (counters, gauges,
// listeners, top clients) and /api/v1/clients, charting rates with uPlot
// (dist/uplot.min.js, built by build/build.sh like the MQTT.js bundle).

//go:embed dashboard/index.html dashboard/dashboard.js dashboard/dashboard.css dist/uplot.min.js dist/uplot.min.css
var dashboardFiles embed.FS

// dashboardRoutes maps request paths, below the dashboard's prefix, to
// embedded files.
var dashboardRoutes = map[string]string{
	"/":              "dashboard/index.html",
	"/index.html":    "dashboard/index.html",
	"/dashboard.js":  "dashboard/dashboard.js",
	"/dashboard.css": "dashboard/dashboard.css",
	"/uplot.min.js":  "dist/uplot.min.js",
	"/uplot.min.css": "dist/uplot.min.css",
}

// dashboardCSP keeps the dashboard to its own files and its own origin:
// it talks to nothing but the admin API that served it.
const dashboardCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

var loadDashboard = sync.OnceValue(func() map[string]*asset { return readAssets(dashboardFiles, dashboardRoutes) })

// Dashboard returns the handler of the operator dashboard's files, for
// paths relative to where it is mounted (strip the prefix first): GET and
// HEAD of "/", "/index.html", "/dashboard.js", "/dashboard.css",
// "/uplot.min.js" and "/uplot.min.css", 404 for any other path and 405
// for other methods, like Handler. The files hold no data and need no
// token; the page asks for it and sends it to the API.
func Dashboard() http.Handler { return serveAssets(loadDashboard(), dashboardCSP) }
