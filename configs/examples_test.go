package configs

import (
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Every example configuration loads and validates.
func TestExamplesLoad(t *testing.T) {
	files, err := filepath.Glob("examples/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no example configurations: %v", err)
	}
	for _, f := range files {
		if _, err := Load(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// The Docker image's configuration: every listener on 0.0.0.0 behind the
// password file, never anonymous; the ops listener on 0.0.0.0:9090 (the
// health check's); data in the /data volume; and the Dockerfile exposes
// exactly the ports it binds.
func TestDockerExample(t *testing.T) {
	cfg, err := Load("examples/docker.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DataDir != "/data" {
		t.Errorf("data_dir %q, want /data", cfg.DataDir)
	}
	if cfg.Ops.Address != "0.0.0.0:9090" {
		t.Errorf("ops.address %q, want 0.0.0.0:9090", cfg.Ops.Address)
	}
	ports := map[string]bool{"9090": true}
	for _, l := range cfg.Listeners {
		host, port, err := net.SplitHostPort(l.Address)
		if err != nil || host != "0.0.0.0" {
			t.Errorf("listener %s binds %q, want 0.0.0.0:port", l.Name, l.Address)
		}
		ports[port] = true
		if l.Anonymous() {
			t.Errorf("listener %s allows anonymous clients", l.Name)
		}
		if chain := l.AuthChain(); len(chain) != 1 || chain[0] != "passwd" {
			t.Errorf("listener %s: auth %v, want [passwd]", l.Name, chain)
		}
	}
	if b := cfg.Auth.Backends["passwd"]; b.Type != BackendPasswordFile || b.PasswordFile.Path != "/etc/edgemq/passwd" {
		t.Errorf("auth.backends.passwd = %+v", b)
	}

	df, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	exposed := map[string]bool{}
	for _, line := range strings.Split(string(df), "\n") {
		if rest, ok := strings.CutPrefix(line, "EXPOSE "); ok {
			for _, p := range strings.Fields(rest) {
				exposed[p] = true
			}
		}
	}
	if !maps.Equal(exposed, ports) {
		t.Errorf("Dockerfile EXPOSE %v, the configuration binds %v", slices.Sorted(maps.Keys(exposed)), slices.Sorted(maps.Keys(ports)))
	}
	for _, want := range []string{"examples/docker.yaml /etc/edgemq/edgemq.yaml", `HEALTHCHECK`, `"/edgemq", "health"`} {
		if !strings.Contains(string(df), want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
}
