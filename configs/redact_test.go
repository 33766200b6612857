package configs

import (
	"cmp"
	"path/filepath"
	"strings"
	"testing"
)

// TestRedactedYAMLRoundTrip: the effective configuration printed for an
// operator loads back to a configuration that prints the same, for the
// default and each example file (their non-default values included).
func TestRedactedYAMLRoundTrip(t *testing.T) {
	files, err := filepath.Glob("examples/*.yaml")
	files = append(files, "testdata/full.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	for _, name := range append([]string{""}, files...) {
		t.Run(cmp.Or(name, "default"), func(t *testing.T) {
			cfg, err := Default()
			if name != "" {
				cfg, err = Load(name)
			}
			if err != nil {
				t.Fatal(err)
			}
			// No secret in it: a redacted hash or token would not load
			// as the original.
			cfg.Auth.Users, cfg.Admin.Token = nil, ""
			if cfg.Admin.Address != "" && cfg.Admin.TokenFile == "" {
				cfg.Admin.TokenFile = "/run/secrets/admin"
			}
			out, err := cfg.RedactedYAML()
			if err != nil {
				t.Fatal(err)
			}
			again, err := Parse("printed", out)
			if err != nil {
				t.Fatalf("the printed configuration does not load: %v\n%s", err, out)
			}
			out2, err := again.RedactedYAML()
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != string(out2) {
				t.Errorf("printed, loaded and printed again differs:\n%s\n----\n%s", out, out2)
			}
			if l := cfg.Listeners; len(l) > 0 && !strings.Contains(string(out), l[0].Address) {
				t.Errorf("output lacks the first listener's address %s", l[0].Address)
			}
		})
	}
}

// TestRedactedYAMLHidesSecrets: the admin token, password hashes and a
// URL's password are replaced; everything else stays.
func TestRedactedYAMLHidesSecrets(t *testing.T) {
	cfg, err := Parse("secrets.yaml", []byte(`
admin:
  address: 127.0.0.1:9091
  token: s3cret-admin-token
auth:
  users:
    - username: alice
      password_hash: "$2a$10$abcdefghijklmnopqrstuuUQOUJRgK2yAjmQ8Y5hlR/tmhLO91iUG"
  backends:
    hook:
      type: http
      http:
        url: https://hookuser:hookpass@auth.example/check
`))
	if err != nil {
		t.Fatal(err)
	}
	out, err := cfg.RedactedYAML()
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"s3cret-admin-token", "abcdefghijklmnopqrstuu", "hookpass"} {
		if strings.Contains(string(out), secret) {
			t.Errorf("output shows %q:\n%s", secret, out)
		}
	}
	for _, kept := range []string{"token: " + Redacted, "password_hash: " + Redacted, "username: alice", "hookuser:REDACTED@auth.example/check", "address: 127.0.0.1:9091"} {
		if !strings.Contains(string(out), kept) {
			t.Errorf("output lacks %q:\n%s", kept, out)
		}
	}
}
