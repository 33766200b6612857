package listeners

import (
	"net"
	"net/netip"
	"testing"

	proxyproto "github.com/pires/go-proxyproto"
	"github.com/pires/go-proxyproto/tlvparse"
)

// proxyHeader is a PROXY header from client 203.0.113.7:4711 to
// 198.51.100.1:1883.
func proxyHeader(tb testing.TB, version byte, tlvs ...proxyproto.TLV) *proxyproto.Header {
	tb.Helper()
	h := proxyproto.HeaderProxyFromAddrs(version,
		net.TCPAddrFromAddrPort(netip.MustParseAddrPort("203.0.113.7:4711")),
		net.TCPAddrFromAddrPort(netip.MustParseAddrPort("198.51.100.1:1883")))
	if len(tlvs) > 0 {
		if err := h.SetTLVs(tlvs); err != nil {
			tb.Fatalf("setting tlvs: %v", err)
		}
	}
	return h
}

// sslTLVs are what a TLS-terminating proxy sends: the server name and a
// verified client certificate with its common name.
func sslTLVs(tb testing.TB) []proxyproto.TLV {
	tb.Helper()
	ssl, err := tlvparse.PP2SSL{
		Client: tlvparse.PP2_BITFIELD_CLIENT_SSL | tlvparse.PP2_BITFIELD_CLIENT_CERT_CONN,
		Verify: 0,
		TLV: []proxyproto.TLV{
			{Type: proxyproto.PP2_SUBTYPE_SSL_VERSION, Value: []byte("TLSv1.3")},
			{Type: proxyproto.PP2_SUBTYPE_SSL_CN, Value: []byte("sensor-9")},
		},
	}.Marshal()
	if err != nil {
		tb.Fatalf("marshalling ssl tlv: %v", err)
	}
	return []proxyproto.TLV{{Type: proxyproto.PP2_TYPE_AUTHORITY, Value: []byte("mqtt.example.com")}, ssl}
}

func TestProxyProtocol(t *testing.T) {
	tests := []struct {
		name    string
		trusted []string
		header  func(testing.TB) *proxyproto.Header
		// wantAddr is the RemoteAddr handed over; "" when refused, "peer"
		// for the socket's own address.
		wantAddr string
		wantTLS  *ProxyTLS
	}{
		{"v1 from trusted", []string{"127.0.0.0/8"}, func(tb testing.TB) *proxyproto.Header { return proxyHeader(tb, 1) }, "203.0.113.7:4711", nil},
		{"v2 from trusted", []string{"127.0.0.1/32"}, func(tb testing.TB) *proxyproto.Header { return proxyHeader(tb, 2) }, "203.0.113.7:4711", nil},
		{"v2 with ssl tlvs", []string{"::1/128", "127.0.0.0/8"}, func(tb testing.TB) *proxyproto.Header { return proxyHeader(tb, 2, sslTLVs(tb)...) },
			"203.0.113.7:4711", &ProxyTLS{SNI: "mqtt.example.com", ClientCN: "sensor-9", Verified: true, Version: "TLSv1.3"}},
		{"no header from trusted", []string{"127.0.0.0/8"}, nil, "peer", nil},
		{"v1 from untrusted", []string{"10.0.0.0/8"}, func(tb testing.TB) *proxyproto.Header { return proxyHeader(tb, 1) }, "", nil},
		{"v2 from untrusted", []string{"10.0.0.0/8"}, func(tb testing.TB) *proxyproto.Header { return proxyHeader(tb, 2) }, "", nil},
		{"no header from untrusted", []string{"10.0.0.0/8"}, nil, "peer", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t)
			cfg.Proxy = ProxyConfig{Trusted: prefixes(t, tt.trusted...)}
			ln, err := ListenTCPConfig(cfg)
			if err != nil {
				t.Fatal(err)
			}
			got := serveEcho(t, ln)
			c := dialTCP(t, ln.Addr().String())
			if tt.header != nil {
				if _, err := tt.header(t).WriteTo(c); err != nil {
					t.Fatalf("writing header: %v", err)
				}
			}
			if tt.wantAddr == "" {
				expectClosed(t, c)
				expectNone(t, got)
				return
			}
			echo(t, c, "\x10mqtt")
			a := next(t, got)
			want := tt.wantAddr
			if want == "peer" {
				want = c.LocalAddr().String()
			}
			if a.meta.RemoteAddr.String() != want {
				t.Errorf("RemoteAddr = %v, want %s", a.meta.RemoteAddr, want)
			}
			switch {
			case tt.wantTLS == nil && a.meta.ProxyTLS != nil:
				t.Errorf("ProxyTLS = %+v, want nil", a.meta.ProxyTLS)
			case tt.wantTLS != nil && (a.meta.ProxyTLS == nil || *a.meta.ProxyTLS != *tt.wantTLS):
				t.Errorf("ProxyTLS = %+v, want %+v", a.meta.ProxyTLS, tt.wantTLS)
			}
		})
	}
}

func TestProxyProtocolBeforeTLS(t *testing.T) {
	pki := newPKI(t)
	cfg := testConfig(t)
	cfg.TLS = pki.serverConfig(false)
	cfg.Proxy = ProxyConfig{Trusted: prefixes(t, "127.0.0.0/8")}
	ln, err := ListenTLS(cfg)
	if err != nil {
		t.Fatal(err)
	}
	got := serveEcho(t, ln)
	raw := dialTCP(t, ln.Addr().String())
	if _, err := proxyHeader(t, 2).WriteTo(raw); err != nil {
		t.Fatal(err)
	}
	c := tlsClient(t, raw, pki)
	echo(t, c, "hi")
	a := next(t, got)
	if a.meta.RemoteAddr.String() != "203.0.113.7:4711" || a.meta.TLS == nil {
		t.Errorf("meta = %+v, want the header's address and the tls state", a.meta)
	}
}
