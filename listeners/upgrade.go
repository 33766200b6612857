package listeners

import (
	"net/http"
	"net/textproto"
	"net/url"
)

// UpgradeRequest is what a WebSocket connection keeps of its HTTP upgrade
// request for its whole life (Meta.Request): what authentication backends
// read (auth.RequestInfo), the header lines and the URL's query, in a
// flat form. The request itself — its header map, URL, and net/http's
// per-request state — is not kept. The headers of the WebSocket handshake
// itself (Upgrade, Connection, Sec-WebSocket-Key, -Version and
// -Extensions) are dropped; Sec-WebSocket-Protocol is kept, as are all
// others. A nil *UpgradeRequest (tcp, tls) answers "" to everything.
type UpgradeRequest struct {
	// header holds canonical name, value pairs in the request's order.
	header []string
	query  string
}

// handshakeHeaders are the upgrade request's headers that only the
// WebSocket handshake reads.
var handshakeHeaders = [...]string{"Upgrade", "Connection", "Sec-Websocket-Key", "Sec-Websocket-Version", "Sec-Websocket-Extensions"}

// keepRequest makes r's UpgradeRequest.
func keepRequest(r *http.Request) *UpgradeRequest {
	n := 0
	for name, vs := range r.Header {
		if kept(name) {
			n += 2 * len(vs)
		}
	}
	u := &UpgradeRequest{header: make([]string, 0, n)}
	if r.URL != nil {
		u.query = r.URL.RawQuery
	}
	for name, vs := range r.Header {
		if !kept(name) {
			continue
		}
		for _, v := range vs {
			u.header = append(u.header, name, v)
		}
	}
	return u
}

func kept(name string) bool {
	for _, h := range handshakeHeaders {
		if name == h {
			return false
		}
	}
	return true
}

// Header returns the first value of the named header ("" if none); the
// name is matched case-insensitively, like http.Header.Get.
func (u *UpgradeRequest) Header(name string) string {
	if u == nil {
		return ""
	}
	name = textproto.CanonicalMIMEHeaderKey(name)
	for i := 0; i+1 < len(u.header); i += 2 {
		if u.header[i] == name {
			return u.header[i+1]
		}
	}
	return ""
}

// Values returns every value of the named header, like http.Header.Values.
func (u *UpgradeRequest) Values(name string) []string {
	if u == nil {
		return nil
	}
	name = textproto.CanonicalMIMEHeaderKey(name)
	var out []string
	for i := 0; i+1 < len(u.header); i += 2 {
		if u.header[i] == name {
			out = append(out, u.header[i+1])
		}
	}
	return out
}

// Cookie returns the value of the named cookie of the Cookie headers, ""
// if none (http.Request.Cookie's parsing).
func (u *UpgradeRequest) Cookie(name string) string {
	vs := u.Values("Cookie")
	if len(vs) == 0 {
		return ""
	}
	r := http.Request{Header: http.Header{"Cookie": vs}}
	c, err := r.Cookie(name)
	if err != nil {
		return ""
	}
	return c.Value
}

// Query returns the first value of the URL's query parameter, "" if
// none.
func (u *UpgradeRequest) Query(name string) string {
	if u == nil || u.query == "" {
		return ""
	}
	q, _ := url.ParseQuery(u.query)
	return q.Get(name)
}

// NewUpgradeRequest makes an UpgradeRequest of a header and a raw query,
// for an embedding program's tests of its authenticators.
func NewUpgradeRequest(h http.Header, rawQuery string) *UpgradeRequest {
	return keepRequest(&http.Request{Header: h, URL: &url.URL{RawQuery: rawQuery}})
}
