package configs

import (
	"crypto/tls"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// validateTLS checks the named certificate sources under tls. Keys an
// entry leaves empty take their defaults (source self_signed,
// min_version 1.2, client_auth.mode none, identity cn, identity_as none;
// zero durations mean the default), since an entry a file adds does not
// inherit the values of the documented default entry.
func (c *Config) validateTLS(ps *problems) {
	names := make([]string, 0, len(c.TLS))
	for name := range c.TLS {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if name == "" {
			ps.add("tls", "a tls source name must not be empty")
			continue
		}
		validateTLSSource(ps, "tls."+name, c.TLS[name])
	}
}

func validateTLSSource(ps *problems, path string, s TLSSource) {
	switch s.Source {
	case "", "self_signed":
		for i, h := range s.SelfSigned.Hosts {
			if h == "" {
				ps.add(fmt.Sprintf("%s.self_signed.hosts[%d]", path, i), "must not be empty")
			}
		}
	case "files":
		if len(s.Files) == 0 {
			ps.add(path+".files", "at least one cert/key pair is required for source files")
		}
		for i, f := range s.Files {
			p := fmt.Sprintf("%s.files[%d]", path, i)
			if f.Cert == "" {
				ps.add(p+".cert", "is required")
			}
			if f.Key == "" {
				ps.add(p+".key", "is required")
			}
		}
	case "certmagic", "autocert":
		validateACME(ps, path+".acme", s.Source, s.ACME)
	default:
		ps.add(path+".source", "%q is not a source: want files, self_signed, certmagic or autocert", s.Source)
	}

	if s.ReloadInterval < 0 {
		ps.add(path+".reload_interval", "%s must not be negative (0 means the default, 5s)", s.ReloadInterval)
	}
	if s.HandshakeTimeout < 0 {
		ps.add(path+".handshake_timeout", "%s must not be negative (0 means the default, 10s)", s.HandshakeTimeout)
	}
	if !slices.Contains([]string{"", "1.2", "1.3"}, s.MinVersion) {
		ps.add(path+".min_version", "%q is not a TLS version: want \"1.2\" or \"1.3\"", s.MinVersion)
	}

	for i, name := range s.CipherSuites {
		if !tls12Suite(name) {
			ps.add(fmt.Sprintf("%s.cipher_suites[%d]", path, i), "%q is not a TLS 1.2 cipher suite Go offers: want one of %s", name, strings.Join(TLS12CipherSuites(), ", "))
		}
	}
	if len(s.CipherSuites) > 0 && s.MinVersion == "1.3" {
		ps.add(path+".cipher_suites", "has no effect with min_version 1.3 (TLS 1.3 suites are not configurable)")
	}

	ca := s.ClientAuth
	switch ca.Mode {
	case "", "none":
	case "optional", "required":
		if ca.CAFile == "" {
			ps.add(path+".client_auth.ca_file", "is required when client_auth.mode is %s", ca.Mode)
		}
	default:
		ps.add(path+".client_auth.mode", "%q is not a mode: want none, optional or required", ca.Mode)
	}
	if !slices.Contains([]string{"", "cn", "san_dns", "san_email", "san_uri"}, ca.Identity) {
		ps.add(path+".client_auth.identity", "%q is not a certificate field: want cn, san_dns, san_email or san_uri", ca.Identity)
	}
	if !slices.Contains([]string{"", "none", "username", "client_id"}, ca.IdentityAs) {
		ps.add(path+".client_auth.identity_as", "%q is not a use: want none, username or client_id", ca.IdentityAs)
	}
}

// DefaultCipherSuites are the TLS 1.2 suites offered when cipher_suites
// is empty: forward-secret (ECDHE) with an AEAD cipher. The ECDHE CBC-SHA1
// suites Go would add (Lucky13-style padding oracles, SHA-1 MACs) are
// left out; every browser and MQTT client of the last decade has one of
// these.
func DefaultCipherSuites() []string {
	return []string{
		"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
		"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
		"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
		"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
		"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
		"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
	}
}

// TLS12CipherSuites names the suites cipher_suites may list: those of
// crypto/tls's secure list that TLS 1.2 uses. Its insecure list (RSA key
// exchange, RC4, 3DES, CBC-SHA256) is never offered.
func TLS12CipherSuites() []string {
	var out []string
	for _, cs := range tls.CipherSuites() {
		if slices.Contains(cs.SupportedVersions, tls.VersionTLS12) {
			out = append(out, cs.Name)
		}
	}
	return out
}

func tls12Suite(name string) bool { return slices.Contains(TLS12CipherSuites(), name) }
