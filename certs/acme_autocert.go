package certs

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"

	"edgemq/configs"

	"go.uber.org/zap"
	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"
)

// newAutocert builds the autocert source: the minimal ACME engine of
// golang.org/x/crypto.
//
// Only acme.domains get certificates (autocert.HostWhitelist; on_demand is
// not supported). A certificate is obtained at the first handshake that
// asks for its name (or loaded from storage then) and renewed by a timer
// of autocert, which that handshake starts: RenewBefore is left unset, so
// renewal starts when the lesser of 30 days and a third of the
// certificate's lifetime is left (30 days for Let's Encrypt's 90-day
// certificates), plus a random delay of up to a tenth of that (at most an
// hour); a failed renewal is retried after 30 to 60 minutes. The renewed
// certificate is served by the same tls.Config. Certificates and the account key live in autocert.DirCache
// at acme.storage (default DATA_DIR/acme), so a restart reuses them.
// TLS-ALPN-01 is answered by the returned tls.Config; HTTP-01 too when
// acme.http_address is set (autocert tries TLS-ALPN-01 first).
//
// Close stops the HTTP-01 server and, through a closeGate, autocert's
// renewals: they no longer contact the CA nor touch the storage.
func newAutocert(ctx context.Context, cfg configs.TLSSource, dataDir string, log *zap.Logger) (Source, error) {
	s, err := startAutocert(ctx, cfg, dataDir, log)
	if err != nil {
		return nil, fmt.Errorf("starting autocert tls source: %w", err)
	}
	return s, nil
}

func startAutocert(ctx context.Context, cfg configs.TLSSource, dataDir string, log *zap.Logger) (*acmeSource, error) {
	a := cfg.ACME
	plan, err := planACME(a, dataDir)
	if err != nil {
		return nil, err
	}
	roots, storage := plan.roots, plan.storage

	gate := &closeGate{log: log}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if roots != nil {
		tr.TLSClientConfig = &tls.Config{RootCAs: roots}
	}
	client := &acme.Client{
		DirectoryURL: acmeDirectory(a),
		UserAgent:    "edgemq",
		HTTPClient:   &http.Client{Transport: gatedTransport{base: tr, gate: gate}},
	}
	m := &autocert.Manager{
		Prompt:     autocert.AcceptTOS, // configuring an ACME source accepts the CA's terms
		Cache:      gatedCache{cache: autocert.DirCache(storage), gate: gate},
		HostPolicy: autocert.HostWhitelist(a.Domains...),
		Client:     client,
		Email:      a.Email,
	}

	tc, err := acmeTLSConfig(cfg, m.GetCertificate)
	if err != nil {
		return nil, err
	}
	var http01 *challengeServer
	if a.HTTPAddress != "" {
		// HTTPHandler also turns on HTTP-01 in the Manager.
		http01, err = serveChallenges(ctx, a.HTTPAddress, hostWithoutPort(m.HTTPHandler(http.NotFoundHandler())), log)
		if err != nil {
			return nil, err
		}
	}
	log.Info("acme certificates managed",
		zap.String("acme_engine", "autocert"),
		zap.String("acme_directory", acmeDirectory(a)),
		zap.Strings("domains", a.Domains),
		zap.String("acme_storage", storage))
	stop := func() error {
		gate.close()
		tr.CloseIdleConnections()
		return http01.close()
	}
	return &acmeSource{tc: tc, stop: stop}, nil
}

// errSourceClosed fails the cache operations and CA requests of a closed
// autocert source.
var errSourceClosed = errors.New("tls source closed")

// closeGate stops an autocert.Manager's background work at Close.
//
// autocert cannot stop the renewal timer it runs for each certificate: the
// timers outlive the source and fire until the process ends. So the
// Manager's cache (gatedCache) and CA client (gatedTransport) pass through
// the gate, and once it is closed every cache operation and CA request
// fails with errSourceClosed. A renewal that fires later fails at its first
// step and, as after any failed renewal, autocert retries in 30 to 60
// minutes, failing the same way; a renewal running at close fails at its
// next step, so its certificate is neither stored nor served. close waits
// for cache operations in progress: once it returns, the source writes no
// storage. A CA request already sent is not waited for.
//
// Handshakes still get the certificates autocert holds in memory.
type closeGate struct {
	log *zap.Logger

	mu     sync.RWMutex // read-held during cache operations
	closed bool
}

// enter reports whether op may run, and then holds the gate open until
// leave.
func (g *closeGate) enter(op string) bool {
	g.mu.RLock()
	if g.closed {
		g.mu.RUnlock()
		g.log.Debug("autocert work refused: source closed", zap.String("operation", op))
		return false
	}
	return true
}

// leave ends an operation that enter let run.
func (g *closeGate) leave() { g.mu.RUnlock() }

// close makes enter refuse, after waiting for the operations in progress.
func (g *closeGate) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
}

// gatedCache is an autocert.Cache that works until its gate closes.
type gatedCache struct {
	cache autocert.Cache
	gate  *closeGate
}

func (c gatedCache) Get(ctx context.Context, key string) ([]byte, error) {
	if !c.gate.enter("cache get " + key) {
		return nil, errSourceClosed
	}
	defer c.gate.leave()
	return c.cache.Get(ctx, key)
}

func (c gatedCache) Put(ctx context.Context, key string, data []byte) error {
	if !c.gate.enter("cache put " + key) {
		return errSourceClosed
	}
	defer c.gate.leave()
	return c.cache.Put(ctx, key, data)
}

func (c gatedCache) Delete(ctx context.Context, key string) error {
	if !c.gate.enter("cache delete " + key) {
		return errSourceClosed
	}
	defer c.gate.leave()
	return c.cache.Delete(ctx, key)
}

// gatedTransport sends requests to the CA until its gate closes.
type gatedTransport struct {
	base http.RoundTripper
	gate *closeGate
}

func (t gatedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if !t.gate.enter(r.Method + " " + r.URL.String()) {
		if r.Body != nil {
			_ = r.Body.Close() // RoundTrip closes the body, even on errors
		}
		return nil, errSourceClosed
	}
	t.gate.leave() // requests are not waited for: the response is never stored
	return t.base.RoundTrip(r)
}

// hostWithoutPort strips the port from the Host of requests before h sees
// them: autocert checks Host against the domains, and a CA validating on a
// port other than 80 (test CAs such as Pebble) sends it with the port.
func hostWithoutPort(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if host, _, err := net.SplitHostPort(r.Host); err == nil {
			r = r.Clone(r.Context())
			r.Host = host
		}
		h.ServeHTTP(w, r)
	})
}
