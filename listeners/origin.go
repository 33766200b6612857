package listeners

import (
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
)

// originRule decides which browser origins may open a WebSocket
// (RFC 6455 section 10.2: the server checks Origin to refuse other
// sites' pages using a visitor's browser). Its rule, row by row:
//
//   - no Origin header: accepted. Browsers always send one on a
//     WebSocket upgrade (RFC 6455 4.1), so a request without one is not a
//     browser's and Origin protects nothing against it;
//   - "null", an empty value, several Origin headers, or anything that is
//     not http(s)://host[:port]: refused. "null" is the opaque origin of
//     sandboxed frames, data: and file: pages, which any site can produce;
//   - with allowed_origins set, the list is the only rule: the origin
//     must be one of them. Scheme and host compare without regard to
//     case (RFC 6454 4: browsers send them lowercase), a default port
//     (:80 for http, :443 for https) is the same as none; a host with a
//     trailing dot or another port is another origin and is refused;
//   - with no list, same origin only: the origin must be the request's
//     own scheme://Host, and Host's name must be one of the listener's
//     names: ServerNames and the loopback names (localhost, 127.0.0.1,
//     ::1). Host alone proves nothing: under DNS rebinding a page of
//     evil.com reaches the gateway with Host: evil.com and Origin:
//     http://evil.com. A loopback name is always safe: a page has a
//     loopback origin only when the browser loaded it from its own
//     machine, through the same port (the gateway itself, or a tunnel to
//     it), and no remote page can make a browser send it.
type originRule struct {
	// allowed are the normalised allowed origins; when set, the only rule.
	allowed []string
	// names are the lowercase host names and addresses (IPv6 without
	// brackets) whose same-origin requests pass when allowed is empty.
	names []string
}

// loopbackNames are every listener's names, besides ServerNames.
func loopbackNames() []string { return []string{"localhost", "127.0.0.1", "::1"} }

// newOriginRule builds a listener's rule.
func newOriginRule(allowed, serverNames []string) originRule {
	var r originRule
	for _, a := range allowed {
		if o, ok := normalOrigin(a); ok {
			r.allowed = append(r.allowed, o)
		}
	}
	r.names = loopbackNames()
	for _, n := range serverNames {
		r.names = append(r.names, strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(n, "["), "]")))
	}
	return r
}

// allows reports whether r's Origin may connect.
func (o originRule) allows(r *http.Request) bool {
	values := r.Header.Values("Origin")
	if len(values) == 0 {
		return true
	}
	if len(values) > 1 {
		return false
	}
	origin, ok := normalOrigin(values[0])
	if !ok {
		return false
	}
	if len(o.allowed) > 0 {
		return slices.Contains(o.allowed, origin)
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	self, ok := normalOrigin(scheme + "://" + r.Host)
	if !ok || self != origin {
		return false
	}
	u, err := url.Parse(self)
	return err == nil && slices.Contains(o.names, u.Hostname())
}

// normalOrigin returns s as scheme://host[:port], lowercase and without a
// default port; ok is false when s is not an http or https origin (a
// path other than "/", a query, a fragment or user info).
func normalOrigin(s string) (string, bool) {
	if s == "" || s == "null" {
		return "", false
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") ||
		u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.Opaque != "" {
		return "", false
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return "", false
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if host == "" || (strings.HasSuffix(u.Host, ":") && port == "") {
		return "", false
	}
	if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		port = ""
	}
	if strings.Contains(host, ":") {
		if _, err := netip.ParseAddr(host); err != nil {
			return "", false
		}
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	return scheme + "://" + host, true
}
