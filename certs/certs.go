// Package certs provides the *tls.Config of tls and wss listeners from a
// configured source: PEM files (reloaded on change), a self-signed
// development certificate, or ACME through certmagic (the full engine)
// or autocert (the minimal one). Listeners that name the same source share
// one Source, and so one certificate cache.
package certs

import (
	"context"
	"crypto/tls"

	"edgemq/configs"

	"go.uber.org/zap"
)

// Source yields the TLS configuration of the listeners that use it.
//
// TLSConfig is safe for concurrent use and returns the same *tls.Config
// every time: certificates change behind it (GetCertificate), so
// connections already made keep theirs. Close stops background work
// (file reloads, ACME renewals, the HTTP-01 listener); it is idempotent.
type Source interface {
	TLSConfig() *tls.Config
	Close() error
}

// New builds the source called name from its configuration. dataDir holds
// generated certificates and the ACME cache. ctx bounds start-up work
// (e.g. obtaining ACME certificates); background work runs until Close.
func New(ctx context.Context, name string, cfg configs.TLSSource, dataDir string, log *zap.Logger) (Source, error) {
	log = log.With(zap.String("tls_source", name))
	switch cfg.Source {
	case "certmagic":
		return newCertmagic(ctx, cfg, dataDir, log)
	case "autocert":
		return newAutocert(ctx, cfg, dataDir, log)
	default:
		return newLocal(ctx, cfg, dataDir, log)
	}
}
