package listeners

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"testing"
	"time"
)

func TestTLSHandshakeBeforeHandover(t *testing.T) {
	pki := newPKI(t)
	cfg := testConfig(t)
	cfg.TLS = pki.serverConfig(true)
	ln, err := ListenTLS(cfg)
	if err != nil {
		t.Fatal(err)
	}
	got := serveEcho(t, ln)

	cc := pki.clientConfig()
	cc.Certificates = []tls.Certificate{pki.issue(t, "sensor-1", x509.ExtKeyUsageClientAuth)}
	c, err := tls.Dial("tcp", ln.Addr().String(), cc)
	if err != nil {
		t.Fatalf("dialing: %v", err)
	}
	defer c.Close()
	echo(t, c, "hello")
	a := next(t, got)
	if a.meta.Transport != TLS || a.meta.Listener != "test" {
		t.Errorf("meta = %+v, want transport tls on listener test", a.meta)
	}
	st := a.meta.TLS
	switch {
	case st == nil:
		t.Fatal("Meta.TLS is nil")
	case !st.HandshakeComplete:
		t.Error("handshake not complete")
	case st.ServerName != "localhost":
		t.Errorf("ServerName = %q, want localhost", st.ServerName)
	case st.Version != tls.VersionTLS13:
		t.Errorf("Version = %x, want TLS 1.3", st.Version)
	case len(st.PeerCertificates) != 1 || st.PeerCertificates[0].Subject.CommonName != "sensor-1":
		t.Errorf("peer certificates = %v, want sensor-1", st.PeerCertificates)
	}
}

func TestTLSFailedHandshakeNotHandedOver(t *testing.T) {
	pki := newPKI(t)
	tests := []struct {
		name string
		run  func(t *testing.T, addr string)
	}{
		{"plain mqtt on a tls port", func(t *testing.T, addr string) {
			c := dialTCP(t, addr)
			c.Write([]byte{0x10, 0x0c, 0, 4, 'M', 'Q', 'T', 'T', 4, 2, 0, 60, 0, 0})
			expectClosed(t, c)
		}},
		{"client certificate missing", func(t *testing.T, addr string) {
			c, err := tls.Dial("tcp", addr, pki.clientConfig())
			if err == nil {
				// TLS 1.3: the refusal arrives after the client's Finished.
				_, err = c.Read(make([]byte, 1))
				c.Close()
			}
			if err == nil {
				t.Fatal("handshake without a client certificate succeeded")
			}
		}},
		{"silent client", func(t *testing.T, addr string) {
			expectClosed(t, dialTCP(t, addr))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t)
			cfg.TLS = pki.serverConfig(true)
			cfg.HandshakeTimeout = 100 * time.Millisecond
			ln, err := ListenTLS(cfg)
			if err != nil {
				t.Fatal(err)
			}
			got := serveEcho(t, ln)
			tt.run(t, ln.Addr().String())
			expectNone(t, got)
		})
	}
}

func dialTCP(tb testing.TB, addr string) net.Conn {
	tb.Helper()
	c, err := net.DialTimeout("tcp", addr, waitTimeout)
	if err != nil {
		tb.Fatalf("dialing: %v", err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// tlsClient runs a client handshake on raw.
func tlsClient(tb testing.TB, raw net.Conn, pki *testPKI) *tls.Conn {
	tb.Helper()
	c := tls.Client(raw, pki.clientConfig())
	c.SetDeadline(time.Now().Add(waitTimeout))
	if err := c.Handshake(); err != nil {
		tb.Fatalf("handshaking: %v", err)
	}
	return c
}
