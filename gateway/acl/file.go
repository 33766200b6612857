package acl

// The ACL file (acl.file): more rules in a YAML file, after acl.rules,
// reloaded when the file changes.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"edgemq/configs"
	"edgemq/gateway/filewatch"

	"go.uber.org/zap"
	"gopkg.in/yaml.v3"
)

// fileDoc is the ACL file's content.
type fileDoc struct {
	Rules []configs.ACLRule `yaml:"rules"`
}

// LoadFile reads the rules of an ACL file; unknown keys are errors, and
// so is an empty file or one that changes while it is read
// (filewatch.ReadStable: a file with no rules holds a comment).
func LoadFile(path string) ([]configs.ACLRule, error) {
	data, err := filewatch.ReadStable(path)
	if err != nil {
		return nil, fmt.Errorf("acl.file: %w", err)
	}
	var doc fileDoc
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("acl.file %s: %w", path, err)
	}
	for i, r := range doc.Rules {
		if r.Topic == "" {
			return nil, fmt.Errorf("acl.file %s: rules[%d].topic is required", path, i)
		}
	}
	return doc.Rules, nil
}

// NewFileWatcher returns the watcher of the acl.file of a: make it before
// building rules from the file (NewStatic), so that a change of the file
// after that read is seen (filewatch.Watcher's first reference), and
// hand it to WatchFile.
func NewFileWatcher(a configs.ACL) *filewatch.Watcher {
	return filewatch.New(a.ReloadInterval, a.File)
}

// WatchFile watches the acl.file of the acl section in force every
// acl.reload_interval, until ctx ends, and calls reload on a change
// (filewatch.Watcher's contract: a change is acted on once it settled, a
// missing or empty file is logged to log and not loaded). reload rebuilds
// and installs the rules; it is the caller's, so that it can take the
// lock that keeps it from installing rules of a replaced configuration.
//
// first is the watcher of the section in force (NewFileWatcher, made
// before its rules were built). current returns the acl section in
// force. A receive on wake says that it changed (a configuration reload)
// and brings the new section's watcher, made before the reload built its
// rules from the file: WatchFile starts over with it and current's
// answer, and a change of the file since the reload read it is reported.
// With no file or no interval it only waits for ctx or wake. It blocks:
// run it on a goroutine of its own.
func WatchFile(ctx context.Context, log *zap.Logger, first *filewatch.Watcher, current func() configs.ACL, wake <-chan *filewatch.Watcher, reload func()) {
	acl := current()
	w := first
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if acl.File != "" && acl.ReloadInterval > 0 {
			t.Reset(acl.ReloadInterval)
		} else {
			t.Stop()
		}
		select {
		case <-ctx.Done():
			return
		case w = <-wake:
			acl = current()
			continue
		case <-t.C:
		}
		changed, err := w.Check(time.Now())
		if err != nil {
			log.Warn("acl file not reloaded: keeping the rules in force", zap.String("file", acl.File), zap.Error(err))
		}
		if changed {
			reload()
		}
	}
}
