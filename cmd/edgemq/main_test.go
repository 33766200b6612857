package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap/zapcore"

	"edgemq/configs"
)

// runMain runs the command with args and returns its exit status,
// standard output and standard error.
func runMain(t testing.TB, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// writeFile writes content to a file in a temporary directory and
// returns its path.
func writeFile(t testing.TB, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRunWithoutServing(t *testing.T) {
	bad := writeFile(t, "bad.yaml", "mqtt:\n  recieve_maximum: 1\n")
	open := writeFile(t, "open.yaml", "listeners:\n  - {name: tcp, type: tcp, address: '0.0.0.0:1883'}\n")
	tests := []struct {
		name       string
		args       []string
		code       int
		stdout     string
		stderrHave []string
	}{
		{name: "version", args: []string{"--version"}, code: 0, stdout: "edgemq dev\n"},
		{name: "help", args: []string{"-h"}, code: 0, stderrHave: []string{"Usage: edgemq", "-config FILE", "-version"}},
		{name: "unknown flag", args: []string{"--frobnicate"}, code: 2, stderrHave: []string{"flag provided but not defined"}},
		{name: "stray argument", args: []string{"serve"}, code: 2, stderrHave: []string{`unexpected argument "serve"`}},
		{name: "missing file", args: []string{"-c", filepath.Join(t.TempDir(), "none.yaml")}, code: 2,
			stderrHave: []string{"edgemq: reading config:", "none.yaml"}},
		{name: "unknown key", args: []string{"--config", bad}, code: 2,
			stderrHave: []string{"edgemq: " + bad + ":2: mqtt.recieve_maximum: unknown key"}},
		{name: "open listener", args: []string{"-c", open}, code: 2,
			stderrHave: []string{`listeners[0]: "tcp" binds 0.0.0.0:1883, which is not loopback`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runMain(t, tt.args...)
			if code != tt.code {
				t.Errorf("exit status %d, want %d; stderr:\n%s", code, tt.code, stderr)
			}
			if stdout != tt.stdout {
				t.Errorf("stdout %q, want %q", stdout, tt.stdout)
			}
			for _, s := range tt.stderrHave {
				if !strings.Contains(stderr, s) {
					t.Errorf("stderr %q does not contain %q", stderr, s)
				}
			}
		})
	}
}

// syncBuffer is a bytes.Buffer that is a zapcore.WriteSyncer.
type syncBuffer struct{ bytes.Buffer }

func (*syncBuffer) Sync() error { return nil }

func TestLogger(t *testing.T) {
	var buf syncBuffer
	logger, err := newLoggerTo(configs.Log{Level: "warn", Format: "json"}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	logger.Info("hidden")
	logger.Warn("shown")
	var entry map[string]any
	if err := json.Unmarshal(buf.Bytes(), &entry); err != nil {
		t.Fatalf("json output %q: %v", buf.String(), err)
	}
	if entry["msg"] != "shown" || entry["level"] != "warn" {
		t.Errorf("entry = %v", entry)
	}

	buf.Reset()
	logger, err = newLoggerTo(configs.Log{Level: "debug", Format: "console"}, &buf)
	if err != nil {
		t.Fatal(err)
	}
	logger.Debug("details")
	if out := buf.String(); !strings.Contains(out, "DEBUG\tdetails") {
		t.Errorf("console output %q", out)
	}

	for _, c := range []configs.Log{{Level: "loud", Format: "json"}, {Level: "info", Format: "xml"}} {
		if _, err := newLoggerTo(c, zapcore.AddSync(&buf)); err == nil {
			t.Errorf("newLogger(%+v) succeeded", c)
		}
	}
}
