package certs

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"edgemq/configs"
	"edgemq/gateway/logsafe"

	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"
)

// askTimeout bounds one on-demand permission request to acme.on_demand.ask.
const askTimeout = 10 * time.Second

// errNotAllowed refuses on-demand issuance for a name.
var errNotAllowed = errors.New("name not allowed for on-demand issuance")

// certmagicSource obtains and renews certificates with certmagic.
//
// One certmagic.Cache per source holds the certificates of every listener
// that names the source. Two certmagic.Configs share it: managed, for
// acme.domains, obtained at start and renewed in the background; and,
// when acme.on_demand.enabled, onDemand, which obtains other names at
// handshake time when decide allows them (certmagic only defers names of
// a Config that has OnDemand set, so the domains need a Config without).
//
// The domains are managed with ManageAsync, not ManageSync: certificates
// already in storage are loaded before New returns, but missing ones are
// obtained in the background (retried with backoff until Close). TLS-ALPN-01
// is answered by the listeners that use TLSConfig, which only serve once
// New has returned, so waiting in New would fail that challenge; and the
// gateway should serve plain listeners even while the CA is unreachable.
// Until a certificate is obtained, handshakes for its name fail. Clients
// that send no SNI get the certificate of the first domain.
//
// Challenges: TLS-ALPN-01 is answered by GetCertificate of the returned
// tls.Config (it offers "acme-tls/1"). HTTP-01 is enabled only with
// acme.http_address, where an http.Server runs until Close. certmagic also
// tries to bind the TLS-ALPN-01 port itself (443, on the http_address
// host) while a challenge is pending; when a listener already holds it,
// the listener answers.
type certmagicSource struct {
	acmeSource
	cache    *certmagic.Cache
	managed  *certmagic.Config
	onDemand *certmagic.Config // nil unless on-demand is enabled
}

func newCertmagic(ctx context.Context, cfg configs.TLSSource, dataDir string, log *zap.Logger) (Source, error) {
	s, err := startCertmagic(ctx, cfg, dataDir, log)
	if err != nil {
		return nil, fmt.Errorf("starting certmagic tls source: %w", err)
	}
	return s, nil
}

func startCertmagic(ctx context.Context, cfg configs.TLSSource, dataDir string, log *zap.Logger) (*certmagicSource, error) {
	a := cfg.ACME
	plan, err := planACME(a, dataDir)
	if err != nil {
		return nil, err
	}
	roots, storage, httpHost, httpPort := plan.roots, plan.storage, plan.httpHost, plan.httpPort
	cmLog := log.Named("certmagic")

	s := &certmagicSource{}
	cache := certmagic.NewCache(certmagic.CacheOptions{
		// Which Config renews a certificate: on-demand ones are renewed
		// by the on-demand Config (at handshake time), the rest by managed.
		GetConfigForCert: func(c certmagic.Certificate) (*certmagic.Config, error) {
			if s.onDemand != nil && !slices.ContainsFunc(c.Names, func(n string) bool { return containsFold(a.Domains, n) }) {
				return s.onDemand, nil
			}
			return s.managed, nil
		},
		Logger: cmLog,
	})
	s.cache = cache

	var defaultName string
	if len(a.Domains) > 0 {
		defaultName = a.Domains[0]
	}
	newConfig := func(od *certmagic.OnDemandConfig) (*certmagic.Config, *certmagic.ACMEIssuer) {
		magic := certmagic.New(cache, certmagic.Config{
			Storage:           &certmagic.FileStorage{Path: storage},
			Logger:            cmLog,
			OnDemand:          od,
			DefaultServerName: defaultName,
		})
		issuer := certmagic.NewACMEIssuer(magic, certmagic.ACMEIssuer{
			CA:           acmeDirectory(a),
			Email:        a.Email,
			Agreed:       true, // configuring an ACME source accepts the CA's terms
			TrustedRoots: roots,
			// Without http_address there is nobody to answer HTTP-01; with
			// it, certmagic finds our server bound there and lets it answer.
			DisableHTTPChallenge: a.HTTPAddress == "",
			ListenHost:           httpHost,
			AltHTTPPort:          httpPort,
			Logger:               cmLog,
		})
		magic.Issuers = []certmagic.Issuer{issuer}
		return magic, issuer
	}
	var issuer *certmagic.ACMEIssuer
	s.managed, issuer = newConfig(nil)
	getCert := s.managed.GetCertificate
	if a.OnDemand.Enabled {
		d := &onDemandDecider{allow: slices.Concat(a.OnDemand.Allow, a.Domains), ask: a.OnDemand.Ask, client: &http.Client{Timeout: askTimeout}, log: log}
		s.onDemand, _ = newConfig(&certmagic.OnDemandConfig{DecisionFunc: d.decide})
		// Both Configs share the cache, so the on-demand one also serves
		// the managed domains.
		getCert = s.onDemand.GetCertificate
	}

	s.tc, err = acmeTLSConfig(cfg, getCert)
	if err != nil {
		cache.Stop()
		return nil, err
	}

	// Challenges are kept in memory and in storage, which both Configs
	// share, so one issuer's handler answers for both.
	http01, err := serveChallenges(ctx, a.HTTPAddress, issuer.HTTPChallengeHandler(http.NotFoundHandler()), log)
	if err != nil {
		cache.Stop()
		return nil, err
	}

	// Background management outlives ctx (which bounds start-up only) and
	// ends at Close.
	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.stop = func() error {
		cancel()
		cache.Stop()
		return http01.close()
	}
	if len(a.Domains) > 0 {
		if err := s.managed.ManageAsync(bg, a.Domains); err != nil {
			_ = s.stop()
			return nil, fmt.Errorf("managing domains: %w", err)
		}
	}
	log.Info("acme certificates managed",
		zap.String("acme_engine", "certmagic"),
		zap.String("acme_directory", acmeDirectory(a)),
		zap.Strings("domains", a.Domains),
		zap.Bool("on_demand", a.OnDemand.Enabled),
		zap.String("acme_storage", storage))
	return s, nil
}

// onDemandDecider is the certmagic DecisionFunc of on-demand issuance.
type onDemandDecider struct {
	allow  []string
	ask    string
	client *http.Client
	log    *zap.Logger
}

// decide returns nil when name is in allow or when the ask URL answers
// 200 to GET ask?domain=name within askTimeout; otherwise an error, which
// makes the handshake fail without contacting the CA.
func (d *onDemandDecider) decide(ctx context.Context, name string) error {
	if containsFold(d.allow, name) {
		return nil
	}
	if d.ask == "" {
		d.log.Info("on-demand certificate refused", logsafe.String("server_name", name))
		return errNotAllowed
	}
	if err := d.askFor(ctx, name); err != nil {
		d.log.Info("on-demand certificate refused", logsafe.String("server_name", name), zap.Error(err))
		return err
	}
	return nil
}

// askFor asks the ask URL whether name may get a certificate.
func (d *onDemandDecider) askFor(ctx context.Context, name string) error {
	u, err := url.Parse(d.ask)
	if err != nil {
		return fmt.Errorf("parsing on_demand ask url: %w", err)
	}
	q := u.Query()
	q.Set("domain", name)
	u.RawQuery = q.Encode()

	ctx, cancel := context.WithTimeout(ctx, askTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fmt.Errorf("asking on-demand permission: %w", err)
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return fmt.Errorf("asking on-demand permission: %w", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("asking on-demand permission: %w: ask answered %d", errNotAllowed, resp.StatusCode)
	}
	return nil
}

// containsFold reports whether names holds name, ignoring case.
func containsFold(names []string, name string) bool {
	return slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(n, name) })
}
