package certs

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"edgemq/configs"

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
// Every reload_interval each pair's files are stat'ed; when the size or
// modification time of either changed since the last look, the pair is
// read again. A pair that loads (the PEM parses and the key matches the
// certificate) replaces the old one atomically: handshakes from then on
// get it, connections already made are not touched. A pair that does not
// load (bad PEM, key mismatch, a file half written or gone) leaves the old
// certificate in place and is logged; it is tried again on its next
// change. Writing the certificate and then the key therefore works: the
// moment in between is logged as a mismatch and the key's write fixes it.
// (A rewrite that keeps both the size and the modification time of a file
// is not seen; file systems keep modification times in nanoseconds or, at
// worst, seconds.) The reload loop runs until Close.
type filesSource struct {
	log   *zap.Logger
	files []configs.CertFiles
	tc    *tls.Config

	// certs are the loaded pairs, index-aligned with files. Replaced
	// whole, never modified.
	certs atomic.Pointer[[]*tls.Certificate]

	// mu serializes reloads; seen is guarded by it.
	mu sync.Mutex
	// seen are the file stats of each pair at the last look.
	seen []pairStat

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// pairStat is what a look at a pair's files saw; two stats differ when
// either file changed size or modification time, appeared or vanished.
type pairStat struct {
	cert, key fileStat
}

type fileStat struct {
	size    int64
	modTime time.Time
	missing bool
}

func statFile(path string) fileStat {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStat{missing: true}
	}
	return fileStat{size: fi.Size(), modTime: fi.ModTime()}
}

func statPair(f configs.CertFiles) pairStat {
	return pairStat{cert: statFile(f.Cert), key: statFile(f.Key)}
}

func (a fileStat) equal(b fileStat) bool {
	return a.size == b.size && a.modTime.Equal(b.modTime) && a.missing == b.missing
}

func (a pairStat) equal(b pairStat) bool {
	return a.cert.equal(b.cert) && a.key.equal(b.key)
}

// newFiles loads every pair (any failure is an error: there is no old
// certificate to keep) and starts the reload loop.
func newFiles(_ context.Context, cfg configs.TLSSource, log *zap.Logger) (*filesSource, error) {
	if len(cfg.Files) == 0 {
		return nil, errors.New("tls source files: no files configured")
	}
	s := &filesSource{
		log:   log,
		files: cfg.Files,
		seen:  make([]pairStat, len(cfg.Files)),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	certs := make([]*tls.Certificate, len(cfg.Files))
	for i, f := range cfg.Files {
		s.seen[i] = statPair(f)
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

	interval := cfg.ReloadInterval
	if interval <= 0 {
		interval = defaultReloadInterval
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
			s.reload()
		}
	}
}

// reload reads again each pair whose files changed since the last look
// and swaps in those that load. It reports how many pairs were replaced.
func (s *filesSource) reload() (replaced int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var next []*tls.Certificate
	for i, f := range s.files {
		st := statPair(f)
		if st.equal(s.seen[i]) {
			continue
		}
		// Remember this state even when loading fails, so a broken file
		// is logged once and tried again only when it changes.
		s.seen[i] = st
		c, err := loadPair(f)
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
	c, err := tls.LoadX509KeyPair(f.Cert, f.Key)
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
