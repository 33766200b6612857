package listeners

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// forwardedFor returns the client address a trusted proxy reported: the
// Forwarded header's for= parameters (RFC 7239 section 5.2) or, when
// there is none, X-Forwarded-For. The list runs client first, each proxy
// appending the address it received from; only the right-most entries,
// written by trusted proxies, can be believed, so the walk goes from the
// right and stops at the first address that is not a trusted proxy. peer
// is the direct peer, itself trusted; it is returned when the headers
// give nothing usable.
func forwardedFor(h http.Header, peer net.Addr, trusted []netip.Prefix) net.Addr {
	chain := forwardedChain(h)
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
// X-Forwarded-For entries when there are none, in header order.
func forwardedChain(h http.Header) []string {
	var chain []string
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
	if chain != nil {
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
