package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

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
	clustered := writeFile(t, "cluster.yaml", "cluster:\n  node: n1\n  replicas: 7\n")
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
		{name: "bad cluster", args: []string{"-c", clustered}, code: 2,
			stderrHave: []string{"cluster.replicas: 7 is not 1 to 5"}},
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

// freeLoopbackAddr returns a loopback address whose port was free just
// now, for a configuration file.
func freeLoopbackAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// receiveMaximum connects an MQTT 5 client to addr and returns the
// Receive Maximum of its CONNACK (0 when the connection fails).
func receiveMaximum(t testing.TB, addr string) uint16 {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return 0
	}
	c := paho.NewClient(paho.ClientConfig{Conn: nc})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ack, err := c.Connect(ctx, &paho.Connect{ClientID: "sighup", CleanStart: true, KeepAlive: 60})
	defer func() {
		_ = c.Disconnect(&paho.Disconnect{})
		nc.Close()
		<-c.Done()
	}()
	if err != nil || ack.Properties == nil || ack.Properties.ReceiveMaximum == nil {
		return 0
	}
	return *ack.Properties.ReceiveMaximum
}

// refusedReloads reads edgemq_config_reloads_total{result="refused"}
// from the ops listener at addr, -1 when it cannot.
func refusedReloads(addr string) int {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, `edgemq_config_reloads_total{result="refused"} `); ok {
			var n int
			if _, err := fmt.Sscan(v, &n); err == nil {
				return n
			}
		}
	}
	return -1
}

// TestSIGHUPReload runs the command on a configuration file, edits the
// file and sends SIGHUP: new connections get the new receive maximum; an
// invalid file is refused (counted on /metrics) and the process keeps
// serving with the configuration in force; SIGTERM then stops it
// cleanly.
func TestSIGHUPReload(t *testing.T) {
	addr, ops := freeLoopbackAddr(t), freeLoopbackAddr(t)
	dir := t.TempDir()
	config := func(receiveMax int) string {
		return fmt.Sprintf("data_dir: %s\nops: {address: '%s'}\ndrain: {period: 0s}\nshutdown_timeout: 5s\n"+
			"mqtt: {receive_maximum: %d}\nlisteners:\n  - {name: tcp, type: tcp, address: '%s'}\n", dir, ops, receiveMax, addr)
	}
	path := writeFile(t, "edgemq.yaml", config(20))
	codes := make(chan int, 1)
	go func() {
		var stdout, stderr bytes.Buffer
		codes <- run([]string{"-c", path}, &stdout, &stderr)
	}()
	stopped := false
	defer func() {
		if !stopped {
			_ = syscall.Kill(os.Getpid(), syscall.SIGTERM)
			<-codes
		}
	}()

	waitFor := func(what string, want uint16) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			got := receiveMaximum(t, addr)
			if got == want {
				return
			}
			select {
			case code := <-codes:
				stopped = true
				t.Fatalf("%s: the command exited with %d", what, code)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: receive maximum %d, want %d", what, got, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	// A CONNACK means Run serves, so the SIGHUP handler is installed.
	waitFor("start", 20)

	edit := func(content string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
	}
	edit(config(7))
	waitFor("after SIGHUP", 7)
	edit(config(0)) // receive_maximum must be at least 1: refused
	deadline := time.Now().Add(20 * time.Second)
	for refusedReloads(ops) != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("refused reloads %d on /metrics, want 1", refusedReloads(ops))
		}
		time.Sleep(20 * time.Millisecond)
	}
	waitFor("after a refused file", 7)
	edit(config(9))
	waitFor("after a good file again", 9)

	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	stopped = true
	select {
	case code := <-codes:
		if code != 0 {
			t.Fatalf("exit status %d after SIGTERM, want 0", code)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the command did not stop on SIGTERM")
	}
}
