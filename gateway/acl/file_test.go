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

// TestWatchFile: a change of the file after its watcher was made calls
// reload, also one made before WatchFile first looks (the watcher is made
// before the rules are read, NewFileWatcher); a file that fails to load
// is logged and does not; a wake hands over the new section's watcher,
// and a change after that watcher was made and before the wake is
// reported (a configuration reload reads the file before the watcher
// takes the wake).
func TestWatchFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "acl.yaml")
	writeFile(t, path, "rules:\n  - {permission: allow, action: all, topic: a/#}\n")
	section := configs.ACL{Default: "deny", File: path, ReloadInterval: 5 * time.Millisecond}
	first := NewFileWatcher(section) // the rules are read from here on
	// The file changes before the watcher's goroutine runs.
	writeFile(t, path, "rules:\n  - {permission: allow, action: all, topic: bb/#}\n")
	// reloads says, for each reload, whether the file was there when it ran.
	reloads := make(chan bool, 256)
	wake := make(chan *filewatch.Watcher, 1)
	core, logs := observer.New(zap.WarnLevel)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		WatchFile(ctx, zap.New(core), first, func() configs.ACL { return section }, wake, func() {
			_, err := os.Stat(path)
			reloads <- err == nil
		})
	}()
	defer func() { cancel(); <-done }()
	awaitReload := func(what string) {
		t.Helper()
		select {
		case ok := <-reloads:
			if !ok {
				t.Fatalf("%s: reload called for a missing file", what)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("timed out waiting for %s", what)
		}
	}
	awaitReload("a reload after the file changed")
	os.Remove(path)
	deadline := time.Now().Add(10 * time.Second)
	for logs.FilterMessage("acl file not reloaded: keeping the rules in force").Len() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("a missing file was not logged")
		}
		time.Sleep(time.Millisecond)
	}
	for len(reloads) > 0 {
		if !<-reloads {
			t.Error("reload called for a missing file")
		}
	}
	// A configuration reload: its watcher is made, the rules are read,
	// and the file is written again before the watcher takes the wake.
	next := NewFileWatcher(section)
	writeFile(t, path, "rules:\n  - {permission: allow, action: all, topic: ccc/#}\n")
	wake <- next
	awaitReload("a reload of the file written between a configuration reload and the wake")
}
