package configs

import (
	"strings"
	"testing"
)

func TestValidateACME(t *testing.T) {
	tests := []struct {
		name   string
		source string
		acme   ACME
		// want are the problems as "path: reason" prefixes; none for valid.
		want []string
	}{
		{"defaults with domains", "certmagic", ACME{Domains: []string{"mqtt.example.com"}}, nil},
		{"full certmagic", "certmagic", ACME{
			Directory:   "https://localhost:14000/dir",
			Email:       "ops@example.com",
			Domains:     []string{"mqtt.example.com", "edge.example.com"},
			RootCA:      "pebble.pem",
			HTTPAddress: ":80",
			OnDemand:    OnDemand{Enabled: true, Allow: []string{"a.example.com"}, Ask: "http://127.0.0.1:8080/ok"},
		}, nil},
		{"on demand only", "certmagic", ACME{OnDemand: OnDemand{Enabled: true, Ask: "https://auth.internal/ask"}}, nil},
		{"autocert", "autocert", ACME{Domains: []string{"mqtt.example.com"}, HTTPAddress: "0.0.0.0:8080"}, nil},
		{"http directory", "certmagic", ACME{Directory: "http://localhost:14000/dir", Domains: []string{"a.example.com"}},
			[]string{`acme.directory: "http://localhost:14000/dir" is not an https URL`}},
		{"relative directory", "autocert", ACME{Directory: "/dir", Domains: []string{"a.example.com"}},
			[]string{`acme.directory: "/dir" is not an https URL`}},
		{"email", "certmagic", ACME{Email: "Ops <ops@example.com>", Domains: []string{"a.example.com"}},
			[]string{`acme.email: "Ops <ops@example.com>" is not an email address`}},
		{"no domains", "certmagic", ACME{},
			[]string{"acme.domains: is required unless on_demand.enabled is true"}},
		{"autocert no domains", "autocert", ACME{},
			[]string{"acme.domains: is required for source autocert"}},
		{"bad domains", "certmagic", ACME{Domains: []string{"", "*.example.com", "https://a.example.com", "a.example.com:8883"}},
			[]string{
				"acme.domains[0]: must not be empty",
				`acme.domains[1]: "*.example.com" is a wildcard`,
				`acme.domains[2]: "https://a.example.com" is not a DNS name`,
				`acme.domains[3]: "a.example.com:8883" is not a DNS name`,
			}},
		{"on demand open", "certmagic", ACME{OnDemand: OnDemand{Enabled: true}},
			[]string{"acme.on_demand: allow or ask is required"}},
		{"on demand autocert", "autocert", ACME{Domains: []string{"a.example.com"}, OnDemand: OnDemand{Enabled: true, Allow: []string{"b.example.com"}}},
			[]string{"acme.on_demand.enabled: on-demand issuance needs source certmagic"}},
		{"on demand bad values", "certmagic", ACME{OnDemand: OnDemand{Enabled: true, Allow: []string{"*.example.com"}, Ask: "ftp://x/ask"}},
			[]string{
				`acme.on_demand.allow[0]: "*.example.com" is a wildcard`,
				`acme.on_demand.ask: "ftp://x/ask" is not an http or https URL`,
			}},
		{"http address without port", "certmagic", ACME{Domains: []string{"a.example.com"}, HTTPAddress: "0.0.0.0"},
			[]string{`acme.http_address: "0.0.0.0" is not host:port`}},
		{"http address port out of range", "autocert", ACME{Domains: []string{"a.example.com"}, HTTPAddress: ":80800"},
			[]string{`acme.http_address: ":80800" is not host:port`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ps problems
			validateACME(&ps, "acme", tt.source, tt.acme)
			var got []string
			for i, p := range ps {
				got = append(got, p.String())
				if i < len(tt.want) && !strings.HasPrefix(p.String(), tt.want[i]) {
					t.Errorf("problem %d = %q, want it to start with %q", i, p, tt.want[i])
				}
			}
			if len(got) != len(tt.want) {
				t.Errorf("problems =\n%q\nwant %d:\n%q", got, len(tt.want), tt.want)
			}
		})
	}
}
