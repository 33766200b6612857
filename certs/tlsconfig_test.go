package certs

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"edgemq/configs"
)

// mtlsServer serves a files source with client_auth.mode mode, trusting
// clientCA for client certificates; it returns the server, the server CA
// and the client config base (trusting the server).
func mtlsServer(t testing.TB, mode string, clientCA *testCA) (*testServer, *tls.Config) {
	t.Helper()
	serverCA := newCA(t, "server ca")
	dir := t.TempDir()
	caFile := filepath.Join(dir, "clients.pem")
	writeFile(t, caFile, clientCA.pem)
	cfg := configs.TLSSource{
		Source:     "files",
		Files:      []configs.CertFiles{writePair(t, dir, "server", serverCA.issue(t, leaf{serial: 1, dns: []string{"mqtt.example.com"}}))},
		ClientAuth: configs.ClientAuth{Mode: mode, CAFile: caFile},
	}
	return serve(t, newSource(t, cfg, t.TempDir()).TLSConfig()), &tls.Config{RootCAs: serverCA.pool(), ServerName: "mqtt.example.com"}
}

func TestClientAuth(t *testing.T) {
	clientCA := newCA(t, "client ca")
	good := clientCA.issue(t, leaf{serial: 10, cn: "sensor-1", client: true})
	stranger := newCA(t, "other ca").issue(t, leaf{serial: 11, cn: "intruder", client: true})

	tests := []struct {
		mode    string
		cert    *tls.Certificate
		version uint16
		ok      bool
		// identity is the verified CN the server sees.
		identity string
	}{
		{"required", nil, tls.VersionTLS13, false, ""},
		{"required", nil, tls.VersionTLS12, false, ""},
		{"required", &good.tls, tls.VersionTLS13, true, "sensor-1"},
		{"required", &good.tls, tls.VersionTLS12, true, "sensor-1"},
		{"required", &stranger.tls, tls.VersionTLS13, false, ""},
		{"optional", nil, tls.VersionTLS13, true, ""},
		{"optional", &good.tls, tls.VersionTLS13, true, "sensor-1"},
		{"optional", &stranger.tls, tls.VersionTLS13, false, ""},
		{"none", &good.tls, tls.VersionTLS13, true, ""},
	}
	for _, tt := range tests {
		name := tt.mode + "/"
		switch tt.cert {
		case nil:
			name += "no cert"
		case &good.tls:
			name += "ca cert"
		default:
			name += "other ca cert"
		}
		name += "/" + tls.VersionName(tt.version)
		t.Run(name, func(t *testing.T) {
			srv, cc := mtlsServer(t, tt.mode, clientCA)
			cc.MaxVersion = tt.version
			if tt.cert != nil {
				// Always send it: with Certificates, crypto/tls would
				// withhold a certificate the server's CA list does not name.
				cc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return tt.cert, nil }
			}
			_, err := srv.dial(t, cc)
			if (err == nil) != tt.ok {
				t.Fatalf("dial error = %v, want ok = %v", err, tt.ok)
			}
			if !tt.ok {
				return
			}
			state := <-srv.states
			if got := Identity(&state, IdentityCN); got != tt.identity {
				t.Errorf("Identity = %q, want %q", got, tt.identity)
			}
		})
	}
}

func TestIdentity(t *testing.T) {
	ca := newCA(t, "client ca")
	full := ca.issue(t, leaf{serial: 1, cn: "device-7", client: true,
		dns:    []string{"device-7.example.com", "alt.example.com"},
		emails: []string{"ops@example.com", "other@example.com"},
		uris:   []string{"spiffe://example.com/device/7", "urn:x:y"},
	})
	bare := ca.issue(t, leaf{serial: 2, client: true})
	verified := func(is issued) *tls.ConnectionState {
		return &tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{is.tls.Leaf, ca.cert}}}
	}
	unverified := &tls.ConnectionState{PeerCertificates: []*x509.Certificate{full.tls.Leaf}}

	tests := []struct {
		name  string
		state *tls.ConnectionState
		field string
		want  string
	}{
		{"cn", verified(full), "cn", "device-7"},
		{"empty field is cn", verified(full), "", "device-7"},
		{"san_dns", verified(full), "san_dns", "device-7.example.com"},
		{"san_email", verified(full), "san_email", "ops@example.com"},
		{"san_uri", verified(full), "san_uri", "spiffe://example.com/device/7"},
		{"unknown field", verified(full), "serial", ""},
		{"no cn", verified(bare), "cn", ""},
		{"no dns", verified(bare), "san_dns", ""},
		{"no email", verified(bare), "san_email", ""},
		{"no uri", verified(bare), "san_uri", ""},
		{"not verified", unverified, "cn", ""},
		{"no certificate", &tls.ConnectionState{}, "cn", ""},
		{"nil state", nil, "cn", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Identity(tt.state, tt.field); got != tt.want {
				t.Errorf("Identity(%q) = %q, want %q", tt.field, got, tt.want)
			}
		})
	}
}

// ALPN "mqtt" is chosen when offered but never a reason to refuse an MQTT
// client: one offering other ids (AWS IoT SDKs offer "x-amzn-mqtt-ca") or
// none is served without ALPN (serveWithoutALPN). Only "acme-tls/1",
// which a non-ACME source does not announce, is still refused.
func TestALPN(t *testing.T) {
	srv := serve(t, newSource(t, configs.TLSSource{}, t.TempDir()).TLSConfig())
	tests := []struct {
		name   string
		offer  []string
		want   string
		failed bool
	}{
		{"mqtt", []string{"mqtt"}, "mqtt", false},
		{"mqtt among others", []string{"x-other", "mqtt"}, "mqtt", false},
		{"mqtt after http/1.1", []string{"http/1.1", "mqtt"}, "mqtt", false},
		{"no alpn", nil, "", false},
		{"no mqtt is served without alpn", []string{"x-other"}, "", false},
		{"aws iot x-amzn-mqtt-ca", []string{"x-amzn-mqtt-ca"}, "", false},
		{"mqttv3.1 and http/1.1", []string{"mqttv3.1", "http/1.1"}, "", false},
		{"browser h2 and http/1.1", []string{"h2", "http/1.1"}, "", false},
		{"acme-tls/1 without acme", []string{"acme-tls/1"}, "", true},
		{"acme-tls/1 among others", []string{"x-other", "acme-tls/1"}, "", true},
	}
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		for _, tt := range tests {
			t.Run(tls.VersionName(version)+"/"+tt.name, func(t *testing.T) {
				conn, err := srv.dial(t, &tls.Config{InsecureSkipVerify: true, MaxVersion: version, NextProtos: tt.offer})
				if (err != nil) != tt.failed {
					t.Fatalf("dial error = %v, want failure = %v", err, tt.failed)
				}
				if err != nil {
					return
				}
				if got := conn.ConnectionState().NegotiatedProtocol; got != tt.want {
					t.Errorf("negotiated %q, want %q", got, tt.want)
				}
			})
		}
	}
}

// The config without ALPN is made once per config, not per handshake, and
// differs from the source's only in NextProtos.
func TestALPNFallbackConfig(t *testing.T) {
	tc := newSource(t, configs.TLSSource{MinVersion: "1.3"}, t.TempDir()).TLSConfig()
	if tc.GetConfigForClient == nil {
		t.Fatal("no GetConfigForClient")
	}
	for _, offer := range [][]string{nil, {"mqtt"}, {"x-other", "mqtt"}, {"acme-tls/1"}} {
		if got, err := tc.GetConfigForClient(&tls.ClientHelloInfo{SupportedProtos: offer}); got != nil || err != nil {
			t.Errorf("offer %q: GetConfigForClient = %p, %v, want the source's config (nil, nil)", offer, got, err)
		}
	}
	hello := &tls.ClientHelloInfo{SupportedProtos: []string{"x-amzn-mqtt-ca"}}
	fb, err := tc.GetConfigForClient(hello)
	if err != nil || fb == nil {
		t.Fatalf("GetConfigForClient = %v, %v, want the fallback", fb, err)
	}
	if again, _ := tc.GetConfigForClient(hello); again != fb {
		t.Error("fallback config made again for a second handshake")
	}
	if len(fb.NextProtos) != 0 || fb.GetConfigForClient != nil {
		t.Errorf("fallback NextProtos = %q, GetConfigForClient set = %v; want none", fb.NextProtos, fb.GetConfigForClient != nil)
	}
	if fb.MinVersion != tc.MinVersion || fb.ClientAuth != tc.ClientAuth || fb.SessionTicketsDisabled ||
		fb.WrapSession == nil || fb.UnwrapSession == nil || len(fb.Certificates) != len(tc.Certificates) {
		t.Error("fallback config differs from the source's beyond ALPN")
	}
	if !slices.Equal(tc.NextProtos, []string{"mqtt"}) {
		t.Errorf("source NextProtos = %q, want [mqtt]", tc.NextProtos)
	}
}

// Client certificates are checked the same way for clients served
// without ALPN, and the certificate chosen by SNI is the same.
func TestALPNFallbackClientAuth(t *testing.T) {
	clientCA := newCA(t, "client ca")
	good := clientCA.issue(t, leaf{serial: 10, cn: "sensor-1", client: true})
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		for _, offer := range [][]string{{"x-amzn-mqtt-ca"}, {"mqtt"}} {
			t.Run(tls.VersionName(version)+"/"+offer[0], func(t *testing.T) {
				srv, cc := mtlsServer(t, "required", clientCA)
				cc.MaxVersion = version
				cc.NextProtos = offer
				if _, err := srv.dial(t, cc); err == nil {
					t.Fatal("served without a client certificate")
				}
				cc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &good.tls, nil }
				conn, err := srv.dial(t, cc)
				if err != nil {
					t.Fatal(err)
				}
				if serial(conn) != 1 {
					t.Errorf("server certificate serial %d, want 1", serial(conn))
				}
				state := <-srv.states // the refused handshake sent none
				if got := Identity(&state, IdentityCN); got != "sensor-1" {
					t.Errorf("Identity = %q, want sensor-1", got)
				}
				want := offer[0]
				if want != "mqtt" {
					want = ""
				}
				if got := conn.ConnectionState().NegotiatedProtocol; got != want {
					t.Errorf("negotiated %q, want %q", got, want)
				}
			})
		}
	}
}

// Session tickets are shared by the source's config and its fallback: a
// client served without ALPN resumes, also when it later offers mqtt, and
// the other way round.
func TestALPNFallbackResumption(t *testing.T) {
	srv := serve(t, newSource(t, configs.TLSSource{}, t.TempDir()).TLSConfig())
	amzn, mqtt := []string{"x-amzn-mqtt-ca"}, []string{"mqtt"}
	tests := []struct {
		name   string
		offers [][]string // per handshake; the first is full, the rest resume
	}{
		{"without mqtt", [][]string{amzn, amzn, amzn}},
		{"without mqtt then mqtt", [][]string{amzn, mqtt}},
		{"mqtt then without mqtt", [][]string{mqtt, amzn}},
		{"no alpn then without mqtt", [][]string{nil, amzn}},
	}
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		for _, tt := range tests {
			t.Run(tls.VersionName(version)+"/"+tt.name, func(t *testing.T) {
				cache := tls.NewLRUClientSessionCache(4)
				for i, offer := range tt.offers {
					cc := &tls.Config{InsecureSkipVerify: true, MaxVersion: version, ClientSessionCache: cache, NextProtos: offer}
					conn, err := srv.dial(t, cc) // the echo reads the TLS 1.3 ticket
					if err != nil {
						t.Fatalf("handshake %d: %v", i, err)
					}
					st := conn.ConnectionState()
					if st.DidResume != (i > 0) {
						t.Errorf("handshake %d (offer %q): DidResume = %v, want %v", i, offer, st.DidResume, i > 0)
					}
					want := ""
					if slices.Contains(offer, "mqtt") {
						want = "mqtt"
					}
					if st.NegotiatedProtocol != want {
						t.Errorf("handshake %d: negotiated %q, want %q", i, st.NegotiatedProtocol, want)
					}
					conn.Close()
				}
			})
		}
	}
}

// WithNextProtos (wss listeners add http/1.1) announces the added
// protocols, keeps serving other clients without ALPN, and leaves the
// source's config alone.
func TestWithNextProtos(t *testing.T) {
	src := newSource(t, configs.TLSSource{}, t.TempDir()).TLSConfig()
	wss := WithNextProtos(src, "http/1.1", "mqtt")
	// The added protocols come first: the server prefers them.
	if !slices.Equal(wss.NextProtos, []string{"http/1.1", "mqtt"}) {
		t.Errorf("NextProtos = %q, want [http/1.1 mqtt]", wss.NextProtos)
	}
	if !slices.Equal(src.NextProtos, []string{"mqtt"}) {
		t.Errorf("source NextProtos changed to %q", src.NextProtos)
	}
	srcSrv, wssSrv := serve(t, src), serve(t, wss)
	tests := []struct {
		name  string
		srv   *testServer
		offer []string
		want  string
	}{
		{"browser", wssSrv, []string{"h2", "http/1.1"}, "http/1.1"},
		{"http/1.1", wssSrv, []string{"http/1.1"}, "http/1.1"},
		{"h2 only", wssSrv, []string{"h2"}, ""},
		{"mqtt", wssSrv, []string{"mqtt"}, "mqtt"},
		{"no alpn", wssSrv, nil, ""},
		{"source: browser", srcSrv, []string{"h2", "http/1.1"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := tt.srv.dial(t, &tls.Config{InsecureSkipVerify: true, NextProtos: tt.offer})
			if err != nil {
				t.Fatal(err)
			}
			if got := conn.ConnectionState().NegotiatedProtocol; got != tt.want {
				t.Errorf("negotiated %q, want %q", got, tt.want)
			}
		})
	}

	// Tickets of the source open on the copy (same ticket keys).
	cache := tls.NewLRUClientSessionCache(4)
	for i, srv := range []*testServer{srcSrv, wssSrv} {
		conn, err := srv.dial(t, &tls.Config{InsecureSkipVerify: true, ClientSessionCache: cache, ServerName: "localhost", NextProtos: []string{"x-amzn-mqtt-ca"}})
		if err != nil {
			t.Fatal(err)
		}
		if got := conn.ConnectionState().DidResume; got != (i > 0) {
			t.Errorf("handshake %d: DidResume = %v", i, got)
		}
		conn.Close()
	}
}

// An ACME source announces acme-tls/1 and mqtt: a TLS-ALPN-01 validator
// (offering only acme-tls/1) keeps the main config, so GetCertificate sees
// its offer and acme-tls/1 is negotiated; other clients are served
// without ALPN. (acme_test.go runs real TLS-ALPN-01 validations.)
func TestACMEALPNFallback(t *testing.T) {
	ca := newCA(t, "ca")
	cert := ca.issue(t, leaf{serial: 7, dns: []string{"a.test"}})
	seen := make(chan []string, 8)
	tc, err := acmeTLSConfig(configs.TLSSource{}, func(h *tls.ClientHelloInfo) (*tls.Certificate, error) {
		seen <- h.SupportedProtos
		return &cert.tls, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(tc.NextProtos, []string{"acme-tls/1", "mqtt"}) {
		t.Errorf("NextProtos = %q", tc.NextProtos)
	}
	srv := serve(t, tc)
	for _, tt := range []struct {
		offer []string
		want  string
	}{
		{[]string{"acme-tls/1"}, "acme-tls/1"},
		{[]string{"mqtt"}, "mqtt"},
		{[]string{"x-amzn-mqtt-ca"}, ""},
		{nil, ""},
	} {
		conn, err := srv.dial(t, &tls.Config{InsecureSkipVerify: true, NextProtos: tt.offer})
		if err != nil {
			t.Fatalf("offer %q: %v", tt.offer, err)
		}
		if got := conn.ConnectionState().NegotiatedProtocol; got != tt.want {
			t.Errorf("offer %q: negotiated %q, want %q", tt.offer, got, tt.want)
		}
		if got := <-seen; !slices.Equal(got, tt.offer) {
			t.Errorf("offer %q: GetCertificate saw %q", tt.offer, got)
		}
	}
}

func TestApplyDefaults(t *testing.T) {
	tests := []struct {
		name       string
		cfg        configs.TLSSource
		protos     []string
		wantProtos []string
		wantMin    uint16
		wantAuth   tls.ClientAuthType
	}{
		{"empty", configs.TLSSource{}, nil, []string{"mqtt"}, tls.VersionTLS12, tls.NoClientCert},
		{"acme keeps its protocol first", configs.TLSSource{MinVersion: "1.2"}, []string{"acme-tls/1"}, []string{"acme-tls/1", "mqtt"}, tls.VersionTLS12, tls.NoClientCert},
		{"no duplicate", configs.TLSSource{MinVersion: "1.3"}, []string{"mqtt"}, []string{"mqtt"}, tls.VersionTLS13, tls.NoClientCert},
		{"none", configs.TLSSource{ClientAuth: configs.ClientAuth{Mode: "none"}}, nil, []string{"mqtt"}, tls.VersionTLS12, tls.NoClientCert},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tc := &tls.Config{NextProtos: tt.protos}
			if err := applyDefaults(tt.cfg, tc); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(tc.NextProtos, tt.wantProtos) {
				t.Errorf("NextProtos = %v, want %v", tc.NextProtos, tt.wantProtos)
			}
			if tc.MinVersion != tt.wantMin {
				t.Errorf("MinVersion = %x, want %x", tc.MinVersion, tt.wantMin)
			}
			if tc.ClientAuth != tt.wantAuth {
				t.Errorf("ClientAuth = %v, want %v", tc.ClientAuth, tt.wantAuth)
			}
			if tc.SessionTicketsDisabled || tc.WrapSession == nil || tc.UnwrapSession == nil {
				t.Error("session tickets are not set up")
			}
		})
	}
}

func TestSessionResumption(t *testing.T) {
	srv := serve(t, newSource(t, configs.TLSSource{}, t.TempDir()).TLSConfig())
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		t.Run(tls.VersionName(version), func(t *testing.T) {
			cc := &tls.Config{
				InsecureSkipVerify: true,
				MaxVersion:         version,
				ClientSessionCache: tls.NewLRUClientSessionCache(4),
			}
			for i, want := range []bool{false, true, true} {
				conn, err := srv.dial(t, cc) // the echo reads the TLS 1.3 ticket
				if err != nil {
					t.Fatal(err)
				}
				if got := conn.ConnectionState().DidResume; got != want {
					t.Errorf("handshake %d: DidResume = %v, want %v", i, got, want)
				}
				conn.Close()
			}
		})
	}
}

// Ticket keys: a key seals for 12 h, then still opens for 24 h more.
func TestTicketKeyRotation(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	k, err := newTicketKeys(func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	state := []byte("session state")
	seal := func() []byte {
		t.Helper()
		ticket, err := k.seal(state)
		if err != nil {
			t.Fatal(err)
		}
		return ticket
	}
	t0 := seal()

	steps := []struct {
		advance time.Duration
		opens   bool // t0 still opens
		newKey  bool // a new ticket is sealed under a key other than t0's
	}{
		{0, true, false},
		{11 * time.Hour, true, false},
		{time.Hour, true, true},      // 12h: rotated, t0's key retired
		{23 * time.Hour, true, true}, // 35h: retired 23h ago
		{time.Hour, false, true},     // 36h: retired 24h ago, dropped
		{100 * time.Hour, false, true},
	}
	for _, st := range steps {
		now = now.Add(st.advance)
		at := now.Sub(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		got, ok := k.open(t0)
		if ok != st.opens {
			t.Errorf("at %s: t0 opens = %v, want %v", at, ok, st.opens)
		}
		if ok && !bytes.Equal(got, state) {
			t.Errorf("at %s: t0 opened to %q", at, got)
		}
		tn := seal()
		if newKey := !bytes.Equal(tn[:ticketNameLen], t0[:ticketNameLen]); newKey != st.newKey {
			t.Errorf("at %s: new key = %v, want %v", at, newKey, st.newKey)
		}
		if got, ok := k.open(tn); !ok || !bytes.Equal(got, state) {
			t.Errorf("at %s: fresh ticket does not open", at)
		}
		if len(k.keys) > 3 {
			t.Errorf("at %s: %d keys kept, want at most 3", at, len(k.keys))
		}
	}

	forged := bytes.Clone(seal())
	forged[len(forged)-1] ^= 1
	for name, ticket := range map[string][]byte{"forged": forged, "short": {1, 2, 3}, "empty": nil} {
		if _, ok := k.open(ticket); ok {
			t.Errorf("%s ticket opens", name)
		}
	}
}
