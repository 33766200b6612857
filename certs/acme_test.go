package certs

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io/fs"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"edgemq/configs"

	"github.com/letsencrypt/pebble/v2/ca"
	"github.com/letsencrypt/pebble/v2/db"
	"github.com/letsencrypt/pebble/v2/va"
	"github.com/letsencrypt/pebble/v2/wfe"
	"github.com/miekg/dns"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// The ACME tests run a real Pebble (github.com/letsencrypt/pebble/v2) in
// process: its CA, VA and WFE packages wired as cmd/pebble does, the WFE
// served over TLS on 127.0.0.1 by httptest (whose certificate is the
// root_ca the sources trust). Pebble's VA resolves every name through a
// DNS server of the test that answers 127.0.0.1, and validates HTTP-01
// and TLS-ALPN-01 on ports the test chooses: the acme.http_address of the
// source and a TLS listener served with Source.TLSConfig().

// acmeWait bounds waiting for certificates (issuance takes well under a
// second against Pebble without its random sleeps).
const acmeWait = 60 * time.Second

// syncBuffer is a bytes.Buffer safe for concurrent writers: the logs of
// Pebble and of the source under test, printed when a test fails (they
// may still be written after the test ended, so t.Log cannot be used).
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testLogs returns a buffer whose content is logged if t fails.
func testLogs(t testing.TB) *syncBuffer {
	t.Helper()
	b := &syncBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs:\n%s", b.String())
		}
	})
	return b
}

// bufferLogger is a zap logger writing to b.
func bufferLogger(b *syncBuffer) *zap.Logger {
	enc := zapcore.NewConsoleEncoder(zap.NewDevelopmentEncoderConfig())
	return zap.New(zapcore.NewCore(enc, zapcore.AddSync(b), zapcore.DebugLevel))
}

// pebble is a running Pebble ACME server.
type pebble struct {
	// directory is the ACME directory URL.
	directory string
	// rootCA is a PEM file of the CA of the WFE's HTTPS certificate.
	rootCA string
	// roots holds Pebble's issuing root; intermediate signs leaves.
	roots        *x509.CertPool
	intermediate *x509.Certificate
	// requests counts the requests of ACME clients; orders the new-order
	// ones.
	requests, orders atomic.Int64
	// onOrder, when set, runs before Pebble handles a new-order request
	// (after it is counted) and may block it.
	onOrder atomic.Pointer[func()]
}

// startPebble starts Pebble, whose VA validates HTTP-01 on httpPort and
// TLS-ALPN-01 on tlsPort of 127.0.0.1 (every name resolves there).
// Certificates are valid for validity seconds (0: Pebble's 90 days).
func startPebble(t testing.TB, logs *syncBuffer, httpPort, tlsPort int, validity uint64) *pebble {
	t.Helper()
	// Read by va.New and wfe.New: no random validation sleeps, no bad
	// nonces, no authorization reuse (every order is validated).
	t.Setenv("PEBBLE_VA_NOSLEEP", "1")
	t.Setenv("PEBBLE_WFE_NONCEREJECT", "0")
	t.Setenv("PEBBLE_AUTHZREUSE", "0")

	logger := log.New(logs, "pebble ", log.LstdFlags)
	store := db.NewMemoryStore()
	authority := ca.New(logger, store, "", "ecdsa", 0, 1, map[string]ca.Profile{
		"default": {Description: "test profile", ValidityPeriod: validity},
	})
	validator := va.New(logger, httpPort, tlsPort, false, startDNS(t), store)
	front := wfe.New(logger, store, validator, authority, []string{"pebble.letsencrypt.org"}, false, false, 0, 0)

	p := &pebble{
		roots:        x509.NewCertPool(),
		intermediate: authority.GetIntermediateCert(0).Cert,
	}
	p.roots.AddCert(authority.GetRootCert(0).Cert)
	handler := front.Handler()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.requests.Add(1)
		if r.Method == http.MethodPost && r.URL.Path == "/order-plz" {
			p.orders.Add(1)
			if hook := p.onOrder.Load(); hook != nil {
				(*hook)()
			}
		}
		// Boulder (Let's Encrypt) answers finalize with the order's URL in
		// Location; Pebble no longer does (pebble#508), and x/crypto/acme,
		// hence autocert, needs it to poll the order (golang/go#77704).
		if id, ok := strings.CutPrefix(r.URL.Path, "/finalize-order/"); ok && r.Method == http.MethodPost {
			w.Header().Set("Location", "https://"+r.Host+"/my-order/"+id)
		}
		handler.ServeHTTP(w, r)
	}))
	srv.StartTLS()
	t.Cleanup(srv.Close)
	p.directory = srv.URL + wfe.DirectoryPath

	p.rootCA = filepath.Join(t.TempDir(), "pebble-wfe-ca.pem")
	block := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(p.rootCA, block, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// startDNS serves DNS over TCP on 127.0.0.1, answering every A question
// with 127.0.0.1 and AAAA questions with nothing, and returns its address.
func startDNS(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{
		Listener: ln,
		Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
			m := new(dns.Msg)
			m.SetReply(q)
			for _, question := range q.Question {
				if question.Qtype == dns.TypeA {
					m.Answer = append(m.Answer, &dns.A{
						Hdr: dns.RR_Header{Name: question.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
						A:   net.IPv4(127, 0, 0, 1),
					})
				}
			}
			_ = w.WriteMsg(m)
		}),
	}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return ln.Addr().String()
}

// acmeServeTLS completes TLS handshakes on ln with tc, as a listener would,
// until ln is closed.
func acmeServeTLS(t testing.TB, ln net.Listener, tc *tls.Config, logs *syncBuffer) {
	t.Helper()
	tln := tls.NewListener(ln, tc)
	go func() {
		for {
			conn, err := tln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				_ = conn.SetDeadline(time.Now().Add(acmeWait))
				if err := conn.(*tls.Conn).Handshake(); err != nil {
					fmt.Fprintf(logs, "server handshake: %v\n", err)
					return
				}
				_, _ = conn.Read(make([]byte, 1)) // until the client closes
			}()
		}
	}()
}

// acmeHandshake connects to addr with SNI name, verifying the chain against
// Pebble's root, and returns the leaf certificate.
func acmeHandshake(ctx context.Context, addr, name string, roots *x509.CertPool) (*x509.Certificate, error) {
	d := tls.Dialer{Config: &tls.Config{ServerName: name, RootCAs: roots, NextProtos: []string{ALPNProtocol}}}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return conn.(*tls.Conn).ConnectionState().PeerCertificates[0], nil
}

// waitCert retries handshakes until one succeeds, and returns its leaf.
func waitCert(t testing.TB, addr, name string, p *pebble) *x509.Certificate {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), acmeWait)
	defer cancel()
	for {
		leaf, err := acmeHandshake(ctx, addr, name, p.roots)
		if err == nil {
			checkIssued(t, leaf, name, p)
			return leaf
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no certificate for %s at %s: %v", name, addr, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// checkIssued fails t unless leaf is for name and signed by Pebble's
// intermediate.
func checkIssued(t testing.TB, leaf *x509.Certificate, name string, p *pebble) {
	t.Helper()
	if err := leaf.VerifyHostname(name); err != nil {
		t.Errorf("certificate: %v", err)
	}
	if err := leaf.CheckSignatureFrom(p.intermediate); err != nil {
		t.Errorf("certificate of %s not signed by pebble's intermediate %q: %v", name, p.intermediate.Subject, err)
	}
	if !bytes.Equal(leaf.RawIssuer, p.intermediate.RawSubject) {
		t.Errorf("certificate issuer = %q, want pebble's intermediate %q", leaf.Issuer, p.intermediate.Subject)
	}
}

// acmeConfig is the tls entry of a source using p.
func acmeConfig(source string, p *pebble, storage string, domains ...string) configs.TLSSource {
	return configs.TLSSource{
		Source: source,
		ACME: configs.ACME{
			Directory: p.directory,
			Email:     "ops@edge.test",
			Domains:   domains,
			RootCA:    p.rootCA,
			Storage:   storage,
		},
	}
}

// newACMESource builds a source and closes it when t ends.
func newACMESource(t testing.TB, cfg configs.TLSSource, logs *syncBuffer) Source {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), acmeWait)
	defer cancel()
	src, err := New(ctx, "acme", cfg, t.TempDir(), bufferLogger(logs))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = src.Close() })
	return src
}

// storedFiles lists the files under dir whose name contains part.
func storedFiles(t testing.TB, dir, part string) []string {
	t.Helper()
	var found []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.Contains(d.Name(), part) {
			found = append(found, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// TestACMEIssuance obtains a certificate for a configured domain from
// Pebble with each engine and challenge, then restarts the source on the
// same storage and expects the stored certificate back without an order.
func TestACMEIssuance(t *testing.T) {
	tests := []struct {
		name   string
		source string
		// http01 sets acme.http_address and points Pebble's TLS-ALPN-01
		// port at a closed one, so only HTTP-01 can succeed.
		http01 bool
	}{
		{"certmagic tls-alpn-01", "certmagic", false},
		{"certmagic http-01", "certmagic", true},
		{"autocert tls-alpn-01", "autocert", false},
		{"autocert http-01", "autocert", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const domain = "edge.test"
			logs := testLogs(t)
			ln, tlsPort := acmeListen(t)
			httpPort := acmeFreePort(t)
			vaTLSPort := tlsPort
			if tt.http01 {
				vaTLSPort = acmeFreePort(t)
			}
			p := startPebble(t, logs, httpPort, vaTLSPort, 0)

			storage := t.TempDir()
			cfg := acmeConfig(tt.source, p, storage, domain)
			if tt.http01 {
				cfg.ACME.HTTPAddress = net.JoinHostPort("127.0.0.1", strconv.Itoa(httpPort))
			}
			src := newACMESource(t, cfg, logs)
			acmeServeTLS(t, ln, src.TLSConfig(), logs)

			leaf := waitCert(t, ln.Addr().String(), domain, p)
			if len(storedFiles(t, storage, domain)) == 0 {
				t.Errorf("storage %s holds no file for %s", storage, domain)
			}
			orders := p.orders.Load()
			if orders == 0 {
				t.Errorf("pebble saw no order")
			}
			if err := src.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}

			// Restart on the same storage: the stored certificate is served
			// and Pebble gets no new order.
			cfg.ACME.HTTPAddress = ""
			again := newACMESource(t, cfg, logs)
			ln2, _ := acmeListen(t)
			acmeServeTLS(t, ln2, again.TLSConfig(), logs)
			reused := waitCert(t, ln2.Addr().String(), domain, p)
			if reused.SerialNumber.Cmp(leaf.SerialNumber) != 0 {
				t.Errorf("after restart serial = %s, want the stored %s", reused.SerialNumber, leaf.SerialNumber)
			}
			if got := p.orders.Load(); got != orders {
				t.Errorf("after restart pebble saw %d orders, want %d", got, orders)
			}
		})
	}
}

// TestCertmagicRenewal serves a certificate due for renewal and expects
// the renewed one on the same listener, without restarting the source.
func TestCertmagicRenewal(t *testing.T) {
	const domain = "edge.test"
	logs := testLogs(t)
	ln, tlsPort := acmeListen(t)
	// 30 minute certificates: certmagic renews any certificate with less
	// than five maintenance intervals (5 × 10 min) left, so they are due
	// as soon as they are issued.
	p := startPebble(t, logs, acmeFreePort(t), tlsPort, 30*60)
	src := newACMESource(t, acmeConfig("certmagic", p, t.TempDir(), domain), logs)
	acmeServeTLS(t, ln, src.TLSConfig(), logs)
	addr := ln.Addr().String()

	first := waitCert(t, addr, domain, p)
	orders := p.orders.Load()

	// One pass of the maintenance loop, which otherwise runs every 10
	// minutes: it queues the renewal, which places an order and swaps the
	// new certificate into the shared cache.
	ctx, cancel := context.WithTimeout(context.Background(), acmeWait)
	defer cancel()
	pass := func() {
		t.Helper()
		if err := src.(*certmagicSource).cache.RenewManagedCertificates(ctx); err != nil {
			t.Fatalf("RenewManagedCertificates: %v", err)
		}
	}
	pass()
	lastPass := time.Now()
	for {
		// A renewal placed right after the issuance can fail: Pebble may
		// not find the order of the certificate it replaces yet (ARI,
		// HTTP 500), and certmagic then waits for its next maintenance
		// pass, 10 minutes on, which the test stands in for.
		if time.Since(lastPass) > 2*time.Second {
			pass()
			lastPass = time.Now()
		}
		leaf, err := acmeHandshake(ctx, addr, domain, p.roots)
		if err != nil {
			t.Fatalf("handshake: %v", err)
		}
		if leaf.SerialNumber.Cmp(first.SerialNumber) != 0 {
			checkIssued(t, leaf, domain, p)
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("after renewal the listener still serves serial %s", first.SerialNumber)
		case <-time.After(50 * time.Millisecond):
		}
	}
	if got := p.orders.Load(); got <= orders {
		t.Errorf("renewal placed no order (%d before, %d after)", orders, got)
	}
}

// renewalValidity is the lifetime, in seconds, of the certificates Pebble
// issues in the autocert renewal tests. The source leaves RenewBefore
// unset, so autocert renews when a third of the lifetime is left (its
// default for certificates shorter than 90 days), plus up to a tenth of
// that: Pebble's NotAfter is validity-1 s after NotBefore, so renewal starts
// about 7.3 to 7.7 s after issuance, by autocert's own timer, with no knob
// and no clock in the test, and has 3 s to finish before the certificate
// expires. (30-minute certificates, as in TestCertmagicRenewal, would
// renew after 20 minutes.)
const renewalValidity = 12

// autocertRig is an autocert source for domain "edge.test" served on a TLS
// listener, against a Pebble issuing renewalValidity-second certificates.
type autocertRig struct {
	p       *pebble
	src     Source
	addr    string // of the TLS listener serving src.TLSConfig()
	storage string
	logs    *syncBuffer
}

// startAutocertRig starts an autocertRig; with http01 the source answers
// HTTP-01 on acme.http_address and Pebble's TLS-ALPN-01 port is closed, as
// in TestACMEIssuance.
func startAutocertRig(t testing.TB, http01 bool) *autocertRig {
	t.Helper()
	logs := testLogs(t)
	ln, tlsPort := acmeListen(t)
	httpPort := acmeFreePort(t)
	vaTLSPort := tlsPort
	if http01 {
		vaTLSPort = acmeFreePort(t)
	}
	p := startPebble(t, logs, httpPort, vaTLSPort, renewalValidity)
	storage := t.TempDir()
	cfg := acmeConfig("autocert", p, storage, "edge.test")
	if http01 {
		cfg.ACME.HTTPAddress = net.JoinHostPort("127.0.0.1", strconv.Itoa(httpPort))
	}
	src := newACMESource(t, cfg, logs)
	acmeServeTLS(t, ln, src.TLSConfig(), logs)
	return &autocertRig{p: p, src: src, addr: ln.Addr().String(), storage: storage, logs: logs}
}

// waitNewSerial retries handshakes until the served certificate's serial
// differs from old's, and returns that certificate. Failed handshakes are
// retried: a certificate may expire just before its renewal completes.
func waitNewSerial(t testing.TB, addr, name string, p *pebble, old *x509.Certificate) *x509.Certificate {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), acmeWait)
	defer cancel()
	for {
		leaf, err := acmeHandshake(ctx, addr, name, p.roots)
		if err == nil && leaf.SerialNumber.Cmp(old.SerialNumber) != 0 {
			checkIssued(t, leaf, name, p)
			return leaf
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the listener still serves serial %s (last handshake error: %v)", old.SerialNumber, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// storedLeaf returns the certificate autocert stored for name in storage
// (autocert.DirCache: the key then the chain, PEM, in a file named name).
func storedLeaf(t testing.TB, storage, name string) *x509.Certificate {
	t.Helper()
	rest, err := os.ReadFile(filepath.Join(storage, name))
	if err != nil {
		t.Fatalf("reading stored certificate: %v", err)
	}
	for {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			t.Fatalf("no certificate stored for %s", name)
		}
		if b.Type == "CERTIFICATE" {
			leaf, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			return leaf
		}
	}
}

// waitLog waits until logs contain part.
func waitLog(t testing.TB, logs *syncBuffer, part string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), acmeWait)
	defer cancel()
	for !strings.Contains(logs.String(), part) {
		select {
		case <-ctx.Done():
			t.Fatalf("no log %q", part)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// TestAutocertRenewal lets autocert renew a certificate on its own timer
// with each challenge and expects the renewed certificate, from a new
// order, on the same listener (the same tls.Config) without a restart,
// and in storage.
func TestAutocertRenewal(t *testing.T) {
	tests := []struct {
		name   string
		http01 bool
	}{
		{"tls-alpn-01", false},
		{"http-01", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const domain = "edge.test"
			r := startAutocertRig(t, tt.http01)
			first := waitCert(t, r.addr, domain, r.p)
			orders := r.p.orders.Load()

			renewed := waitNewSerial(t, r.addr, domain, r.p, first)
			if got := r.p.orders.Load(); got <= orders {
				t.Errorf("renewal placed no order (%d before, %d after)", orders, got)
			}
			if !renewed.NotAfter.After(first.NotAfter) {
				t.Errorf("renewed certificate expires %s, not after the first (%s)", renewed.NotAfter, first.NotAfter)
			}
			// The stored certificate is the renewed one, or a later one
			// if autocert renewed again meanwhile: not the first.
			if stored := storedLeaf(t, r.storage, domain); stored.SerialNumber.Cmp(first.SerialNumber) == 0 {
				t.Errorf("storage still holds the first certificate, serial %s", first.SerialNumber)
			}
		})
	}
}

// TestAutocertCloseDuringRenewal closes an autocert source while its
// renewal waits for Pebble to answer the new order: Close returns without
// waiting for the CA, and the renewal goes no further (its next request is
// refused) and stores and serves nothing new.
func TestAutocertCloseDuringRenewal(t *testing.T) {
	const domain = "edge.test"
	r := startAutocertRig(t, false)
	first := waitCert(t, r.addr, domain, r.p)

	// Hold the renewal's order until the source is closed. Released at
	// the latest by this cleanup, which runs before Pebble's server is
	// closed (closing waits for the requests in progress).
	arrived := make(chan struct{})
	release := make(chan struct{})
	releaseOrders := sync.OnceFunc(func() { close(release) })
	t.Cleanup(releaseOrders)
	var once sync.Once
	hold := func() {
		once.Do(func() { close(arrived) })
		<-release
	}
	r.p.onOrder.Store(&hold)

	select {
	case <-arrived:
	case <-time.After(acmeWait):
		t.Fatal("autocert placed no renewal order")
	}
	requests := r.p.requests.Load()
	closed := make(chan error, 1)
	go func() { closed <- r.src.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Errorf("Close: %v", err)
		}
	case <-time.After(acmeWait):
		t.Fatal("Close waits for the renewal's request to the CA")
	}
	releaseOrders()

	// Pebble answers the order; the renewal's next request is refused,
	// so Pebble sees no other.
	waitLog(t, r.logs, "autocert work refused: source closed")
	if got := r.p.requests.Load(); got != requests {
		t.Errorf("pebble got %d requests after Close", got-requests)
	}
	if stored := storedLeaf(t, r.storage, domain); stored.SerialNumber.Cmp(first.SerialNumber) != 0 {
		t.Errorf("stored serial = %s after Close, want the first, %s", stored.SerialNumber, first.SerialNumber)
	}
	// The listener, still open, serves the certificate held in memory.
	ctx, cancel := context.WithTimeout(context.Background(), acmeWait)
	defer cancel()
	leaf, err := acmeHandshake(ctx, r.addr, domain, r.p.roots)
	if err != nil {
		t.Fatalf("handshake after Close: %v", err)
	}
	if leaf.SerialNumber.Cmp(first.SerialNumber) != 0 {
		t.Errorf("served serial = %s after Close, want the first, %s", leaf.SerialNumber, first.SerialNumber)
	}
}

// TestCertmagicOnDemand obtains certificates at handshake time for names
// in on_demand.allow or approved by on_demand.ask, and refuses others
// without contacting the CA.
func TestCertmagicOnDemand(t *testing.T) {
	logs := testLogs(t)
	var asked sync.Map // names the ask endpoint was asked about
	ask := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.URL.Query().Get("domain")
		asked.Store(name, true)
		if name != "asked.test" {
			w.WriteHeader(http.StatusForbidden)
		}
	}))
	t.Cleanup(ask.Close)

	ln, tlsPort := acmeListen(t)
	p := startPebble(t, logs, acmeFreePort(t), tlsPort, 0)
	cfg := acmeConfig("certmagic", p, t.TempDir())
	cfg.ACME.OnDemand = configs.OnDemand{Enabled: true, Allow: []string{"allowed.test"}, Ask: ask.URL + "/check"}
	src := newACMESource(t, cfg, logs)
	acmeServeTLS(t, ln, src.TLSConfig(), logs)
	addr := ln.Addr().String()

	tests := []struct {
		name    string
		allowed bool
		asks    bool
	}{
		{"allowed.test", true, false},
		{"asked.test", true, true},
		{"refused.test", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), acmeWait)
			defer cancel()
			orders := p.orders.Load()
			leaf, err := acmeHandshake(ctx, addr, tt.name, p.roots)
			switch {
			case tt.allowed && err != nil:
				t.Fatalf("handshake: %v", err)
			case tt.allowed:
				checkIssued(t, leaf, tt.name, p)
				if p.orders.Load() == orders {
					t.Errorf("no order placed for %s", tt.name)
				}
			case err == nil:
				t.Fatalf("handshake for a refused name succeeded with %q", leaf.Subject)
			default:
				if got := p.orders.Load(); got != orders {
					t.Errorf("refused name placed %d orders", got-orders)
				}
			}
			if _, ok := asked.Load(tt.name); ok != tt.asks {
				t.Errorf("ask endpoint asked about %s: %t, want %t", tt.name, ok, tt.asks)
			}
		})
	}
}

// TestAutocertRefusesOtherNames checks that autocert obtains nothing for
// a name outside acme.domains.
func TestAutocertRefusesOtherNames(t *testing.T) {
	logs := testLogs(t)
	ln, tlsPort := acmeListen(t)
	p := startPebble(t, logs, acmeFreePort(t), tlsPort, 0)
	src := newACMESource(t, acmeConfig("autocert", p, t.TempDir(), "edge.test"), logs)
	acmeServeTLS(t, ln, src.TLSConfig(), logs)

	ctx, cancel := context.WithTimeout(context.Background(), acmeWait)
	defer cancel()
	if _, err := acmeHandshake(ctx, ln.Addr().String(), "other.test", p.roots); err == nil {
		t.Fatal("handshake for a name outside domains succeeded")
	}
	if got := p.orders.Load(); got != 0 {
		t.Errorf("pebble saw %d orders, want 0", got)
	}
}

// TestACMETLSConfig checks the listener configuration of both engines
// and the default storage, DATA_DIR/acme.
func TestACMETLSConfig(t *testing.T) {
	tests := []struct {
		source   string
		onDemand bool
	}{
		{"certmagic", false},
		{"certmagic", true},
		{"autocert", false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s on_demand=%t", tt.source, tt.onDemand), func(t *testing.T) {
			logs := testLogs(t)
			cfg := configs.TLSSource{Source: tt.source, ACME: configs.ACME{
				Directory: "https://127.0.0.1:1/dir", // never contacted: no domains
				OnDemand:  configs.OnDemand{Enabled: tt.onDemand, Allow: []string{"a.test"}},
			}}
			dataDir := t.TempDir()
			src, err := New(context.Background(), "acme", cfg, dataDir, bufferLogger(logs))
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			defer src.Close()
			tc := src.TLSConfig()
			if tc != src.TLSConfig() {
				t.Error("TLSConfig returns a different *tls.Config each call")
			}
			if tc.MinVersion != tls.VersionTLS12 {
				t.Errorf("MinVersion = %#x, want TLS 1.2", tc.MinVersion)
			}
			for _, proto := range []string{ALPNProtocol, alpnACMETLS1} {
				if !containsFold(tc.NextProtos, proto) {
					t.Errorf("NextProtos = %q, missing %q", tc.NextProtos, proto)
				}
			}
			if tc.GetCertificate == nil {
				t.Error("GetCertificate is nil")
			}
			if fi, err := os.Stat(filepath.Join(dataDir, "acme")); err != nil || !fi.IsDir() {
				t.Errorf("default storage DATA_DIR/acme not created: %v", err)
			}
			if err := src.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			if err := src.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
		})
	}
}

// TestACMEBadConfig checks start-up errors.
func TestACMEBadConfig(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.pem")
	notPEM := filepath.Join(t.TempDir(), "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		acme configs.ACME
	}{
		{"missing root_ca", configs.ACME{RootCA: missing}},
		{"root_ca without certificates", configs.ACME{RootCA: notPEM}},
		{"http_address without port", configs.ACME{HTTPAddress: "127.0.0.1"}},
	}
	for _, source := range []string{"certmagic", "autocert"} {
		for _, tt := range tests {
			t.Run(source+" "+tt.name, func(t *testing.T) {
				tt.acme.Storage = t.TempDir()
				tt.acme.Domains = []string{"edge.test"}
				logs := testLogs(t)
				src, err := New(context.Background(), "acme", configs.TLSSource{Source: source, ACME: tt.acme}, t.TempDir(), bufferLogger(logs))
				if err == nil {
					_ = src.Close()
					t.Fatal("New succeeded")
				}
			})
		}
	}
}
