package listeners

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// ProxyHeader names the one header a listener believes from its trusted
// proxies (WSConfig.ProxyHeader).
type ProxyHeader string

// The headers a trusted proxy may report the client address in.
const (
	// XForwardedFor is X-Forwarded-For, a comma-separated list of
	// addresses; the default.
	XForwardedFor ProxyHeader = "x-forwarded-for"
	// Forwarded is RFC 7239's Forwarded, whose for= parameters list the
	// addresses.
	Forwarded ProxyHeader = "forwarded"
)

// ParseProxyHeader parses a trusted_proxy_header setting; "" is
// XForwardedFor.
func ParseProxyHeader(s string) (ProxyHeader, error) {
	switch ProxyHeader(strings.ToLower(s)) {
	case "", XForwardedFor:
		return XForwardedFor, nil
	case Forwarded:
		return Forwarded, nil
	}
	return "", fmt.Errorf("%q is not x-forwarded-for or forwarded", s)
}

// forwardedFor returns the client address a trusted proxy reported in
// header, the one header the listener trusts: the other is ignored
// whatever it says, since a proxy that only appends to one passes the
// client's own copy of the other on unchanged. The list runs client
// first, each proxy appending the address it received from; only the
// right-most entries, written by trusted proxies, can be believed, so the
// walk goes from the right and stops at the first address that is not a
// trusted proxy. peer is the direct peer, itself trusted; it is returned
// when the header gives nothing usable.
func forwardedFor(h http.Header, header ProxyHeader, peer net.Addr, trusted []netip.Prefix) net.Addr {
	chain := forwardedChain(h, header)
	result := peer
	for i := len(chain) - 1; i >= 0; i-- {
		ap, ok := parseNode(chain[i])
		if !ok {
			// "unknown", obfuscated identifiers (RFC 7239 6.3) or garbage:
			// the hop that wrote it is the last address known.
			break
		}
		result = net.TCPAddrFromAddrPort(ap)
		if !trusts(trusted, result) {
			break
		}
	}
	return result
}

// forwardedChain lists the for= nodes of every Forwarded header, or the
// X-Forwarded-For entries, in header order: header says which.
func forwardedChain(h http.Header, header ProxyHeader) []string {
	var chain []string
	if header == Forwarded {
		for _, v := range h.Values("Forwarded") {
			for elem := range strings.SplitSeq(v, ",") {
				for pair := range strings.SplitSeq(elem, ";") {
					k, val, ok := strings.Cut(strings.TrimSpace(pair), "=")
					if ok && strings.EqualFold(k, "for") {
						chain = append(chain, strings.Trim(val, `"`))
					}
				}
			}
		}
		return chain
	}
	for _, v := range h.Values("X-Forwarded-For") {
		for e := range strings.SplitSeq(v, ",") {
			chain = append(chain, strings.TrimSpace(e))
		}
	}
	return chain
}

// parseNode parses a node: an IPv4 or IPv6 address, optionally with a
// port ("192.0.2.1:4711", "[2001:db8::1]:4711", "2001:db8::1").
func parseNode(s string) (netip.AddrPort, bool) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), true
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.AddrPortFrom(a.Unmap(), 0), true
	}
	return netip.AddrPort{}, false
}
