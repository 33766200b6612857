package ops

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"edgemq/configs"
	"edgemq/gateway/stats"
	"edgemq/mqtt"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// selfSigned makes a certificate for name valid until notAfter.
func selfSigned(tb testing.TB, name string, notAfter time.Time) tls.Certificate {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// staticSource serves a fixed TLS configuration, as a certs.Source does.
type staticSource struct{ cfg *tls.Config }

func (s staticSource) TLSConfig() *tls.Config { return s.cfg }

func TestNotReady(t *testing.T) {
	withCert := staticSource{&tls.Config{Certificates: []tls.Certificate{selfSigned(t, "a.example", time.Now().Add(time.Hour))}}}
	none := staticSource{&tls.Config{}}
	tests := []struct {
		name string
		h    Health
		want []string
	}{
		{"ready", Health{Listeners: []Listener{{"tcp", true}}, TLS: []TLSSource{{Name: "dev", Source: withCert}}}, nil},
		{"listener down", Health{Listeners: []Listener{{"tcp", true}, {"ws", false}}}, []string{"listener ws"}},
		{"no certificate", Health{TLS: []TLSSource{{Name: "files", Source: none}}}, []string{"tls files"}},
		{"acme not asked", Health{TLS: []TLSSource{{Name: "le", Config: configs.TLSSource{Source: "certmagic"}, Source: none}}}, nil},
		{"everything, sorted", Health{
			Listeners: []Listener{{"tcp", false}}, TLS: []TLSSource{{Name: "x", Source: none}},
			StoreClosed: true, Draining: true,
		}, []string{"listener tcp", "shutting down", "store", "tls x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := NotReady(tt.h); !slices.Equal(got, tt.want) {
				t.Errorf("NotReady = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCertExpiries(t *testing.T) {
	dir := t.TempDir()
	fileExp := time.Now().Add(48 * time.Hour).Truncate(time.Second)
	c := selfSigned(t, "file.example", fileExp)
	path := filepath.Join(dir, "cert.pem")
	// A key block first: the certificate is the first CERTIFICATE block.
	pemBytes := append(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1}}), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate[0]})...)
	if err := os.WriteFile(path, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	selfExp := time.Now().Add(24 * time.Hour).Truncate(time.Second)
	self := staticSource{&tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		c := selfSigned(t, "self.example", selfExp)
		return &c, nil
	}}}
	got := certExpiries([]TLSSource{
		{Name: "files", Config: configs.TLSSource{Source: "files", Files: []configs.CertFiles{{Cert: path}, {Cert: filepath.Join(dir, "missing.pem")}}}},
		{Name: "dev", Source: self},
		{Name: "le", Config: configs.TLSSource{Source: "autocert"}, Source: self},
	})
	want := []certExpiry{{"files", "file.example", fileExp}, {"dev", "self.example", selfExp}}
	if len(got) != len(want) {
		t.Fatalf("expiries %v, want %v", got, want)
	}
	for i := range want {
		if got[i].source != want[i].source || got[i].name != want[i].name || !got[i].notAfter.Equal(want[i].notAfter) {
			t.Errorf("expiry %d = %v, want %v", i, got[i], want[i])
		}
	}
}

// snapshotSource reports a fixed snapshot and health.
type snapshotSource struct {
	snap Snapshot
	h    Health
}

func (s snapshotSource) Snapshot() Snapshot { return s.snap }
func (s snapshotSource) Health() Health     { return s.h }

// gathered returns the value of the series of family name with exactly
// the label values labels (in the family's label order); ok false when
// there is none.
func gathered(tb testing.TB, reg *prometheus.Registry, name string, labels ...string) (float64, bool) {
	tb.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.Metric {
			if len(m.Label) != len(labels) {
				continue
			}
			for i, lp := range m.Label {
				if lp.GetValue() != labels[i] {
					continue next
				}
			}
			return value(m), true
		}
	}
	return 0, false
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	}
	return -1
}

// TestCollector checks that each counter and gauge lands in its metric
// with its labels (Prometheus sorts label names: listener,
// protocol_version, transport).
func TestCollector(t *testing.T) {
	var st stats.Counters
	st.MsgsIn.Add(3)
	st.Drop(stats.DropOffline)
	st.Pkt.CountIn(mqtt.PUBLISH)
	src := snapshotSource{snap: Snapshot{
		Connections: map[ConnLabels]int{
			{"tcp", "tcp", mqtt.V5}: 2, {"ws", "ws", mqtt.V311}: 1, {"tcp", "tcp", mqtt.V31}: 4,
		},
		AuthFailures:        []ReasonCount{{"bad_credentials", 5}, {"other", 0}},
		AuthBackendFailures: []BackendCount{{"passwd", "bad_credentials", 5}},
		AuthDelayed:         6, LogSampled: 7,
		Sessions: 8, Subscriptions: 9, Inflight: 10, Queued: 11, Retained: 12, RetainedBytes: 13,
	}}
	m := NewMetrics(&st, src)
	tests := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"edgemq_connections", []string{"tcp", "5", "tcp"}, 2},
		{"edgemq_connections", []string{"ws", "3.1.1", "ws"}, 1},
		{"edgemq_connections", []string{"tcp", "3.1", "tcp"}, 4},
		{"edgemq_auth_failures_total", []string{"bad_credentials"}, 5},
		{"edgemq_auth_failures_total", []string{"other"}, 0},
		{"edgemq_auth_backend_failures_total", []string{"passwd", "bad_credentials"}, 5},
		{"edgemq_auth_delayed_total", nil, 6},
		{"edgemq_log_sampled_total", nil, 7},
		{"edgemq_sessions", nil, 8},
		{"edgemq_subscriptions", nil, 9},
		{"edgemq_inflight_messages", nil, 10},
		{"edgemq_queued_messages", nil, 11},
		{"edgemq_retained_messages", nil, 12},
		{"edgemq_retained_bytes", nil, 13},
		{"edgemq_messages_received_total", nil, 3},
		{"edgemq_messages_dropped_total", []string{"offline"}, 1},
		{"edgemq_packets_received_total", []string{"PUBLISH"}, 1},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.name, tt.labels), func(t *testing.T) {
			got, ok := gathered(t, m.reg, tt.name, tt.labels...)
			if !ok || got != tt.want {
				t.Errorf("%s%v = %v (found %v), want %v", tt.name, tt.labels, got, ok, tt.want)
			}
		})
	}
}

// TestHandshakeTiming runs real TLS handshakes over loopback through a
// configuration TimeHandshakes wraps, and through HandshakeObserver, and
// checks each is observed once in edgemq_tls_handshake_duration_seconds.
func TestHandshakeTiming(t *testing.T) {
	m := NewMetrics(&stats.Counters{}, snapshotSource{})
	cert := selfSigned(t, "localhost", time.Now().Add(time.Hour))
	verified := 0
	base := &tls.Config{Certificates: []tls.Certificate{cert}, VerifyConnection: func(tls.ConnectionState) error { verified++; return nil }}
	handshake := func(tb testing.TB, srvCfg *tls.Config) {
		tb.Helper()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		defer ln.Close()
		errc := make(chan error, 1)
		go func() {
			c, err := ln.Accept()
			if err != nil {
				errc <- err
				return
			}
			defer c.Close()
			errc <- tls.Server(c, srvCfg).Handshake()
		}()
		c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			tb.Fatal(err)
		}
		c.Close()
		if err := <-errc; err != nil {
			tb.Fatal(err)
		}
	}
	handshake(t, m.TimeHandshakes("wss", base))
	if got, _ := gathered(t, m.reg, "edgemq_tls_handshake_duration_seconds", "wss"); got != 1 {
		t.Errorf("wss handshakes observed %v, want 1", got)
	}
	if verified != 1 {
		t.Errorf("base VerifyConnection ran %d times, want 1", verified)
	}
	m.HandshakeObserver("tls")(3 * time.Millisecond)
	if got, _ := gathered(t, m.reg, "edgemq_tls_handshake_duration_seconds", "tls"); got != 1 {
		t.Errorf("tls handshakes observed %v, want 1", got)
	}
	if m.TimeHandshakes("x", nil) != nil {
		t.Error("TimeHandshakes(nil) is not nil")
	}
}
