package configs

import (
	"reflect"
	"testing"
	"time"
)

func TestTLSDefaultEntry(t *testing.T) {
	cfg, err := Default()
	if err != nil {
		t.Fatalf("Default: %v", err)
	}
	want := map[string]TLSSource{"dev": {
		Source:           "self_signed",
		Files:            []CertFiles{},
		ReloadInterval:   5 * time.Second,
		SelfSigned:       SelfSigned{Hosts: []string{"localhost", "127.0.0.1", "::1"}},
		ClientAuth:       ClientAuth{Mode: "none", Identity: "cn", IdentityAs: "none"},
		MinVersion:       "1.2",
		CipherSuites:     []string{},
		HandshakeTimeout: 10 * time.Second,
	}}
	if !reflect.DeepEqual(cfg.TLS, want) {
		t.Errorf("tls =\n%#v\nwant\n%#v", cfg.TLS, want)
	}
}

func TestTLSValid(t *testing.T) {
	tests := []struct{ name, src string }{
		{"files two pairs mtls", `
tls:
  prod:
    source: files
    files:
      - {cert: a.crt, key: a.key}
      - {cert: b.crt, key: b.key}
    min_version: "1.3"
    client_auth: {mode: required, ca_file: ca.crt, identity: san_uri, identity_as: username}
`},
		{"omitted keys take defaults", "tls:\n  bare: {}\n"},
		{"optional", "tls:\n  o: {client_auth: {mode: optional, ca_file: ca.crt, identity_as: client_id}}\n"},
		{"certmagic domains", "tls:\n  acme: {source: certmagic, acme: {domains: [mqtt.example.com]}}\n"},
		{"certmagic on demand", `
tls:
  acme:
    source: certmagic
    acme:
      directory: https://localhost:14000/dir
      on_demand: {enabled: true, ask: "http://127.0.0.1:8080/ok"}
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parse(t, tt.src)
		})
	}
}

func TestTLSBadValuesRefused(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string
	}{
		{"source", "tls:\n  a: {source: pkcs12}\n",
			[]string{`test.yaml:2: tls.a.source: "pkcs12" is not a source: want files, self_signed, certmagic or autocert`}},
		{"files empty", "tls:\n  a: {source: files}\n",
			[]string{"tls.a.files: at least one cert/key pair is required for source files"}},
		{"files paths", "tls:\n  a:\n    source: files\n    files:\n      - {cert: a.crt}\n      - {key: b.key}\n",
			[]string{"test.yaml:5: tls.a.files[0].key: is required", "test.yaml:6: tls.a.files[1].cert: is required"}},
		{"min version", "tls:\n  a: {min_version: \"1.1\"}\n",
			[]string{`tls.a.min_version: "1.1" is not a TLS version`}},
		{"durations", "tls:\n  a: {reload_interval: -1s, handshake_timeout: -2s}\n",
			[]string{"tls.a.reload_interval: -1s must not be negative", "tls.a.handshake_timeout: -2s must not be negative"}},
		{"client auth mode", "tls:\n  a: {client_auth: {mode: maybe}}\n",
			[]string{`tls.a.client_auth.mode: "maybe" is not a mode`}},
		{"ca file", "tls:\n  a: {client_auth: {mode: required}}\n",
			[]string{"tls.a.client_auth.ca_file: is required when client_auth.mode is required"}},
		{"identity", "tls:\n  a: {client_auth: {identity: serial, identity_as: password}}\n",
			[]string{`tls.a.client_auth.identity: "serial" is not a certificate field`,
				`tls.a.client_auth.identity_as: "password" is not a use`}},
		{"self signed host", "tls:\n  a: {self_signed: {hosts: [localhost, \"\"]}}\n",
			[]string{"tls.a.self_signed.hosts[1]: must not be empty"}},
		{"acme no domains", "tls:\n  a: {source: certmagic}\n",
			[]string{"tls.a.acme.domains: is required unless on_demand.enabled is true"}},
		{"acme directory", "tls:\n  a: {source: autocert, acme: {directory: 'not a url', domains: [x.example.com]}}\n",
			[]string{`tls.a.acme.directory: "not a url" is not an https URL`}},
		{"on demand open", "tls:\n  a: {source: certmagic, acme: {on_demand: {enabled: true}}}\n",
			[]string{"tls.a.acme.on_demand: allow or ask is required"}},
		{"empty name", "tls:\n  \"\": {}\n",
			[]string{"tls: a tls source name must not be empty"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantContains(t, parseErr(t, tt.src), tt.want...)
		})
	}
}

// testdata/full.yaml sets every tls key.
func TestTLSFullFile(t *testing.T) {
	cfg, err := Load("testdata/full.yaml")
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	tests := []struct {
		name string
		want TLSSource
	}{
		{"prod", TLSSource{
			Source: "files",
			Files: []CertFiles{
				{Cert: "/etc/edgemq/a.crt", Key: "/etc/edgemq/a.key"},
				{Cert: "/etc/edgemq/b.crt", Key: "/etc/edgemq/b.key"},
			},
			ReloadInterval:   30 * time.Second,
			SelfSigned:       SelfSigned{Hosts: []string{"broker.local"}},
			MinVersion:       "1.3",
			HandshakeTimeout: 5 * time.Second,
			ClientAuth:       ClientAuth{Mode: "required", CAFile: "/etc/edgemq/clients.pem", Identity: "san_uri", IdentityAs: "username"},
		}},
		{"public", TLSSource{
			Source: "certmagic",
			ACME: ACME{
				Directory:   "https://acme-staging-v02.api.letsencrypt.org/directory",
				Email:       "admin@example.com",
				Domains:     []string{"mqtt.example.com"},
				RootCA:      "/etc/edgemq/acme-root.pem",
				HTTPAddress: ":80",
				OnDemand:    OnDemand{Enabled: true, Allow: []string{"device1.example.com"}, Ask: "http://127.0.0.1:8080/allowed"},
				Storage:     "/var/lib/edgemq/acme",
			},
		}},
	}
	for _, tt := range tests {
		if got := cfg.TLS[tt.name]; !reflect.DeepEqual(got, tt.want) {
			t.Errorf("tls.%s =\n%#v\nwant\n%#v", tt.name, got, tt.want)
		}
	}
}
