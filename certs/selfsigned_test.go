package certs

import (
	"crypto/tls"
	"crypto/x509"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"edgemq/configs"
)

// selfSignedLeaf returns the certificate a self_signed source serves.
func selfSignedLeaf(t testing.TB, cfg configs.TLSSource, dataDir string) *x509.Certificate {
	t.Helper()
	tc := newSource(t, cfg, dataDir).TLSConfig()
	if len(tc.Certificates) != 1 || tc.Certificates[0].Leaf == nil {
		t.Fatalf("self-signed source has %d certificates, want 1 with its leaf", len(tc.Certificates))
	}
	return tc.Certificates[0].Leaf
}

func TestSelfSignedGeneratedAndReused(t *testing.T) {
	dataDir := t.TempDir()
	dir := filepath.Join(dataDir, "certs")
	first := selfSignedLeaf(t, configs.TLSSource{}, dataDir) // empty source is self_signed

	if got := first.DNSNames; !slices.Equal(got, []string{"localhost"}) {
		t.Errorf("DNS names = %v, want [localhost]", got)
	}
	var ips []string
	for _, ip := range first.IPAddresses {
		ips = append(ips, ip.String())
	}
	if !slices.Equal(ips, []string{"127.0.0.1", "::1"}) {
		t.Errorf("IP addresses = %v, want [127.0.0.1 ::1]", ips)
	}
	if _, err := first.Verify(x509.VerifyOptions{Roots: poolOf(first), DNSName: "localhost"}); err != nil {
		t.Errorf("certificate does not verify for localhost against itself: %v", err)
	}

	perms := []struct {
		path string
		want fs.FileMode
	}{
		{dir, 0o700 | fs.ModeDir},
		{filepath.Join(dir, "selfsigned.key"), 0o600},
	}
	for _, p := range perms {
		fi, err := os.Stat(p.path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != p.want {
			t.Errorf("%s mode = %v, want %v", p.path, fi.Mode(), p.want)
		}
	}

	hosts := func(h ...string) configs.TLSSource {
		return configs.TLSSource{Source: "self_signed", SelfSigned: configs.SelfSigned{Hosts: h}}
	}
	steps := []struct {
		name   string
		before func()
		cfg    configs.TLSSource
		same   bool // same certificate as the previous step
	}{
		{"reused", nil, hosts("localhost", "127.0.0.1", "::1"), true},
		{"reused, hosts reordered", nil, hosts("::1", "localhost", "127.0.0.1"), true},
		{"hosts changed", nil, hosts("localhost", "broker.local"), false},
		{"reused after change", nil, hosts("localhost", "broker.local"), true},
		{"unreadable", func() { writeFile(t, filepath.Join(dir, "selfsigned.crt"), []byte("garbage")) }, hosts("localhost", "broker.local"), false},
		{"expired", func() { writeExpired(t, dir, "localhost", "broker.local") }, hosts("localhost", "broker.local"), false},
		{"removed", func() { os.RemoveAll(dir) }, hosts("localhost", "broker.local"), false},
	}
	prev := first
	for _, st := range steps {
		if st.before != nil {
			st.before()
		}
		got := selfSignedLeaf(t, st.cfg, dataDir)
		if same := Fingerprint(got) == Fingerprint(prev); same != st.same {
			t.Errorf("%s: same certificate = %v, want %v", st.name, same, st.same)
		}
		if !sameHosts(got, st.cfg.SelfSigned.Hosts) {
			t.Errorf("%s: certificate for %v %v, want %v", st.name, got.DNSNames, got.IPAddresses, st.cfg.SelfSigned.Hosts)
		}
		if time.Now().After(got.NotAfter) {
			t.Errorf("%s: certificate expired at %s", st.name, got.NotAfter)
		}
		prev = got
	}
}

// Over a real handshake, a client trusting the generated file connects.
func TestSelfSignedHandshake(t *testing.T) {
	dataDir := t.TempDir()
	srv := serve(t, newSource(t, configs.TLSSource{Source: "self_signed"}, dataDir).TLSConfig())
	pem, err := os.ReadFile(filepath.Join(dataDir, "certs", "selfsigned.crt"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	for _, name := range []string{"localhost", "127.0.0.1"} {
		if _, err := srv.dial(t, &tls.Config{RootCAs: roots, ServerName: name}); err != nil {
			t.Errorf("dial as %s: %v", name, err)
		}
	}
}

func poolOf(c *x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(c)
	return p
}

// writeExpired replaces the self-signed pair with an expired certificate
// for hosts.
func writeExpired(t testing.TB, dir string, hosts ...string) {
	t.Helper()
	c, err := generateSelfSigned(hosts, time.Now().Add(-2*selfSignedValidity), dir,
		filepath.Join(dir, "selfsigned.crt"), filepath.Join(dir, "selfsigned.key"))
	if err != nil {
		t.Fatal(err)
	}
	if time.Now().Before(c.Leaf.NotAfter) {
		t.Fatalf("certificate valid until %s, want expired", c.Leaf.NotAfter)
	}
}
