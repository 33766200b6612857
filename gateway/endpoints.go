package gateway

// Start-up tells the operator where things are: the "listening" line of
// each listener carries a URL a client can use as written (mqtt://,
// mqtts://, ws://…/mqtt, wss://…/mqtt), the diagnostic page's URL when the
// listener serves it, and, for a self-signed certificate, the file to
// pass as --cafile; the ops line carries its /metrics, /healthz and
// /readyz URLs and the admin line the dashboard's URL.

import (
	"net"
	"path/filepath"
	"strconv"
	"strings"

	"edgemq/configs"

	"go.uber.org/zap"
)

// dialHost returns the host:port a client on this machine dials to reach
// a listener configured at configured and bound at a: a wildcard address
// becomes the loopback address, 127.0.0.1 unless configured names an IPv6
// host ("[::]:1883"); both are covered by the self-signed certificate's
// default hosts. (Go reports a listener bound to 0.0.0.0 as [::], dual
// stack, so the configured address decides.)
func dialHost(configured string, a net.Addr) string {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return a.String()
	}
	ip := ta.IP
	if ip == nil || ip.IsUnspecified() {
		ip = net.IPv4(127, 0, 0, 1)
		if host, _, err := net.SplitHostPort(configured); err == nil && strings.Contains(host, ":") {
			ip = net.IPv6loopback
		}
	}
	return net.JoinHostPort(ip.String(), strconv.Itoa(ta.Port))
}

// listenerURLs returns the URL of a listener bound at a for its type
// (mqtt://, mqtts://, ws://HOST/PATH, wss://HOST/PATH), and its page URL
// when it serves the diagnostic page.
func listenerURLs(lc configs.Listener, a net.Addr) (url, page string) {
	host := dialHost(lc.Address, a)
	path := lc.WebSocket.Path
	if path == "" {
		path = "/mqtt"
	}
	switch lc.Type {
	case "tcp":
		return "mqtt://" + host, ""
	case "tls":
		return "mqtts://" + host, ""
	case "ws", "wss":
		scheme := "http"
		if lc.Type == "wss" {
			scheme = "https"
		}
		if lc.WebSocket.Page {
			page = scheme + "://" + host + "/"
		}
		return lc.Type + "://" + host + path, page
	}
	return "", ""
}

// selfSignedCert returns the path of the development certificate clients
// of a tls or wss listener must trust (DATA_DIR/certs/selfsigned.crt,
// certs.newSelfSigned), or "" when its tls source is not self_signed.
func selfSignedCert(cfg *configs.Config, lc configs.Listener) string {
	if lc.Type != "tls" && lc.Type != "wss" {
		return ""
	}
	src, ok := cfg.TLS[lc.TLS]
	if !ok || (src.Source != "" && src.Source != "self_signed") {
		return ""
	}
	p := filepath.Join(cfg.DataDir, "certs", "selfsigned.crt")
	if abs, err := filepath.Abs(p); err == nil {
		p = abs
	}
	return p
}

// listenerURLFields are the fields of a listener's "listening" line: url,
// and page_url and cafile where they apply.
func (s *Server) listenerURLFields(l *listenerState) []zap.Field {
	url, page := listenerURLs(l.cfg, l.ln.Addr())
	fields := []zap.Field{zap.String("url", url)}
	if page != "" {
		fields = append(fields, zap.String("page_url", page))
	}
	if ca := selfSignedCert(s.config(), l.cfg); ca != "" {
		fields = append(fields, zap.String("cafile", ca))
	}
	return fields
}

// opsURLFields are the fields of the "ops listening" line of the ops
// listener configured at configured and bound at a.
func opsURLFields(configured string, a net.Addr) []zap.Field {
	base := "http://" + dialHost(configured, a)
	return []zap.Field{
		zap.String("metrics_url", base+"/metrics"),
		zap.String("healthz_url", base+"/healthz"),
		zap.String("readyz_url", base+"/readyz"),
	}
}

// adminURLFields are the fields of the "admin api listening" line of the
// admin listener configured at configured and bound at a.
func adminURLFields(configured string, a net.Addr) []zap.Field {
	base := "http://" + dialHost(configured, a)
	return []zap.Field{
		zap.String("api_url", base+"/api/v1/"),
		zap.String("dashboard_url", base+dashboardPath),
	}
}
