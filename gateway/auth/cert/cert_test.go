package cert

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"net"
	"testing"

	"edgemq/configs"
	"edgemq/gateway/auth"
	"edgemq/listeners"
	"edgemq/mqtt"
)

// TestAuth: a verified certificate's identity lets the client in (only a
// listed one when identities are listed); no verified certificate is not
// the backend's business.
func TestAuth(t *testing.T) {
	verified := func(cn, dns string) *tls.ConnectionState {
		c := &x509.Certificate{Subject: pkix.Name{CommonName: cn}}
		if dns != "" {
			c.DNSNames = []string{dns}
		}
		return &tls.ConnectionState{PeerCertificates: []*x509.Certificate{c}, VerifiedChains: [][]*x509.Certificate{{c}}}
	}
	unverified := &tls.ConnectionState{PeerCertificates: []*x509.Certificate{{Subject: pkix.Name{CommonName: "dev-1"}}}}
	for _, tt := range []struct {
		name  string
		cfg   configs.CertAuth
		field string
		state *tls.ConnectionState
		want  string // allow, not mine, or a reason code
	}{
		{"any identity", configs.CertAuth{}, "cn", verified("dev-1", ""), "allow"},
		{"listed identity", configs.CertAuth{Identities: []string{"dev-1"}}, "cn", verified("dev-1", ""), "allow"},
		{"unlisted identity", configs.CertAuth{Identities: []string{"dev-2"}}, "cn", verified("dev-1", ""), mqtt.NotAuthorized.String()},
		{"by san_dns", configs.CertAuth{Identities: []string{"d.example"}}, "san_dns", verified("dev-1", "d.example"), "allow"},
		{"field missing", configs.CertAuth{}, "san_dns", verified("dev-1", ""), "not mine"},
		{"unverified", configs.CertAuth{}, "cn", unverified, "not mine"},
		{"plain tcp", configs.CertAuth{}, "cn", nil, "not mine"},
	} {
		meta := &listeners.Meta{Listener: "mtls", Transport: listeners.TLS, RemoteAddr: &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 1}, TLS: tt.state}
		v := auth.NewView(meta, &mqtt.Connect{Version: mqtt.V5}, "c", "", false)
		err := New(tt.cfg, tt.field).Authenticate(context.Background(), v)
		got := "allow"
		switch {
		case errors.Is(err, auth.ErrNotMine):
			got = "not mine"
		case err != nil:
			got = mqtt.CodeOf(err).String()
		}
		if got != tt.want {
			t.Errorf("%s: %s (%v), want %s", tt.name, got, err, tt.want)
		}
	}
}
