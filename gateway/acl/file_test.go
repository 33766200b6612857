package acl

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"edgemq/configs"
	"edgemq/gateway/filewatch"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// writeFile replaces path's content at once (write aside, rename).
func writeFile(tb testing.TB, path, data string) {
	tb.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(data), 0o600); err != nil {
		tb.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		tb.Fatal(err)
	}
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		data    string // "-": no file
		rules   int
		wantErr error
		errText string
	}{
		{"rules", "rules:\n  - {permission: allow, action: all, topic: a/#}\n  - {permission: deny, action: all, topic: b}\n", 2, nil, ""},
		{"a comment only", "# no rules\n", 0, nil, ""},
		{"unknown key", "rules:\n  - {permission: allow, action: all, topic: a, colour: red}\n", 0, nil, "colour"},
		{"no topic", "rules:\n  - {permission: allow, action: all}\n", 0, nil, "rules[0].topic is required"},
		{"empty", "", 0, filewatch.ErrEmpty, ""},
		{"missing", "-", 0, os.ErrNotExist, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "_")+".yaml")
			if tt.data != "-" {
				writeFile(t, path, tt.data)
			}
			rules, err := LoadFile(path)
			wantErr := tt.wantErr != nil || tt.errText != ""
			if (err != nil) != wantErr {
				t.Fatalf("err = %v, want an error %v", err, wantErr)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("err = %v, want it to wrap %v", err, tt.wantErr)
			}
			if tt.errText != "" && !strings.Contains(err.Error(), tt.errText) {
				t.Errorf("err = %v, want it to say %q", err, tt.errText)
			}
			if len(rules) != tt.rules {
				t.Errorf("%d rules, want %d", len(rules), tt.rules)
			}
		})
	}
}

// TestWatchFile: a change of the file calls reload; a file that fails
// to load is logged and does not; a wake makes the watcher take the acl
// section in force again.
func TestWatchFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "acl.yaml")
	writeFile(t, path, "rules:\n  - {permission: allow, action: all, topic: a/#}\n")
	section := configs.ACL{Default: "deny", File: path, ReloadInterval: 5 * time.Millisecond}
	asked := make(chan struct{}, 2)
	current := func() configs.ACL {
		asked <- struct{}{}
		return section
	}
	reloads := make(chan struct{}, 16)
	wake := make(chan struct{}, 1)
	core, logs := observer.New(zap.WarnLevel)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		WatchFile(ctx, zap.New(core), current, wake, func() { reloads <- struct{}{} })
	}()
	defer func() { cancel(); <-done }()
	await := func(ch <-chan struct{}, what string) {
		t.Helper()
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			t.Fatalf("timed out waiting for %s", what)
		}
	}
	await(asked, "the watcher to take the acl section") // its reference is the file as it is now

	writeFile(t, path, "rules:\n  - {permission: allow, action: all, topic: bb/#}\n")
	await(reloads, "a reload after the file changed")
	os.Remove(path)
	deadline := time.Now().Add(10 * time.Second)
	for logs.FilterMessage("acl file not reloaded: keeping the rules in force").Len() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("a missing file was not logged")
		}
		time.Sleep(time.Millisecond)
	}
	if len(reloads) != 0 {
		t.Error("reload called for a missing file")
	}
	wake <- struct{}{}
	await(asked, "the watcher to take the acl section again after a wake")
	writeFile(t, path, "rules:\n  - {permission: allow, action: all, topic: c/#}\n")
	await(reloads, "a reload of the file written again")
}
