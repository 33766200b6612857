package certs

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"

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
// asks for its name and then renewed by autocert 30 days before expiry;
// certificates and the account key live in autocert.DirCache at
// acme.storage (default DATA_DIR/acme), so a restart reuses them.
// TLS-ALPN-01 is answered by the returned tls.Config; HTTP-01 too when
// acme.http_address is set (autocert tries TLS-ALPN-01 first).
//
// Close stops the HTTP-01 server. autocert has no way to stop its renewal
// timers: they stay until the process ends.
func newAutocert(ctx context.Context, cfg configs.TLSSource, dataDir string, log *zap.Logger) (Source, error) {
	s, err := startAutocert(ctx, cfg, dataDir, log)
	if err != nil {
		return nil, fmt.Errorf("starting autocert tls source: %w", err)
	}
	return s, nil
}

func startAutocert(ctx context.Context, cfg configs.TLSSource, dataDir string, log *zap.Logger) (*acmeSource, error) {
	a := cfg.ACME
	roots, err := acmeRoots(a.RootCA)
	if err != nil {
		return nil, err
	}
	storage, err := acmeStorage(a, dataDir)
	if err != nil {
		return nil, err
	}
	if _, _, err := splitHTTPAddress(a.HTTPAddress); err != nil {
		return nil, err
	}

	client := &acme.Client{DirectoryURL: acmeDirectory(a), UserAgent: "edgemq"}
	if roots != nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{RootCAs: roots}
		client.HTTPClient = &http.Client{Transport: tr}
	}
	m := &autocert.Manager{
		Prompt:     autocert.AcceptTOS, // configuring an ACME source accepts the CA's terms
		Cache:      autocert.DirCache(storage),
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
	return &acmeSource{tc: tc, stop: http01.close}, nil
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
