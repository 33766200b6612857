package proto

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"edgemq/gateway/auth"
	"edgemq/listeners"
	"edgemq/mqtt"
	"math/big"
	"testing"
	"time"
)

// TestSubstituteCertIdentity: client_auth.identity_as replaces the
// CONNECT user name or client id by the verified certificate's identity
// (connect.go), and nothing without a verified certificate.
func TestSubstituteCertIdentity(t *testing.T) {
	cert := selfSigned(t, "dev-42")
	verified := &tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert}, VerifiedChains: [][]*x509.Certificate{{cert}}}
	unverified := &tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert}}
	tests := []struct {
		name       string
		identityAs string
		state      *tls.ConnectionState
		wantID     string
		wantUser   string
		wantClient string
	}{
		{"username", "username", verified, "dev-42", "dev-42", "sent-id"},
		{"client id", "client_id", verified, "dev-42", "sent-user", "dev-42"},
		{"none", "", verified, "", "sent-user", "sent-id"},
		{"unverified certificate", "username", unverified, "", "sent-user", "sent-id"},
		{"no tls", "username", nil, "", "sent-user", "sent-id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chain := auth.NewChain(false)
			chain.SetCertIdentity(tt.identityAs, "cn")
			ch := &Channel{auth: chain, meta: &listeners.Meta{TLS: tt.state}}
			c := &mqtt.Connect{ClientID: "sent-id", Username: "sent-user", UsernameFlag: true}
			if id := ch.substituteCertIdentity(c); id != tt.wantID {
				t.Errorf("identity = %q, want %q", id, tt.wantID)
			}
			if c.Username != tt.wantUser || !c.UsernameFlag || c.ClientID != tt.wantClient {
				t.Errorf("connect user %q (flag %v) client id %q, want %q, %q", c.Username, c.UsernameFlag, c.ClientID, tt.wantUser, tt.wantClient)
			}
		})
	}
}

// selfSigned returns a self-signed certificate whose common name is cn.
func selfSigned(tb testing.TB, cn string) *x509.Certificate {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	return cert
}
