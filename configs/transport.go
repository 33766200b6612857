package configs

import "time"

// TLSSource is a named source of TLS certificates (configs key tls.NAME),
// used by tls and wss listeners; several listeners may share one.
type TLSSource struct {
	// Source is files, self_signed, certmagic or autocert; empty is
	// self_signed.
	Source string `yaml:"source"`
	// Files are certificate/key pairs (PEM), chosen by SNI; the first is
	// the default. Changed files are reloaded.
	Files []CertFiles `yaml:"files"`
	// ReloadInterval is how often files are checked for changes (size and
	// modification time); 0 is the default, 5s.
	ReloadInterval time.Duration `yaml:"reload_interval"`
	// SelfSigned configures the development certificate.
	SelfSigned SelfSigned `yaml:"self_signed"`
	// ACME configures certmagic and autocert.
	ACME ACME `yaml:"acme"`
	// ClientAuth configures client certificates (mTLS).
	ClientAuth ClientAuth `yaml:"client_auth"`
	// MinVersion is the lowest TLS version: "1.2" (also when empty) or
	// "1.3".
	MinVersion string `yaml:"min_version"`
	// CipherSuites are the TLS 1.2 cipher suites offered, by Go name
	// (crypto/tls); empty is ECDHE with AES-GCM or ChaCha20-Poly1305
	// only (DefaultCipherSuites), without the CBC-SHA1 suites. TLS 1.3
	// suites are not configurable.
	CipherSuites []string `yaml:"cipher_suites"`
	// HandshakeTimeout bounds the TLS handshake; 0 is the default, 10s.
	HandshakeTimeout time.Duration `yaml:"handshake_timeout"`
}

// CertFiles is one certificate chain and its key, PEM files.
type CertFiles struct {
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
}

// SelfSigned is the development certificate, generated on first use into
// the data directory and reused afterwards.
type SelfSigned struct {
	// Hosts are the DNS names and IP addresses it is valid for; empty is
	// localhost, 127.0.0.1 and ::1.
	Hosts []string `yaml:"hosts"`
}

// ACME obtains and renews certificates from an ACME CA.
type ACME struct {
	// Directory is the ACME directory URL (default: Let's Encrypt).
	Directory string `yaml:"directory"`
	// Email is the account contact.
	Email string `yaml:"email"`
	// Domains are obtained at start.
	Domains []string `yaml:"domains"`
	// RootCA, when set, is a PEM file of CAs trusted for the ACME server
	// (private CAs and tests).
	RootCA string `yaml:"root_ca"`
	// HTTPAddress, when set, serves HTTP-01 challenges there.
	HTTPAddress string `yaml:"http_address"`
	// OnDemand obtains certificates at handshake time for allowed names.
	OnDemand OnDemand `yaml:"on_demand"`
	// Storage is the certificate cache directory (default DATA_DIR/acme).
	Storage string `yaml:"storage"`
}

// OnDemand guards on-demand issuance: a name is allowed when it is in
// Allow or when the Ask URL answers 200 for it.
type OnDemand struct {
	Enabled bool     `yaml:"enabled"`
	Allow   []string `yaml:"allow"`
	Ask     string   `yaml:"ask"`
}

// ClientAuth configures client certificates.
type ClientAuth struct {
	// Mode is none (also when empty), optional or required.
	Mode string `yaml:"mode"`
	// CAFile is a PEM file of CAs client certificates must chain to.
	CAFile string `yaml:"ca_file"`
	// Identity is which certificate field is the identity: cn, san_dns,
	// san_email or san_uri; empty is cn.
	Identity string `yaml:"identity"`
	// IdentityAs hands the identity to authentication as the username,
	// the client id, or not at all: username, client_id or none (also
	// when empty).
	IdentityAs string `yaml:"identity_as"`
}

// WebSocket configures ws and wss listeners.
type WebSocket struct {
	// Path is the upgrade path (default /mqtt).
	Path string `yaml:"path"`
	// Subprotocols are the accepted subprotocols, in preference order
	// (default mqtt, mqttv3.1).
	Subprotocols []string `yaml:"subprotocols"`
	// RequireSubprotocol refuses clients that offer none of them.
	RequireSubprotocol bool `yaml:"require_subprotocol"`
	// CheckOrigin refuses browsers whose Origin is not in AllowedOrigins
	// or, with none, not the same origin on one of ServerNames (default
	// true).
	CheckOrigin *bool `yaml:"check_origin"`
	// AllowedOrigins, when set, are the only accepted origins, e.g.
	// https://app.example.com.
	AllowedOrigins []string `yaml:"allowed_origins"`
	// ServerNames are the host names and addresses the listener is
	// reached by; with no AllowedOrigins, a same-origin request is
	// accepted only for a Host among them or a loopback name (localhost,
	// 127.0.0.1, ::1).
	ServerNames []string `yaml:"server_names"`
	// Compression enables permessage-deflate.
	Compression bool `yaml:"compression"`
	// Page serves the diagnostic web client at /.
	Page bool `yaml:"page"`
}

// ProxyProtocol accepts PROXY protocol v1/v2 headers from trusted
// addresses.
type ProxyProtocol struct {
	// Trusted are the CIDRs (or single addresses) allowed to send a PROXY
	// header; empty: off. Other peers that send one are refused.
	Trusted []string `yaml:"trusted"`
	// HeaderTimeout bounds the wait for the header (default 5s).
	HeaderTimeout time.Duration `yaml:"header_timeout"`
}
