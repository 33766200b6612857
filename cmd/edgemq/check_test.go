package main

import (
	"strings"
	"testing"

	"edgemq/configs"
)

// TestCheck: edgemq check lists every problem of a file in one run, one
// a line with its file and line, and says whether the file is valid by
// its exit status.
func TestCheck(t *testing.T) {
	good := writeFile(t, "good.yaml", "log:\n  level: debug\n")
	bad := writeFile(t, "bad.yaml", "lgo: {}\nlog:\n  level: loud\nmqtt:\n  receive_maximum: many\nsession:\n  max_outbound_queue: 0\n")
	tests := []struct {
		name       string
		args       []string
		status     int
		stdout     []string
		stderr     []string
		stdoutRows int // lines on stdout; -1: not checked
	}{
		{"valid", []string{"check", "-c", good}, 0, []string{good + ": ok"}, nil, 1},
		{"built in", []string{"check"}, 0, []string{configs.DefaultName + ": ok"}, nil, 1},
		{"every problem", []string{"check", "--config", bad}, 1, []string{
			bad + ":1: lgo: unknown key; did you mean log?",
			bad + `:3: log.level: "loud" is not a level`,
			bad + `:5: mqtt.receive_maximum: "many" is not an integer`,
			bad + ":7: session.max_outbound_queue: 0 must be at least 1",
		}, []string{"4 problems"}, 4},
		{"missing file", []string{"check", "-c", bad + ".missing"}, 1, nil, []string{"reading config"}, 0},
		{"bad usage", []string{"check", "extra"}, 2, nil, []string{`unexpected argument "extra"`, "Usage: edgemq check"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, stdout, stderr := runMain(t, tt.args...)
			if status != tt.status {
				t.Errorf("exit %d, want %d; stderr:\n%s", status, tt.status, stderr)
			}
			wantContains(t, "stdout", stdout, tt.stdout...)
			wantContains(t, "stderr", stderr, tt.stderr...)
			if rows := strings.Count(stdout, "\n"); tt.stdoutRows >= 0 && rows != tt.stdoutRows {
				t.Errorf("%d lines on stdout, want %d:\n%s", rows, tt.stdoutRows, stdout)
			}
		})
	}
}

// TestConfigCommand: edgemq config prints the effective configuration,
// defaults filled in and the token redacted, in a form that loads back.
func TestConfigCommand(t *testing.T) {
	file := writeFile(t, "admin.yaml", "admin:\n  address: 127.0.0.1:9091\n  token: top-secret-admin-token\nlog:\n  level: warn\n")
	status, stdout, stderr := runMain(t, "config", "-c", file)
	if status != 0 {
		t.Fatalf("exit %d; stderr:\n%s", status, stderr)
	}
	if strings.Contains(stdout, "top-secret-admin-token") {
		t.Errorf("the token is printed:\n%s", stdout)
	}
	wantContains(t, "stdout", stdout, "token: "+configs.Redacted, "level: warn", "receive_maximum: 1024", "address: 127.0.0.1:9091")
	cfg, err := configs.Parse("printed", []byte(stdout))
	if err != nil {
		t.Fatalf("the printed configuration does not load: %v", err)
	}
	if cfg.Log.Level != "warn" || cfg.Admin.Token != configs.Redacted {
		t.Errorf("loaded back: log.level %q, admin.token %q", cfg.Log.Level, cfg.Admin.Token)
	}

	bad := writeFile(t, "bad.yaml", "log:\n  level: loud\n")
	if status, stdout, stderr := runMain(t, "config", "-c", bad); status != 1 || stdout != "" || !strings.Contains(stderr, "log.level") {
		t.Errorf("invalid file: exit %d, stdout %q, stderr %q", status, stdout, stderr)
	}
}

// wantContains fails the test unless text contains every part.
func wantContains(t testing.TB, what, text string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(text, p) {
			t.Errorf("%s lacks %q:\n%s", what, p, text)
		}
	}
}
