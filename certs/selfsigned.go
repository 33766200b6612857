package certs

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"edgemq/configs"

	"go.uber.org/zap"
)

// Self-signed certificate parameters.
const (
	// selfSignedValidity is how long a generated certificate is valid.
	selfSignedValidity = 365 * 24 * time.Hour
	// selfSignedRenewBefore regenerates a certificate this close to its
	// expiry, so a running gateway does not cross it soon after start.
	selfSignedRenewBefore = 7 * 24 * time.Hour
)

// defaultSelfSignedHosts are the names of the development certificate
// when self_signed.hosts is empty.
func defaultSelfSignedHosts() []string { return []string{"localhost", "127.0.0.1", "::1"} }

// staticSource serves one certificate that never changes.
type staticSource struct {
	tc *tls.Config
}

func (s *staticSource) TLSConfig() *tls.Config { return s.tc }
func (s *staticSource) Close() error           { return nil }

// newSelfSigned serves an ECDSA P-256 development certificate for
// self_signed.hosts (default localhost, 127.0.0.1, ::1). It is generated
// on first use into DATA_DIR/certs/selfsigned.crt and .key (directory
// 0700, key 0600) and reused afterwards; it is generated again when those
// files cannot be read, it expires within 7 days, or the hosts changed.
// Clients must trust it explicitly (e.g. mosquitto_sub --cafile
// DATA_DIR/certs/selfsigned.crt); its path and SHA-256 fingerprint are
// logged at info.
func newSelfSigned(_ context.Context, cfg configs.TLSSource, dataDir string, log *zap.Logger) (Source, error) {
	hosts := cfg.SelfSigned.Hosts
	if len(hosts) == 0 {
		hosts = defaultSelfSignedHosts()
	}
	dir := filepath.Join(dataDir, "certs")
	certPath := filepath.Join(dir, "selfsigned.crt")
	keyPath := filepath.Join(dir, "selfsigned.key")

	now := time.Now()
	c, err := loadPair(configs.CertFiles{Cert: certPath, Key: keyPath})
	reuse := false
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		log.Warn("self-signed certificate unreadable, generating a new one", zap.String("cert_file", certPath), zap.Error(err))
	case now.Add(selfSignedRenewBefore).After(c.Leaf.NotAfter):
		log.Info("self-signed certificate expires soon, generating a new one", zap.String("cert_file", certPath), zap.Time("not_after", c.Leaf.NotAfter))
	case !sameHosts(c.Leaf, hosts):
		log.Info("self-signed certificate hosts changed, generating a new one", zap.String("cert_file", certPath), zap.Strings("hosts", hosts))
	default:
		reuse = true
	}
	if !reuse {
		if c, err = generateSelfSigned(hosts, now, dir, certPath, keyPath); err != nil {
			return nil, fmt.Errorf("tls source self_signed: %w", err)
		}
	}

	log.Info("self-signed development certificate",
		zap.String("cert_file", certPath),
		zap.Bool("generated", !reuse),
		zap.Strings("hosts", hosts),
		zap.Time("not_after", c.Leaf.NotAfter),
		zap.String("sha256_fingerprint", Fingerprint(c.Leaf)))

	tc := &tls.Config{Certificates: []tls.Certificate{*c}}
	if err := applyDefaults(cfg, tc); err != nil {
		return nil, fmt.Errorf("tls source self_signed: %w", err)
	}
	return &staticSource{tc: tc}, nil
}

// sameHosts reports whether c is valid for exactly hosts (DNS names and
// IP addresses, in any order).
func sameHosts(c *x509.Certificate, hosts []string) bool {
	var have []string
	for _, n := range c.DNSNames {
		have = append(have, strings.ToLower(n))
	}
	for _, ip := range c.IPAddresses {
		have = append(have, ip.String())
	}
	var want []string
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			want = append(want, ip.String())
		} else {
			want = append(want, strings.ToLower(h))
		}
	}
	slices.Sort(have)
	slices.Sort(want)
	return slices.Equal(slices.Compact(have), slices.Compact(want))
}

// generateSelfSigned makes a certificate for hosts and writes it and its
// key; each file is written to a temporary name and renamed, so a crash
// never leaves half a file.
func generateSelfSigned(hosts []string, now time.Time, dir, certPath, keyPath string) (*tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("generating serial number: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: hosts[0], Organization: []string{"edgemq development"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(selfSignedValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("creating certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encoding key: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating certificate directory: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil { // when it existed already
		return nil, fmt.Errorf("restricting certificate directory: %w", err)
	}
	if err := writeFileAtomic(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return nil, err
	}
	if err := writeFileAtomic(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return nil, err
	}
	return loadPair(configs.CertFiles{Cert: certPath, Key: keyPath})
}

// writeFileAtomic writes data to path through a temporary file in the
// same directory, created with mode perm.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer os.Remove(f.Name()) // fails harmlessly once renamed
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
