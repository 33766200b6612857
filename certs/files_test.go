package certs

import (
	"context"
	"crypto/tls"
	"os"
	"strings"
	"testing"
	"time"

	"edgemq/configs"
)

func TestSNISelection(t *testing.T) {
	ca := newCA(t, "server ca")
	dir := t.TempDir()
	cfg := configs.TLSSource{Source: "files", Files: []configs.CertFiles{
		writePair(t, dir, "a", ca.issue(t, leaf{serial: 1, dns: []string{"a.example.com"}})),
		writePair(t, dir, "b", ca.issue(t, leaf{serial: 2, dns: []string{"*.b.example.com", "b.example.com"}})),
		writePair(t, dir, "c", ca.issue(t, leaf{serial: 3, dns: []string{"*.c.example.com"}})),
		writePair(t, dir, "exact", ca.issue(t, leaf{serial: 4, dns: []string{"x.c.example.com"}})),
	}}
	tc := newSource(t, cfg, t.TempDir()).TLSConfig()

	tests := []struct {
		serverName string
		want       int64
	}{
		{"", 1},
		{"a.example.com", 1},
		{"A.Example.COM", 1},
		{"b.example.com", 2},
		{"x.b.example.com", 2},
		{"y.x.b.example.com", 1}, // a wildcard matches one label only
		{"unknown.example.net", 1},
		{"z.c.example.com", 3},
		{"x.c.example.com", 4}, // an exact name wins over an earlier wildcard
		{"a.example.com.", 1},
	}
	for _, tt := range tests {
		t.Run(tt.serverName, func(t *testing.T) {
			c, err := tc.GetCertificate(&tls.ClientHelloInfo{ServerName: tt.serverName})
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Leaf.SerialNumber.Int64(); got != tt.want {
				t.Errorf("serial = %d, want %d", got, tt.want)
			}
		})
	}

	// The same over a real handshake.
	srv := serve(t, tc)
	conn, err := srv.dial(t, &tls.Config{RootCAs: ca.pool(), ServerName: "x.b.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if got := serial(conn); got != 2 {
		t.Errorf("handshake serial = %d, want 2", got)
	}
}

// Hot reload over a real listener: connections made before a swap keep
// the old certificate, later handshakes get the new one, and a broken
// change keeps the previous certificate until a good one follows.
func TestHotReload(t *testing.T) {
	ca := newCA(t, "server ca")
	dir := t.TempDir()
	name := []string{"mqtt.example.com"}
	v1 := ca.issue(t, leaf{serial: 1, dns: name})
	f := writePair(t, dir, "server", v1)
	src, err := newFiles(context.Background(), configs.TLSSource{Source: "files", Files: []configs.CertFiles{f}}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	srv := serve(t, src.TLSConfig())
	client := &tls.Config{RootCAs: ca.pool(), ServerName: name[0]}

	first, err := srv.dial(t, client)
	if err != nil {
		t.Fatal(err)
	}
	if got := serial(first); got != 1 {
		t.Fatalf("first serial = %d, want 1", got)
	}

	v2 := ca.issue(t, leaf{serial: 2, dns: name})
	v3 := ca.issue(t, leaf{serial: 3, dns: name})
	v4 := ca.issue(t, leaf{serial: 4, dns: name})
	steps := []struct {
		name     string
		write    func()
		replaced int
		want     int64
	}{
		{"unchanged", func() {}, 0, 1},
		{"new pair", func() { writePair(t, dir, "server", v2) }, 1, 2},
		{"bad pem", func() { writeFile(t, f.Cert, []byte("-----BEGIN CERTIFICATE-----\nnot base64\n")) }, 0, 2},
		{"half written", func() { writeFile(t, f.Cert, v3.certPEM[:len(v3.certPEM)/2]) }, 0, 2},
		{"key mismatch", func() { writeFile(t, f.Cert, v3.certPEM) }, 0, 2},
		{"key follows", func() { writeFile(t, f.Key, v3.keyPEM) }, 1, 3},
		{"key removed", func() { os.Remove(f.Key) }, 0, 3},
		{"both back", func() { writePair(t, dir, "server", v4) }, 1, 4},
	}
	// Each step looks an hour after the last: every write has settled
	// (filewatch: a modification time at least an interval old).
	now := time.Now()
	for _, st := range steps {
		st.write()
		now = now.Add(time.Hour)
		if got := src.reload(now); got != st.replaced {
			t.Errorf("%s: reload replaced %d pairs, want %d", st.name, got, st.replaced)
		}
		conn, err := srv.dial(t, client)
		if err != nil {
			t.Fatalf("%s: new connection: %v", st.name, err)
		}
		if got := serial(conn); got != st.want {
			t.Errorf("%s: new connection serial = %d, want %d", st.name, got, st.want)
		}
		// The connection made first is untouched.
		if err := echo(first); err != nil {
			t.Fatalf("%s: first connection: %v", st.name, err)
		}
		if got := serial(first); got != 1 {
			t.Errorf("%s: first connection serial = %d, want 1", st.name, got)
		}
	}
}

// The reload loop picks up changes by itself and stops on Close.
func TestReloadLoop(t *testing.T) {
	ca := newCA(t, "server ca")
	dir := t.TempDir()
	f := writePair(t, dir, "server", ca.issue(t, leaf{serial: 1, dns: []string{"a.example.com"}}))
	src, err := newFiles(context.Background(), configs.TLSSource{
		Source: "files", Files: []configs.CertFiles{f}, ReloadInterval: time.Millisecond,
	}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	writePair(t, dir, "server", ca.issue(t, leaf{serial: 2, dns: []string{"a.example.com"}}))
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := src.TLSConfig().GetCertificate(&tls.ClientHelloInfo{})
		if err != nil {
			t.Fatal(err)
		}
		if c.Leaf.SerialNumber.Int64() == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the reload loop did not pick up the new pair")
		}
		time.Sleep(time.Millisecond)
	}
	for range 2 { // idempotent
		if err := src.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
	select {
	case <-src.done:
	default:
		t.Error("reload loop still running after Close")
	}
}

func TestFilesStartErrors(t *testing.T) {
	ca := newCA(t, "server ca")
	dir := t.TempDir()
	good := writePair(t, dir, "good", ca.issue(t, leaf{serial: 1, dns: []string{"a.example.com"}}))
	other := writePair(t, dir, "other", ca.issue(t, leaf{serial: 2, dns: []string{"a.example.com"}}))
	tests := []struct {
		name string
		cfg  configs.TLSSource
		want string
	}{
		{"no files", configs.TLSSource{Source: "files"}, "no files configured"},
		{"missing", configs.TLSSource{Source: "files", Files: []configs.CertFiles{{Cert: dir + "/none.crt", Key: good.Key}}}, "none.crt"},
		{"mismatch", configs.TLSSource{Source: "files", Files: []configs.CertFiles{{Cert: good.Cert, Key: other.Key}}}, "private key does not match"},
		{"unknown source", configs.TLSSource{Source: "pkcs12"}, `tls source "pkcs12"`},
		{"ca missing", configs.TLSSource{Source: "files", Files: []configs.CertFiles{good},
			ClientAuth: configs.ClientAuth{Mode: "required", CAFile: dir + "/none.pem"}}, "reading client ca file"},
		{"ca not pem", configs.TLSSource{Source: "files", Files: []configs.CertFiles{good},
			ClientAuth: configs.ClientAuth{Mode: "optional", CAFile: good.Key}}, "no PEM certificate"},
		{"min version", configs.TLSSource{Source: "files", Files: []configs.CertFiles{good}, MinVersion: "1.0"}, "min_version"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(context.Background(), "test", tt.cfg, t.TempDir(), testLogger(t))
			if err == nil {
				s.Close()
				t.Fatal("New succeeded, want an error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

// A pair being written is not loaded until its files are at rest: a
// change seen for the first time with fresh modification times waits for
// the next look; a file caught empty is never loaded.
func TestReloadWaitsForSettledFiles(t *testing.T) {
	ca := newCA(t, "server ca")
	dir := t.TempDir()
	name := []string{"a.example.com"}
	f := writePair(t, dir, "server", ca.issue(t, leaf{serial: 1, dns: name}))
	src, err := newFiles(context.Background(), configs.TLSSource{
		Source: "files", Files: []configs.CertFiles{f}, ReloadInterval: time.Hour,
	}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	serialNow := func() int64 {
		c, err := src.TLSConfig().GetCertificate(&tls.ClientHelloInfo{ServerName: name[0]})
		if err != nil {
			t.Fatal(err)
		}
		return c.Leaf.SerialNumber.Int64()
	}
	v2 := ca.issue(t, leaf{serial: 2, dns: name})
	now := time.Now()
	looks := []struct {
		name     string
		write    func()
		replaced int
		want     int64
	}{
		{"cert emptied", func() { writeFile(t, f.Cert, nil) }, 0, 1},
		{"still empty", func() {}, 0, 1},
		{"new pair, fresh", func() { writePair(t, dir, "server", v2) }, 0, 1},
		{"new pair, at rest", func() {}, 1, 2},
	}
	for _, l := range looks {
		l.write()
		now = now.Add(time.Minute) // less than the interval: only looking twice settles
		if got := src.reload(now); got != l.replaced {
			t.Errorf("%s: reload replaced %d pairs, want %d", l.name, got, l.replaced)
		}
		if got := serialNow(); got != l.want {
			t.Errorf("%s: serial %d, want %d", l.name, got, l.want)
		}
	}
}
