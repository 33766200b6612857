package ops

// Certificates: the leaf a source serves, for /readyz and the expiry
// gauge.

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"time"
)

// acme reports whether a source is an ACME one, which is never asked for
// its certificate here: asking may start an issuance.
func acme(cfg TLSSource) bool {
	switch cfg.Config.Source {
	case "certmagic", "autocert":
		return true
	}
	return false
}

type certExpiry struct {
	source, name string
	notAfter     time.Time
}

// certExpiries returns the leaf expiry of the certificates of the file
// and self-signed sources (ACME sources are not asked).
func certExpiries(srcs []TLSSource) []certExpiry {
	var out []certExpiry
	for _, src := range srcs {
		if acme(src) {
			continue
		}
		if len(src.Config.Files) > 0 {
			for _, f := range src.Config.Files {
				if leaf, err := leafFromFile(f.Cert); err == nil {
					out = append(out, certExpiry{src.Name, leafName(leaf), leaf.NotAfter})
				}
			}
			continue
		}
		if leaf := leafOf(src.Source.TLSConfig()); leaf != nil {
			out = append(out, certExpiry{src.Name, leafName(leaf), leaf.NotAfter})
		}
	}
	return out
}

func leafOf(cfg *tls.Config) *x509.Certificate {
	if cfg == nil {
		return nil
	}
	var c *tls.Certificate
	switch {
	case cfg.GetCertificate != nil:
		c, _ = cfg.GetCertificate(&tls.ClientHelloInfo{})
	case len(cfg.Certificates) > 0:
		c = &cfg.Certificates[0]
	}
	if c == nil || len(c.Certificate) == 0 {
		return nil
	}
	if c.Leaf != nil {
		return c.Leaf
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		return nil
	}
	return leaf
}

func leafFromFile(path string) (*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return nil, fmt.Errorf("%s: no certificate", path)
		}
		if blk.Type == "CERTIFICATE" {
			return x509.ParseCertificate(blk.Bytes)
		}
	}
}

func leafName(c *x509.Certificate) string {
	if len(c.DNSNames) > 0 {
		return c.DNSNames[0]
	}
	if c.Subject.CommonName != "" {
		return c.Subject.CommonName
	}
	return "unknown"
}
