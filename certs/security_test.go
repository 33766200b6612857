package certs

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"edgemq/configs"
)

// rsaFiles writes a self-signed RSA certificate for localhost and its key
// (RSA certificates are the ones ECDHE-RSA and RSA key exchange suites
// would use; self_signed makes ECDSA ones).
func rsaFiles(t testing.TB) configs.CertFiles {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		// Key encipherment too, so that an RSA key exchange would be
		// refused for its suite, not for the key's usage.
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	f := configs.CertFiles{Cert: filepath.Join(dir, "rsa.crt"), Key: filepath.Join(dir, "rsa.key")}
	writeFile(t, f.Cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	writeFile(t, f.Key, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
	return f
}

// tlsServers serves an ECDSA (self_signed) and an RSA (files) source with
// extra applied to both.
func tlsServers(t *testing.T, extra configs.TLSSource) map[string]*testServer {
	t.Helper()
	ec := extra
	ec.Source = "self_signed"
	rs := extra
	rs.Source, rs.Files = "files", []configs.CertFiles{rsaFiles(t)}
	return map[string]*testServer{
		"ecdsa": serve(t, newSource(t, ec, t.TempDir()).TLSConfig()),
		"rsa":   serve(t, newSource(t, rs, t.TempDir()).TLSConfig()),
	}
}

// suiteIDs are the ids of the named suites, secure or not.
func suiteIDs(t testing.TB, names ...string) []uint16 {
	t.Helper()
	var out []uint16
	for _, n := range names {
		i := slices.IndexFunc(append(tls.CipherSuites(), tls.InsecureCipherSuites()...), func(cs *tls.CipherSuite) bool { return cs.Name == n })
		if i < 0 {
			t.Fatalf("no suite %s", n)
		}
		out = append(out, append(tls.CipherSuites(), tls.InsecureCipherSuites()...)[i].ID)
	}
	return out
}

// cbcSHA1 and rsaKex are the suites that must not be negotiated at the
// default min_version.
var (
	cbcSHA1 = []string{
		"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
		"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
	}
	rsaKex = []string{
		"TLS_RSA_WITH_AES_128_CBC_SHA", "TLS_RSA_WITH_AES_256_CBC_SHA", "TLS_RSA_WITH_AES_128_GCM_SHA256",
		"TLS_RSA_WITH_AES_256_GCM_SHA384", "TLS_RSA_WITH_AES_128_CBC_SHA256", "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
	}
)

// TestTLSProtocolFloor: with the default settings, TLS 1.0 and 1.1 are
// refused, and a TLS 1.2 client that offers only CBC-SHA1 or RSA key
// exchange suites is refused too (Go's own client, which can offer them).
// A client with AEAD suites is served with one.
func TestTLSProtocolFloor(t *testing.T) {
	for name, srv := range tlsServers(t, configs.TLSSource{}) {
		t.Run(name, func(t *testing.T) {
			base := func() *tls.Config { return &tls.Config{ServerName: "localhost", InsecureSkipVerify: true} }
			for _, v := range []uint16{tls.VersionTLS10, tls.VersionTLS11} {
				cc := base()
				cc.MinVersion, cc.MaxVersion = v, v
				if _, err := srv.dial(t, cc); err == nil {
					t.Errorf("%s accepted", tls.VersionName(v))
				}
			}
			for _, s := range append(slices.Clone(cbcSHA1), rsaKex...) {
				cc := base()
				cc.MaxVersion = tls.VersionTLS12
				cc.CipherSuites = suiteIDs(t, s)
				if c, err := srv.dial(t, cc); err == nil {
					t.Errorf("TLS 1.2 with only %s accepted (%s)", s, tls.CipherSuiteName(c.ConnectionState().CipherSuite))
				}
			}
			cc := base()
			cc.MaxVersion = tls.VersionTLS12
			c, err := srv.dial(t, cc)
			if err != nil {
				t.Fatalf("TLS 1.2 with Go's default suites: %v", err)
			}
			if got := tls.CipherSuiteName(c.ConnectionState().CipherSuite); !strings.Contains(got, "_GCM_") && !strings.Contains(got, "CHACHA20") {
				t.Errorf("negotiated %s, want an AEAD suite", got)
			}
		})
	}
}

// TestTLSCipherSuitesSetting: cipher_suites replaces the default set, so
// a deployment with old clients can add back an ECDHE CBC-SHA1 suite, and
// only what it lists is negotiated.
func TestTLSCipherSuitesSetting(t *testing.T) {
	srvs := tlsServers(t, configs.TLSSource{CipherSuites: []string{"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"}})
	rows := []struct {
		server, suite string
		ok            bool
	}{
		{"ecdsa", "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", true},
		{"rsa", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", true},
		{"rsa", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", true},
		{"rsa", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", false}, // not listed
		{"ecdsa", "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", false},
		{"rsa", "TLS_RSA_WITH_AES_128_CBC_SHA", false},
	}
	for _, r := range rows {
		cc := &tls.Config{ServerName: "localhost", InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12, CipherSuites: suiteIDs(t, r.suite)}
		_, err := srvs[r.server].dial(t, cc)
		if (err == nil) != r.ok {
			t.Errorf("%s server, client offering %s: err %v, want accepted %v", r.server, r.suite, err, r.ok)
		}
	}
	if _, err := cipherSuites([]string{"TLS_RSA_WITH_AES_128_CBC_SHA"}); err == nil {
		t.Error("an RSA key exchange suite was accepted in cipher_suites")
	}
}

// openssl runs s_client against addr with args and reports whether the
// handshake completed, with its output.
func openssl(t *testing.T, addr string, args ...string) (bool, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "openssl", append([]string{"s_client", "-connect", addr, "-servername", "localhost"}, args...)...)
	out, err := cmd.CombinedOutput()
	return err == nil && strings.Contains(string(out), "Cipher is ") && !strings.Contains(string(out), "Cipher is (NONE)"), string(out)
}

// TestTLSOpenSSLClient is the protocol floor seen by OpenSSL's client:
// TLS 1.0 and 1.1 refused (offered at security level 0, so that the
// refusal is the server's), no CBC-SHA1 and no RSA key exchange suite at
// the default min_version, an AEAD suite and TLS 1.3 served.
func TestTLSOpenSSLClient(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl is not installed (apt-get install openssl): the OpenSSL rows are skipped; TestTLSProtocolFloor covers them with Go's client")
	}
	srvs := tlsServers(t, configs.TLSSource{})
	rows := []struct {
		server string
		args   []string
		ok     bool
	}{
		{"ecdsa", []string{"-tls1", "-cipher", "DEFAULT@SECLEVEL=0"}, false},
		{"ecdsa", []string{"-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"}, false},
		{"rsa", []string{"-tls1", "-cipher", "DEFAULT@SECLEVEL=0"}, false},
		{"rsa", []string{"-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"}, false},
		{"ecdsa", []string{"-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA"}, false},
		{"rsa", []string{"-tls1_2", "-cipher", "ECDHE-RSA-AES128-SHA:ECDHE-RSA-AES256-SHA"}, false},
		{"rsa", []string{"-tls1_2", "-cipher", "AES128-SHA:AES256-SHA:AES128-GCM-SHA256:AES256-GCM-SHA384:AES128-SHA256:AES256-SHA256@SECLEVEL=0"}, false},
		{"ecdsa", []string{"-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"}, true},
		{"rsa", []string{"-tls1_2", "-cipher", "ECDHE-RSA-CHACHA20-POLY1305"}, true},
		{"rsa", []string{"-tls1_3"}, true},
	}
	for _, r := range rows {
		ok, out := openssl(t, srvs[r.server].addr, r.args...)
		if ok != r.ok {
			t.Errorf("%s server, openssl s_client %s: handshake %v, want %v\n%s", r.server, strings.Join(r.args, " "), ok, r.ok, out)
		}
	}
}
