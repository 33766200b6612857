package main

import (
	"bytes"
	"net"
	"strings"
	"testing"
)

// TestUsageWithoutScenario: no scenario is bad usage (exit 2 and the
// usage text), never a default 1,000-connection run; nothing is dialled.
func TestUsageWithoutScenario(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no arguments", nil, "no scenario given"},
		{"flags only", []string{"-n", "1"}, "no scenario given"},
		{"unknown scenario", []string{"storm"}, `unknown scenario "storm"`},
		{"stray argument", []string{"connect", "extra"}, "usage: edgemq-bench"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if got := run(tc.args, &stdout, &stderr); got != 2 {
				t.Fatalf("exit status %d, want 2; stderr:\n%s", got, stderr.String())
			}
			for _, want := range []string{tc.want, "usage: edgemq-bench", "connect|fanin|fanout|pairs|retained|sessions", "-addr"} {
				if !strings.Contains(stderr.String(), want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
				}
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout: %q, want nothing", stdout.String())
			}
		})
	}
}

// closedPort returns a loopback address nothing listens on.
func closedPort(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("listening: %v", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestEveryConnectionFailedExitsNonZero: a run against a closed port
// reports the failure and exits 1, whatever the scenario and output form.
func TestEveryConnectionFailedExitsNonZero(t *testing.T) {
	addr := closedPort(t)
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"connect", []string{"-addr", addr, "-n", "3", "-c", "1", "connect"}},
		{"connect json", []string{"-addr", addr, "-n", "3", "-c", "1", "-json", "connect"}},
		{"fanin", []string{"-addr", addr, "-p", "1", "-duration", "1s", "-warmup", "0s", "fanin"}},
		{"retained", []string{"-addr", addr, "-n", "2", "retained"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if got := run(tc.args, &stdout, &stderr); got != 1 {
				t.Fatalf("exit status %d, want 1; stdout:\n%s\nstderr:\n%s", got, stdout.String(), stderr.String())
			}
			if !strings.Contains(stderr.String(), "edgemq-bench:") {
				t.Errorf("stderr does not say what failed:\n%s", stderr.String())
			}
		})
	}
}
