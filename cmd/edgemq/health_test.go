package main

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"edgemq/configs"
	"edgemq/gateway"
)

// startGateway runs a gateway with its ops listener on a free loopback
// port until the test ends, and returns the ops address.
func startGateway(t *testing.T) string {
	t.Helper()
	cfg, err := configs.Default()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Listeners = []configs.Listener{{Name: "tcp", Type: "tcp", Address: "127.0.0.1:0"}}
	cfg.Ops.Address = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.Drain.Period = 0
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	srv, err := gateway.New(cfg, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("gateway run: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("gateway did not stop")
		}
	})
	return srv.OpsAddr().String()
}

// closedAddr returns a loopback address nothing listens on any more.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// edgemq health against a real gateway: 0 while /healthz answers 200, 1
// for any other answer or none, 2 for bad usage.
func TestHealth(t *testing.T) {
	ops := startGateway(t)
	// The ops listener serves once Run started it.
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, _, _ := runMain(t, "health", "-addr", ops)
		if code == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/healthz of %s never answered 200", ops)
		}
		time.Sleep(20 * time.Millisecond)
	}
	down := closedAddr(t)
	tests := []struct {
		name       string
		args       []string
		code       int
		stdout     string
		stderrHave string
	}{
		{name: "host:port", args: []string{"-addr", ops}, code: 0, stdout: "ok\n"},
		{name: "url", args: []string{"-addr", "http://" + ops + "/healthz", "-timeout", "10s"}, code: 0, stdout: "ok\n"},
		{name: "not found", args: []string{"-addr", "http://" + ops + "/nothing"}, code: 1, stderrHave: "404 Not Found"},
		{name: "nothing listening", args: []string{"-addr", down}, code: 1, stderrHave: "edgemq health: checking http://" + down + "/healthz"},
		{name: "stray argument", args: []string{"now"}, code: 2, stderrHave: `unexpected argument "now"`},
		{name: "bad flag", args: []string{"-port", "1"}, code: 2, stderrHave: "flag provided but not defined"},
		{name: "help", args: []string{"-h"}, code: 0, stderrHave: "Usage: edgemq health"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runMain(t, append([]string{"health"}, tt.args...)...)
			if code != tt.code {
				t.Errorf("exit status %d, want %d; stderr:\n%s", code, tt.code, stderr)
			}
			if stdout != tt.stdout {
				t.Errorf("stdout %q, want %q", stdout, tt.stdout)
			}
			if !strings.Contains(stderr, tt.stderrHave) {
				t.Errorf("stderr %q does not contain %q", stderr, tt.stderrHave)
			}
		})
	}
}
