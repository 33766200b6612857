package certs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"testing"

	"edgemq/configs"
)

// handshakePair runs one full TLS handshake between a client offering
// curves (nil: Go's defaults, which send X25519MLKEM768 and X25519 key
// shares, as recent Go, browsers and OpenSSL 3.5 clients do) and the
// server configuration tc, over an in-memory pipe. It returns the
// server's connection state.
func handshakePair(tb testing.TB, tc *tls.Config, curves []tls.CurveID) tls.ConnectionState {
	tb.Helper()
	cc, sc := net.Pipe()
	defer cc.Close()
	defer sc.Close()
	errc := make(chan error, 1)
	go func() {
		c := tls.Client(cc, &tls.Config{ServerName: "localhost", InsecureSkipVerify: true, NextProtos: []string{ALPNProtocol}, CurvePreferences: curves})
		errc <- c.HandshakeContext(context.Background())
	}()
	s := tls.Server(sc, tc)
	if err := s.HandshakeContext(context.Background()); err != nil {
		tb.Fatalf("server handshake: %v", err)
	}
	if err := <-errc; err != nil {
		tb.Fatalf("client handshake: %v", err)
	}
	return s.ConnectionState()
}

// TestDefaultKeyExchange: the default configuration serves the ECDSA
// certificate with X25519 to clients that offer it (also alongside the
// post-quantum hybrid), and still the NIST curves to those that do not.
func TestDefaultKeyExchange(t *testing.T) {
	tc := newSource(t, configs.TLSSource{}, t.TempDir()).TLSConfig()
	if len(tc.Certificates) != 1 || tc.Certificates[0].Leaf.PublicKeyAlgorithm != x509.ECDSA {
		t.Fatal("the self-signed source does not serve one ECDSA certificate")
	}
	tests := []struct {
		name   string
		client []tls.CurveID
		want   tls.CurveID
	}{
		{"go defaults with X25519MLKEM768", nil, tls.X25519MLKEM768},
		{"X25519", []tls.CurveID{tls.X25519}, tls.X25519},
		{"P-256 only", []tls.CurveID{tls.CurveP256}, tls.CurveP256},
		{"P-384 only", []tls.CurveID{tls.CurveP384}, tls.CurveP384},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := handshakePair(t, tc, tt.client)
			if st.Version != tls.VersionTLS13 {
				t.Errorf("version = %x, want TLS 1.3", st.Version)
			}
			if st.CurveID != tt.want {
				t.Errorf("key exchange = %v, want %v", st.CurveID, tt.want)
			}
			if st.NegotiatedProtocol != ALPNProtocol {
				t.Errorf("ALPN = %q, want %q", st.NegotiatedProtocol, ALPNProtocol)
			}
		})
	}
}

// BenchmarkTLSHandshake measures a full TLS 1.3 handshake, client and
// server together, against the self-signed (ECDSA P-256) source; the
// server's share is best read from a CPU profile (-cpuprofile, focus
// serverHandshake).
func BenchmarkTLSHandshake(b *testing.B) {
	tc := newSource(b, configs.TLSSource{}, b.TempDir()).TLSConfig()
	b.ReportAllocs()
	for b.Loop() {
		handshakePair(b, tc, nil)
	}
}
