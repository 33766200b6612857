package listeners

import (
	"context"
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

// TestTLSHandshakeDeadline: the handshake timeout bounds the handshake
// only (a connection idle longer afterwards still works), and ending the
// Serve context cuts a pending handshake short, however long its timeout.
func TestTLSHandshakeDeadline(t *testing.T) {
	pki := newPKI(t)
	t.Run("cleared after the handshake", func(t *testing.T) {
		cfg := testConfig(t)
		cfg.TLS = pki.serverConfig(false)
		cfg.HandshakeTimeout = 50 * time.Millisecond
		ln, err := ListenTLS(cfg)
		if err != nil {
			t.Fatal(err)
		}
		got := serveEcho(t, ln)
		c := tlsClient(t, dialTCP(t, ln.Addr().String()), pki)
		next(t, got)
		time.Sleep(4 * cfg.HandshakeTimeout)
		echo(t, c, "still here")
	})
	t.Run("cut short by shutdown", func(t *testing.T) {
		cfg := testConfig(t)
		cfg.TLS = pki.serverConfig(false)
		cfg.HandshakeTimeout = time.Hour
		ln, err := ListenTLS(cfg)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- ln.Serve(ctx, func(c net.Conn, _ *Meta) { c.Close() }) }()
		c := dialTCP(t, ln.Addr().String())
		// A partial ClientHello record header: the handshake waits for
		// the rest.
		if _, err := c.Write([]byte{0x16, 0x03, 0x01}); err != nil {
			t.Fatal(err)
		}
		cancel()
		expectClosed(t, c)
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
}
