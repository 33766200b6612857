package certs

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"time"

	"edgemq/configs"
)

// ALPNProtocol is the ALPN protocol ID of MQTT, registered with IANA
// (RFC 7301 §6; IANA "TLS Application-Layer Protocol Negotiation (ALPN)
// Protocol IDs": "mqtt").
const ALPNProtocol = "mqtt"

// Session ticket key schedule (see ticketKeys).
const (
	// ticketKeyRotation is how long one key encrypts new tickets.
	ticketKeyRotation = 12 * time.Hour
	// ticketKeyRetention is how long a key still decrypts tickets after
	// it stopped encrypting new ones.
	ticketKeyRetention = 24 * time.Hour
)

// Defaults for keys a tls entry leaves out (an entry added in a file does
// not inherit the values of the documented default entry).
const (
	defaultReloadInterval   = 5 * time.Second
	defaultHandshakeTimeout = 10 * time.Second
)

// HandshakeTimeout returns the handshake timeout of cfg, the default
// (10s) when it is unset. Listeners bound the TLS handshake with it.
func HandshakeTimeout(cfg configs.TLSSource) time.Duration {
	if cfg.HandshakeTimeout > 0 {
		return cfg.HandshakeTimeout
	}
	return defaultHandshakeTimeout
}

// applyDefaults sets on tc what every source shares; each source (files,
// self_signed, certmagic, autocert) calls it on the *tls.Config it built,
// after setting its certificates and NextProtos:
//
//   - MinVersion TLS 1.2, or TLS 1.3 when min_version is "1.3". TLS 1.3 is
//     preferred whenever the client offers it (crypto/tls does so; RFC 8446
//     §4.1.3 downgrade protection applies), with Go's default cipher
//     suites and key exchanges: a client that offers the post-quantum
//     hybrid X25519MLKEM768 gets it (it costs the server an ML-KEM-768
//     encapsulation, about a fifth of a handshake's CPU, worth it
//     against harvest-now-decrypt-later); others get X25519 or a NIST
//     curve.
//   - TLS 1.2 cipher suites: cipher_suites, or ECDHE with AES-GCM or
//     ChaCha20-Poly1305 only (configs.DefaultCipherSuites): not the
//     ECDHE CBC-SHA1 suites crypto/tls would also offer; RSA key exchange
//     is never offered.
//   - ALPN: "mqtt" is appended to NextProtos unless present, so protocols
//     the source needs (e.g. "acme-tls/1" for TLS-ALPN-01, RFC 8737) stay
//     first. A client that offers one of NextProtos gets it; one that
//     offers ALPN without any of them, or no ALPN, is served without ALPN
//     (see serveWithoutALPN for why). wss listeners serving browsers
//     (which offer h2, http/1.1) add "http/1.1" with WithNextProtos.
//   - Session resumption (RFC 8446 §2.2, RFC 5077): tickets are on and
//     sealed with AES-256-GCM under a key that is replaced every 12 h; a
//     replaced key still opens tickets for 24 h, older tickets fall back
//     to a full handshake. This is done with WrapSession/UnwrapSession and
//     keys rotated lazily when a ticket is issued, so no goroutine is
//     needed. Keys live in memory only: a restart invalidates tickets.
//   - Client certificates (mTLS) per client_auth.mode: none (the default),
//     optional (tls.VerifyClientCertIfGiven) or required
//     (tls.RequireAndVerifyClientCert), verified against the CAs of
//     client_auth.ca_file. See Identity for using them.
//
// It must be the last change to tc: the ALPN fallback is a copy of tc
// made here. It returns an error when min_version or client_auth is
// invalid or the CA file cannot be read.
func applyDefaults(cfg configs.TLSSource, tc *tls.Config) error {
	switch cfg.MinVersion {
	case "", "1.2":
		tc.MinVersion = tls.VersionTLS12
	case "1.3":
		tc.MinVersion = tls.VersionTLS13
	default:
		return fmt.Errorf("applying tls defaults: min_version %q is not 1.2 or 1.3", cfg.MinVersion)
	}

	suites, err := cipherSuites(cfg.CipherSuites)
	if err != nil {
		return fmt.Errorf("applying tls defaults: %w", err)
	}
	tc.CipherSuites = suites

	if !slices.Contains(tc.NextProtos, ALPNProtocol) {
		tc.NextProtos = append(slices.Clip(tc.NextProtos), ALPNProtocol)
	}

	keys, err := newTicketKeys(time.Now)
	if err != nil {
		return fmt.Errorf("applying tls defaults: %w", err)
	}
	tc.SessionTicketsDisabled = false
	tc.WrapSession = keys.wrap
	tc.UnwrapSession = keys.unwrap

	switch cfg.ClientAuth.Mode {
	case "", "none":
		tc.ClientAuth = tls.NoClientCert
	case "optional":
		tc.ClientAuth = tls.VerifyClientCertIfGiven
	case "required":
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	default:
		return fmt.Errorf("applying tls defaults: client_auth.mode %q is not none, optional or required", cfg.ClientAuth.Mode)
	}
	if tc.ClientAuth != tls.NoClientCert {
		pool, err := loadCAPool(cfg.ClientAuth.CAFile)
		if err != nil {
			return fmt.Errorf("applying tls defaults: %w", err)
		}
		tc.ClientCAs = pool
	}

	serveWithoutALPN(tc)
	return nil
}

// serveWithoutALPN sets tc.GetConfigForClient so that a client whose ALPN
// list has none of tc.NextProtos is served without ALPN instead of being
// refused.
//
// Why: crypto/tls follows RFC 7301 §3.2 and refuses such a client with a
// no_application_protocol alert. But ALPN is optional for MQTT: MQTT over
// TLS needs no ALPN, "mqtt" only names the protocol to clients that ask
// for it, and a server that does not use ALPN ignores the extension
// (RFC 7301 §3.1). MQTT clients offer other ids: the AWS IoT SDKs offer
// "x-amzn-mqtt-ca" (for MQTT on port 443), others "mqttv3.1" or
// "http/1.1". Announcing "mqtt" must not lock them out, so to them we
// answer as a server that does not use ALPN (as crypto/tls itself does
// for http/1.1 clients of h2-only servers, golang/go#46310). A client
// that offers one of NextProtos still gets it, the server's first choice.
//
// The exception is "acme-tls/1" (RFC 8737): a client offering it is an
// ACME validator, which needs the protocol negotiated; when tc does not
// announce it (a non-ACME source) the handshake is refused as before,
// never served with an ordinary certificate.
//
// The fallback is a Clone of tc made here, once, without NextProtos and
// GetConfigForClient; everything else is shared: GetCertificate (so
// certificate reloads and ACME renewals reach both), Certificates,
// ClientAuth and ClientCAs, MinVersion, and WrapSession/UnwrapSession,
// which close over the same ticketKeys, so a ticket issued by either
// config resumes on the other. tc must not be changed afterwards: use
// WithNextProtos to announce more protocols.
//
// Neither certmagic nor autocert is affected: we only use their
// GetCertificate, which tells a TLS-ALPN-01 handshake by the client's
// offer (hello.SupportedProtos is exactly ["acme-tls/1"]); such a
// handshake matches "acme-tls/1" in tc.NextProtos and keeps tc.
func serveWithoutALPN(tc *tls.Config) {
	fallback := tc.Clone()
	fallback.NextProtos = nil
	fallback.GetConfigForClient = nil
	ours := slices.Clone(tc.NextProtos)
	tc.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		if len(hello.SupportedProtos) == 0 || slices.Contains(hello.SupportedProtos, alpnACMETLS1) ||
			slices.ContainsFunc(hello.SupportedProtos, func(p string) bool { return slices.Contains(ours, p) }) {
			return nil, nil // tc: negotiates ALPN as configured
		}
		return fallback, nil
	}
}

// WithNextProtos returns a copy of tc, the TLSConfig of a Source, that
// also announces protos, before its own so that the server prefers them,
// e.g. "http/1.1" for wss listeners: a WebSocket client that offers both
// "mqtt" and "http/1.1" must get HTTP. Clients offering none of its protocols
// are still served without ALPN (see serveWithoutALPN), with the same
// certificates, client authentication and session tickets as tc. Use it
// rather than Clone: a Clone keeps the GetConfigForClient of tc, which
// knows only the protocols of tc.
func WithNextProtos(tc *tls.Config, protos ...string) *tls.Config {
	out := tc.Clone()
	next := slices.Clone(protos)
	for _, p := range tc.NextProtos {
		if !slices.Contains(next, p) {
			next = append(next, p)
		}
	}
	out.NextProtos = next
	out.GetConfigForClient = nil
	serveWithoutALPN(out)
	return out
}

// cipherSuites returns the ids of the named TLS 1.2 suites, or of
// configs.DefaultCipherSuites when names is empty: ECDHE with an AEAD
// only, so that no CBC-SHA1 suite is offered unless configured. Only
// crypto/tls's secure TLS 1.2 suites may be named (configs validates
// this; a name that slips through is an error here too).
func cipherSuites(names []string) ([]uint16, error) {
	if len(names) == 0 {
		names = configs.DefaultCipherSuites()
	}
	out := make([]uint16, 0, len(names))
	for _, n := range names {
		i := slices.IndexFunc(tls.CipherSuites(), func(cs *tls.CipherSuite) bool {
			return cs.Name == n && slices.Contains(cs.SupportedVersions, tls.VersionTLS12)
		})
		if i < 0 {
			return nil, fmt.Errorf("cipher suite %q is not a secure TLS 1.2 suite", n)
		}
		out = append(out, tls.CipherSuites()[i].ID)
	}
	return out, nil
}

// loadCAPool reads a PEM file of CA certificates.
func loadCAPool(path string) (*x509.CertPool, error) {
	if path == "" {
		return nil, errors.New("client_auth.ca_file is required for client certificates")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading client ca file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("parsing client ca file %s: no PEM certificate found", path)
	}
	return pool, nil
}

// ticketKeys seals session tickets. The current key seals new tickets and
// is replaced once it is ticketKeyRotation old; replaced keys still open
// tickets for ticketKeyRetention. Rotation happens on use, under mu.
//
// A ticket is keyName (16 bytes, as the key_name of RFC 5077 §4) || nonce
// (12 bytes) || AES-256-GCM(state) with keyName as additional data.
type ticketKeys struct {
	now func() time.Time

	mu sync.Mutex
	// keys are newest first; keys[0] seals.
	keys []ticketKey
}

type ticketKey struct {
	name    [16]byte
	aead    cipher.AEAD
	created time.Time
	// retired is when a newer key replaced it; zero for the current one.
	retired time.Time
}

const (
	ticketNameLen  = 16
	ticketNonceLen = 12
)

func newTicketKeys(now func() time.Time) (*ticketKeys, error) {
	k := &ticketKeys{now: now}
	key, err := newTicketKey(now())
	if err != nil {
		return nil, err
	}
	k.keys = []ticketKey{key}
	return k, nil
}

func newTicketKey(now time.Time) (ticketKey, error) {
	var secret [32]byte
	k := ticketKey{created: now}
	if _, err := rand.Read(secret[:]); err != nil {
		return k, fmt.Errorf("generating session ticket key: %w", err)
	}
	if _, err := rand.Read(k.name[:]); err != nil {
		return k, fmt.Errorf("generating session ticket key name: %w", err)
	}
	block, err := aes.NewCipher(secret[:])
	if err != nil {
		return k, fmt.Errorf("making session ticket cipher: %w", err)
	}
	if k.aead, err = cipher.NewGCM(block); err != nil {
		return k, fmt.Errorf("making session ticket cipher: %w", err)
	}
	return k, nil
}

// rotate replaces the current key when it is due and drops keys retired
// longer than ticketKeyRetention ago. mu must be held.
func (k *ticketKeys) rotate() error {
	now := k.now()
	if now.Sub(k.keys[0].created) >= ticketKeyRotation {
		key, err := newTicketKey(now)
		if err != nil {
			return err
		}
		k.keys[0].retired = now
		k.keys = append([]ticketKey{key}, k.keys...)
	}
	k.keys = slices.DeleteFunc(k.keys, func(t ticketKey) bool {
		return !t.retired.IsZero() && now.Sub(t.retired) >= ticketKeyRetention
	})
	return nil
}

// seal encrypts a session state with the current key.
func (k *ticketKeys) seal(state []byte) ([]byte, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.rotate(); err != nil {
		return nil, err
	}
	key := k.keys[0]
	out := make([]byte, ticketNameLen+ticketNonceLen, ticketNameLen+ticketNonceLen+len(state)+key.aead.Overhead())
	copy(out, key.name[:])
	if _, err := rand.Read(out[ticketNameLen:]); err != nil {
		return nil, fmt.Errorf("generating session ticket nonce: %w", err)
	}
	return key.aead.Seal(out, out[ticketNameLen:], state, out[:ticketNameLen]), nil
}

// open decrypts a ticket sealed by a key still kept; ok is false for an
// unknown key, an expired one or a forged ticket.
func (k *ticketKeys) open(ticket []byte) (state []byte, ok bool) {
	if len(ticket) < ticketNameLen+ticketNonceLen {
		return nil, false
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := k.rotate(); err != nil {
		return nil, false
	}
	name := ticket[:ticketNameLen]
	for _, key := range k.keys {
		if !bytes.Equal(key.name[:], name) {
			continue
		}
		state, err := key.aead.Open(nil, ticket[ticketNameLen:ticketNameLen+ticketNonceLen], ticket[ticketNameLen+ticketNonceLen:], name)
		return state, err == nil
	}
	return nil, false
}

// wrap is tls.Config.WrapSession.
func (k *ticketKeys) wrap(_ tls.ConnectionState, ss *tls.SessionState) ([]byte, error) {
	state, err := ss.Bytes()
	if err != nil {
		return nil, fmt.Errorf("encoding session state: %w", err)
	}
	return k.seal(state)
}

// unwrap is tls.Config.UnwrapSession: a ticket it cannot open is ignored
// (nil, nil), so the client gets a full handshake.
func (k *ticketKeys) unwrap(identity []byte, _ tls.ConnectionState) (*tls.SessionState, error) {
	state, ok := k.open(identity)
	if !ok {
		return nil, nil
	}
	ss, err := tls.ParseSessionState(state)
	if err != nil {
		return nil, nil
	}
	return ss, nil
}
