package certs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"edgemq/configs"

	"go.uber.org/zap"
)

// Shared by the certmagic (acme_certmagic.go) and autocert
// (acme_autocert.go) sources.

// letsEncryptDirectory is the ACME directory used when acme.directory is
// empty: Let's Encrypt production.
const letsEncryptDirectory = "https://acme-v02.api.letsencrypt.org/directory"

// alpnACMETLS1 is the ALPN protocol of TLS-ALPN-01 challenges (RFC 8737).
const alpnACMETLS1 = "acme-tls/1"

// challengeReadHeaderTimeout bounds reading a request's headers on the
// HTTP-01 server.
const challengeReadHeaderTimeout = 10 * time.Second

// acmeDirectory returns the configured ACME directory or the default.
func acmeDirectory(a configs.ACME) string {
	if a.Directory != "" {
		return a.Directory
	}
	return letsEncryptDirectory
}

// acmePlan is what both ACME engines read from the configuration first.
type acmePlan struct {
	roots    *x509.CertPool // trusted for the ACME server; nil: the system's
	storage  string         // certificate and account cache directory
	httpHost string         // HTTP-01 listener host, when httpPort > 0
	httpPort int
}

// planACME checks and resolves the parts of cfg both engines share.
func planACME(a configs.ACME, dataDir string) (acmePlan, error) {
	var p acmePlan
	var err error
	if p.roots, err = acmeRoots(a.RootCA); err != nil {
		return p, err
	}
	if p.storage, err = acmeStorage(a, dataDir); err != nil {
		return p, err
	}
	p.httpHost, p.httpPort, err = splitHTTPAddress(a.HTTPAddress)
	return p, err
}

// acmeStorage returns the certificate cache directory, created (0700) when
// missing: acme.storage or DATA_DIR/acme.
func acmeStorage(a configs.ACME, dataDir string) (string, error) {
	dir := a.Storage
	if dir == "" {
		dir = filepath.Join(dataDir, "acme")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("creating acme storage: %w", err)
	}
	return dir, nil
}

// acmeRoots returns the CAs trusted for the ACME server: the system pool
// plus the certificates of the PEM file rootCA, or nil (the system pool)
// when rootCA is empty.
func acmeRoots(rootCA string) (*x509.CertPool, error) {
	if rootCA == "" {
		return nil, nil
	}
	data, err := os.ReadFile(rootCA)
	if err != nil {
		return nil, fmt.Errorf("reading acme root_ca: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("parsing acme root_ca %s: no PEM certificate found", rootCA)
	}
	return pool, nil
}

// acmeTLSConfig builds the listener configuration of an ACME source:
// certificates from getCert, which also answers TLS-ALPN-01 challenges,
// so "acme-tls/1" is offered besides "mqtt" and the shared defaults.
// applyDefaults keeps "acme-tls/1" (first) and must come last: its ALPN
// fallback (serveWithoutALPN) is built from the NextProtos it sees.
func acmeTLSConfig(cfg configs.TLSSource, getCert func(*tls.ClientHelloInfo) (*tls.Certificate, error)) (*tls.Config, error) {
	tc := &tls.Config{
		GetCertificate: getCert,
		NextProtos:     []string{alpnACMETLS1},
	}
	if err := applyDefaults(cfg, tc); err != nil {
		return nil, err
	}
	return tc, nil
}

// splitHTTPAddress returns the host and port of acme.http_address; port 0
// when the address is empty.
func splitHTTPAddress(addr string) (string, int, error) {
	if addr == "" {
		return "", 0, nil
	}
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("parsing acme http_address: %w", err)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 1 || port > 65535 {
		return "", 0, fmt.Errorf("parsing acme http_address: port %q is not 1 to 65535", p)
	}
	return host, port, nil
}

// challengeServer serves HTTP-01 challenges on acme.http_address.
type challengeServer struct {
	srv  *http.Server
	done chan struct{}
}

// serveChallenges listens on addr (bounded by ctx) and serves h there
// until close. A nil server (addr empty) is valid and does nothing.
func serveChallenges(ctx context.Context, addr string, h http.Handler, log *zap.Logger) (*challengeServer, error) {
	if addr == "" {
		return nil, nil
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listening for http-01 challenges: %w", err)
	}
	s := &challengeServer{
		srv: &http.Server{
			Handler:           h,
			ReadHeaderTimeout: challengeReadHeaderTimeout,
			ErrorLog:          zap.NewStdLog(log.Named("http01")),
		},
		done: make(chan struct{}),
	}
	log.Info("serving acme http-01 challenges", zap.String("http_address", ln.Addr().String()))
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			log.Error("serving acme http-01 challenges", zap.Error(err))
		}
	}()
	return s, nil
}

// close stops the server and waits for it.
func (s *challengeServer) close() error {
	if s == nil {
		return nil
	}
	err := s.srv.Close()
	<-s.done
	if err != nil {
		return fmt.Errorf("closing http-01 server: %w", err)
	}
	return nil
}

// acmeSource is the Source of certmagic and autocert: a fixed *tls.Config
// and a stop function run once by Close.
type acmeSource struct {
	tc   *tls.Config
	stop func() error

	once     sync.Once
	closeErr error
}

// TLSConfig implements Source.
func (s *acmeSource) TLSConfig() *tls.Config { return s.tc }

// Close implements Source.
func (s *acmeSource) Close() error {
	s.once.Do(func() { s.closeErr = s.stop() })
	return s.closeErr
}
