package certs

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"edgemq/configs"
	"edgemq/gateway/filewatch"

	"go.uber.org/zap"
)

// newLocal builds the files and self_signed sources (files.go,
// selfsigned.go). An empty source is self_signed.
func newLocal(ctx context.Context, cfg configs.TLSSource, dataDir string, log *zap.Logger) (Source, error) {
	switch cfg.Source {
	case "files":
		return newFiles(ctx, cfg, log)
	case "self_signed", "":
		return newSelfSigned(ctx, cfg, dataDir, log)
	default:
		return nil, fmt.Errorf("tls source %q: not files, self_signed, certmagic or autocert", cfg.Source)
	}
}

// filesSource serves certificate/key pairs read from PEM files, chosen by
// SNI, and reloads a pair when its files change.
//
// Every reload_interval each pair's two files are looked at by a
// filewatch.Watcher (its doc comment has the contract): when the size or
// modification time of either changed and the change settled (nothing
// changed since the previous look, or both files are at least an interval
// old), the pair is read again, each file whole and at rest
// (filewatch.ReadStable). A pair that loads (the PEM parses and the key
// matches the certificate) replaces the old one atomically: handshakes
// from then on get it, connections already made are not touched. A pair
// that does not load (bad PEM, key mismatch, a file half written, empty
// or gone) leaves the old certificate in place and is logged; it is tried
// again on its next change. Writing the certificate and then the key
// therefore works: the key's write is a change of its own. (A rewrite
// that keeps both the size and the modification time of a file is not
// seen; file systems keep modification times in nanoseconds or, at worst,
// seconds.) The reload loop runs until Close.
type filesSource struct {
	log   *zap.Logger
	files []configs.CertFiles
	tc    *tls.Config

	// certs are the loaded pairs, index-aligned with files. Replaced
	// whole, never modified.
	certs atomic.Pointer[[]*tls.Certificate]

	// mu serializes reloads.
	mu sync.Mutex
	// watch watches each pair's files, index-aligned with files.
	watch []*filewatch.Watcher

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// newFiles loads every pair (any failure is an error: there is no old
// certificate to keep) and starts the reload loop.
func newFiles(_ context.Context, cfg configs.TLSSource, log *zap.Logger) (*filesSource, error) {
	if len(cfg.Files) == 0 {
		return nil, errors.New("tls source files: no files configured")
	}
	interval := cfg.ReloadInterval
	if interval <= 0 {
		interval = defaultReloadInterval
	}
	s := &filesSource{
		log:   log,
		files: cfg.Files,
		watch: make([]*filewatch.Watcher, len(cfg.Files)),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	certs := make([]*tls.Certificate, len(cfg.Files))
	for i, f := range cfg.Files {
		// The watcher first: a change during the first load is not lost.
		s.watch[i] = filewatch.New(interval, f.Cert, f.Key)
		c, err := loadPair(f)
		if err != nil {
			return nil, fmt.Errorf("tls source files: %w", err)
		}
		certs[i] = c
		s.logLoaded("certificate loaded", f, c)
	}
	s.certs.Store(&certs)

	s.tc = &tls.Config{GetCertificate: s.getCertificate}
	if err := applyDefaults(cfg, s.tc); err != nil {
		return nil, fmt.Errorf("tls source files: %w", err)
	}

	go s.run(interval)
	return s, nil
}

// TLSConfig implements Source.
func (s *filesSource) TLSConfig() *tls.Config { return s.tc }

// Close implements Source: it stops the reload loop and waits for it.
func (s *filesSource) Close() error {
	s.closeOnce.Do(func() { close(s.stop) })
	<-s.done
	return nil
}

func (s *filesSource) run(interval time.Duration) {
	defer close(s.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.reload(time.Now())
		}
	}
}

// reload reads again each pair whose files changed, as its watcher sees
// them at now, and swaps in those that load. It reports how many pairs
// were replaced.
func (s *filesSource) reload(now time.Time) (replaced int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var next []*tls.Certificate
	for i, f := range s.files {
		changed, err := s.watch[i].Check(now)
		if err == nil && !changed {
			continue
		}
		// Each settled change is reported once, so a broken file is
		// logged once and tried again only when it changes.
		var c *tls.Certificate
		if err == nil {
			c, err = loadPair(f)
		}
		if err != nil {
			s.log.Error("certificate reload failed, keeping the previous one",
				zap.String("cert_file", f.Cert), zap.String("key_file", f.Key), zap.Error(err))
			continue
		}
		if next == nil {
			next = slices.Clone(*s.certs.Load())
		}
		next[i] = c
		replaced++
		s.logLoaded("certificate reloaded", f, c)
	}
	if next != nil {
		s.certs.Store(&next)
	}
	return replaced
}

func (s *filesSource) logLoaded(msg string, f configs.CertFiles, c *tls.Certificate) {
	s.log.Info(msg,
		zap.String("cert_file", f.Cert),
		zap.String("subject", c.Leaf.Subject.String()),
		zap.Strings("dns_names", c.Leaf.DNSNames),
		zap.String("serial", c.Leaf.SerialNumber.String()),
		zap.Time("not_after", c.Leaf.NotAfter),
		zap.String("sha256_fingerprint", Fingerprint(c.Leaf)))
	if time.Now().After(c.Leaf.NotAfter) {
		s.log.Warn("certificate has expired", zap.String("cert_file", f.Cert), zap.Time("not_after", c.Leaf.NotAfter))
	}
}

// getCertificate is tls.Config.GetCertificate.
func (s *filesSource) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	return selectCertificate(*s.certs.Load(), hello.ServerName), nil
}

// loadPair reads and checks a certificate chain and its key.
func loadPair(f configs.CertFiles) (*tls.Certificate, error) {
	certPEM, err := filewatch.ReadStable(f.Cert)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", f.Cert, err)
	}
	keyPEM, err := filewatch.ReadStable(f.Key)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", f.Key, err)
	}
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("loading %s and %s: %w", f.Cert, f.Key, err)
	}
	if c.Leaf == nil {
		if c.Leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
			return nil, fmt.Errorf("parsing %s: %w", f.Cert, err)
		}
	}
	return &c, nil
}

// selectCertificate picks the certificate for an SNI server name (RFC
// 6066 §3): the first whose DNS SANs contain the name exactly, else the
// first with a matching wildcard SAN ("*.example.com" matches one label,
// RFC 6125 §6.4.3), else the first certificate. Names are compared
// case-insensitively (DNS names are, RFC 4343).
func selectCertificate(certs []*tls.Certificate, serverName string) *tls.Certificate {
	name := strings.ToLower(strings.TrimSuffix(serverName, "."))
	if name != "" {
		for _, c := range certs {
			for _, san := range c.Leaf.DNSNames {
				if strings.EqualFold(san, name) {
					return c
				}
			}
		}
		if _, parent, ok := strings.Cut(name, "."); ok && parent != "" {
			for _, c := range certs {
				for _, san := range c.Leaf.DNSNames {
					if suffix, ok := strings.CutPrefix(san, "*."); ok && strings.EqualFold(suffix, parent) {
						return c
					}
				}
			}
		}
	}
	return certs[0]
}

// Fingerprint returns the SHA-256 fingerprint of a certificate as
// colon-separated upper-case hex, the form openssl x509 -fingerprint
// -sha256 prints.
func Fingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	var b strings.Builder
	for i, x := range sum {
		if i > 0 {
			b.WriteByte(':')
		}
		fmt.Fprintf(&b, "%02X", x)
	}
	return b.String()
}
