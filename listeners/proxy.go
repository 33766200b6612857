package listeners

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	proxyproto "github.com/pires/go-proxyproto"
	"github.com/pires/go-proxyproto/tlvparse"
)

// defaultHeaderTimeout bounds the wait for a PROXY header when
// proxy_protocol.header_timeout is unset.
const defaultHeaderTimeout = 5 * time.Second

// ProxyConfig enables the PROXY protocol (v1 and v2, auto-detected).
//
// Policy: a peer in Trusted may send a header (it is optional: a trusted
// peer without one is served with its socket address — the proxy's
// health checks do that); its source address becomes Meta.RemoteAddr.
// Any other peer that sends a header is refused — its claim about who it
// is cannot be believed, and serving it under its own address would hide
// a misconfigured or hostile proxy — and peers without a header are
// served as usual. An empty Trusted list turns the PROXY protocol off.
type ProxyConfig struct {
	Trusted []netip.Prefix
	// HeaderTimeout bounds the wait for the header (default 5s); a peer
	// that sends nothing for that long is treated as sending none.
	HeaderTimeout time.Duration
}

// ProxyTLS is what a TLS-terminating proxy reported in its PROXY v2
// header (PP2_TYPE_AUTHORITY and the PP2_TYPE_SSL sub-TLVs, PROXY
// protocol spec section 2.2.5/2.2.6).
type ProxyTLS struct {
	// SNI is the server name the client asked for (PP2_TYPE_AUTHORITY).
	SNI string
	// ClientCN is the common name of the client certificate
	// (PP2_SUBTYPE_SSL_CN), empty when there was none.
	ClientCN string
	// Verified reports that the proxy verified the client certificate
	// (PP2_TYPE_SSL verify field is 0).
	Verified bool
	// Version is the TLS version the client used (PP2_SUBTYPE_SSL_VERSION).
	Version string
}

// trusts reports whether addr is in one of the prefixes.
func trusts(prefixes []netip.Prefix, addr net.Addr) bool {
	ip, ok := addrIP(addr)
	if !ok {
		return false
	}
	for _, p := range prefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

func addrIP(addr net.Addr) (netip.Addr, bool) {
	switch a := addr.(type) {
	case *net.TCPAddr:
		ip, ok := netip.AddrFromSlice(a.IP)
		return ip.Unmap(), ok
	case nil:
		return netip.Addr{}, false
	}
	ap, err := netip.ParseAddrPort(addr.String())
	if err != nil {
		return netip.Addr{}, false
	}
	return ap.Addr().Unmap(), true
}

// withProxy wraps ln so that accepted connections parse a PROXY header
// under cfg's policy. The header is read lazily, on the first Read, i.e.
// on the connection's own goroutine; readProxyHeader forces it.
func withProxy(ln net.Listener, cfg ProxyConfig) net.Listener {
	if len(cfg.Trusted) == 0 {
		return ln
	}
	timeout := cfg.HeaderTimeout
	if timeout <= 0 {
		timeout = defaultHeaderTimeout
	}
	trusted := cfg.Trusted
	return &proxyproto.Listener{
		Listener:          ln,
		ReadHeaderTimeout: timeout,
		ConnPolicy: func(o proxyproto.ConnPolicyOptions) (proxyproto.Policy, error) {
			if trusts(trusted, o.Upstream) {
				return proxyproto.USE, nil
			}
			return proxyproto.REJECT, nil
		},
	}
}

// readProxyHeader reads the PROXY header of conn, if conn is a PROXY
// protocol connection, and fills meta's addresses and ProxyTLS from it.
// An untrusted peer's header is an error.
func readProxyHeader(conn net.Conn, meta *Meta) error {
	pc, ok := conn.(*proxyproto.Conn)
	if !ok {
		return nil
	}
	// A zero-length read processes the header and nothing else.
	if _, err := pc.Read(nil); err != nil {
		if errors.Is(err, proxyproto.ErrSuperfluousProxyHeader) {
			return fmt.Errorf("reading proxy header: untrusted peer %s sent one: %w", pc.Raw().RemoteAddr(), err)
		}
		return fmt.Errorf("reading proxy header: %w", err)
	}
	meta.RemoteAddr, meta.LocalAddr = pc.RemoteAddr(), pc.LocalAddr()
	meta.ProxyTLS = proxyTLSOf(pc.ProxyHeader())
	return nil
}

// proxyTLSOf extracts the TLS facts of a v2 header, nil when the proxy
// did not report a TLS connection.
func proxyTLSOf(h *proxyproto.Header) *ProxyTLS {
	if h == nil || h.Version != 2 {
		return nil
	}
	tlvs, err := h.TLVs()
	if err != nil {
		return nil
	}
	ssl, ok := tlvparse.FindSSL(tlvs)
	if !ok || !ssl.ClientSSL() {
		return nil
	}
	pt := &ProxyTLS{}
	for _, t := range tlvs {
		if t.Type == proxyproto.PP2_TYPE_AUTHORITY {
			pt.SNI = string(bytes.Clone(t.Value))
		}
	}
	if ssl.ClientCertConn() || ssl.ClientCertSess() {
		pt.ClientCN, _ = ssl.ClientCN()
		pt.Verified = ssl.Verified()
	}
	pt.Version, _ = ssl.SSLVersion()
	return pt
}
