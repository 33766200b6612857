package listeners

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"net/netip"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

// waitTimeout bounds every wait of these tests; it is a safety net, not
// a timing assertion.
const waitTimeout = 10 * time.Second

// accepted is one connection handed over by a listener.
type accepted struct {
	conn net.Conn
	meta *Meta
}

// serveEcho runs ln until the test ends; each handed-over connection is
// reported on the returned channel and echoes what it reads.
func serveEcho(tb testing.TB, ln Listener) <-chan accepted {
	tb.Helper()
	got := make(chan accepted, 16)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- ln.Serve(ctx, func(c net.Conn, m *Meta) {
			got <- accepted{c, m}
			io.Copy(c, c)
			// Close as the gateway does: half-close, drain, close.
			if cw, ok := c.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
				c.SetReadDeadline(time.Now().Add(waitTimeout))
				io.Copy(io.Discard, c)
			}
			c.Close()
		})
	}()
	tb.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				tb.Errorf("Serve: %v", err)
			}
		case <-time.After(waitTimeout):
			tb.Errorf("Serve did not return")
		}
	})
	return got
}

// next returns the next handed-over connection.
func next(tb testing.TB, got <-chan accepted) accepted {
	tb.Helper()
	select {
	case a := <-got:
		return a
	case <-time.After(waitTimeout):
		tb.Fatalf("no connection handed over")
		return accepted{}
	}
}

// expectNone fails when a connection was handed over.
func expectNone(tb testing.TB, got <-chan accepted) {
	tb.Helper()
	select {
	case a := <-got:
		tb.Fatalf("connection from %v handed over, want none", a.meta.RemoteAddr)
	default:
	}
}

// echo writes msg on c and reads it back.
func echo(tb testing.TB, c net.Conn, msg string) {
	tb.Helper()
	c.SetDeadline(time.Now().Add(waitTimeout))
	if _, err := c.Write([]byte(msg)); err != nil {
		tb.Fatalf("writing: %v", err)
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil {
		tb.Fatalf("reading the echo: %v", err)
	}
	if string(buf) != msg {
		tb.Fatalf("echo = %q, want %q", buf, msg)
	}
}

// expectClosed fails unless the server closes c without sending data.
func expectClosed(tb testing.TB, c net.Conn) {
	tb.Helper()
	c.SetReadDeadline(time.Now().Add(waitTimeout))
	n, err := c.Read(make([]byte, 64))
	if err == nil || n > 0 {
		tb.Fatalf("read %d bytes, err %v: want the connection closed", n, err)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		tb.Fatalf("connection not closed: %v", err)
	}
}

// testPKI is a CA with a server certificate for localhost, and a client
// certificate factory.
type testPKI struct {
	ca     *x509.Certificate
	caKey  *ecdsa.PrivateKey
	pool   *x509.CertPool
	server tls.Certificate
}

func newPKI(tb testing.TB) *testPKI {
	tb.Helper()
	key := newKey(tb)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatalf("creating ca: %v", err)
	}
	ca, _ := x509.ParseCertificate(der)
	p := &testPKI{ca: ca, caKey: key, pool: x509.NewCertPool()}
	p.pool.AddCert(ca)
	p.server = p.issue(tb, "localhost", x509.ExtKeyUsageServerAuth)
	return p
}

func newKey(tb testing.TB) *ecdsa.PrivateKey {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatalf("generating key: %v", err)
	}
	return key
}

// issue makes a certificate for cn signed by the CA.
func (p *testPKI) issue(tb testing.TB, cn string, usage x509.ExtKeyUsage) tls.Certificate {
	tb.Helper()
	key := newKey(tb)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: []string{cn}, ExtKeyUsage: []x509.ExtKeyUsage{usage}, KeyUsage: x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		tb.Fatalf("issuing %s: %v", cn, err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// serverConfig is a server configuration; with clientCAs it requires
// client certificates.
func (p *testPKI) serverConfig(requireClient bool) *tls.Config {
	c := &tls.Config{Certificates: []tls.Certificate{p.server}, MinVersion: tls.VersionTLS12}
	if requireClient {
		c.ClientAuth, c.ClientCAs = tls.RequireAndVerifyClientCert, p.pool
	}
	return c
}

func (p *testPKI) clientConfig() *tls.Config {
	return &tls.Config{RootCAs: p.pool, ServerName: "localhost"}
}

// prefixes parses CIDRs.
func prefixes(tb testing.TB, cidrs ...string) []netip.Prefix {
	tb.Helper()
	var out []netip.Prefix
	for _, c := range cidrs {
		out = append(out, netip.MustParsePrefix(c))
	}
	return out
}

// testConfig is a loopback listener configuration with a test logger.
// The listeners log refusals at debug from connection goroutines that
// may outlive a test, so debug messages are left out.
func testConfig(tb testing.TB) Config {
	tb.Helper()
	return Config{Name: "test", Address: "127.0.0.1:0", Log: zaptest.NewLogger(tb, zaptest.Level(zap.InfoLevel))}
}

// hostOf is the IP of addr.
func hostOf(tb testing.TB, addr net.Addr) string {
	tb.Helper()
	ip, ok := addrIP(addr)
	if !ok {
		tb.Fatalf("%v has no ip", addr)
	}
	return ip.String()
}
