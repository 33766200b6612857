package gateway

// The ACL file (acl.file): more rules in a YAML file, after acl.rules,
// reloaded when the file changes.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"edgemq/configs"
	"edgemq/gateway/filewatch"

	"go.uber.org/zap"
	"gopkg.in/yaml.v3"
)

// QoSLimiter is implemented by an Authorizer that grants subscriptions at
// most some QoS (the static ACL's max_qos). After Authorize allowed a
// subscription to filter at the requested qos, the server grants
// SubscribeMaxQoS's answer (≤ qos) instead. The contract of Authorizer
// applies.
type QoSLimiter interface {
	SubscribeMaxQoS(c ConnInfo, filter string, qos byte) byte
}

// aclFileDoc is the ACL file's content.
type aclFileDoc struct {
	Rules []configs.ACLRule `yaml:"rules"`
}

// loadACLFile reads the rules of an ACL file; unknown keys are errors,
// and so is an empty file or one that changes while it is read
// (filewatch.ReadStable: a file with no rules holds a comment).
func loadACLFile(path string) ([]configs.ACLRule, error) {
	data, err := filewatch.ReadStable(path)
	if err != nil {
		return nil, fmt.Errorf("acl.file: %w", err)
	}
	var doc aclFileDoc
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

// watchACLFile watches acl.file every acl.reload_interval
// (filewatch.Watcher's contract: a change is acted on once it settled, a
// missing or empty file is logged and not loaded) and, on a change,
// rebuilds the static ACL (acl.rules then the file's) and installs it with
// SetAuthorizer: every connection drops its cached decisions. A file that
// fails to load is logged and the rules in force stay. A reload replaces
// an authorizer set with SetAuthorizer. It follows the acl section in
// force: a configuration reload that changes it (reload.go) wakes it. It
// returns a function that stops the polling.
func (s *Server) watchACLFile(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		acl := s.config().ACL
		w := filewatch.New(acl.ReloadInterval, acl.File)
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
			case <-s.reloads.aclWake:
				// The reload built its ACL from the file as it is now.
				acl = s.config().ACL
				w = filewatch.New(acl.ReloadInterval, acl.File)
				continue
			case <-t.C:
			}
			changed, err := w.Check(time.Now())
			if err != nil {
				s.log.Warn("acl file not reloaded: keeping the rules in force", zap.String("file", acl.File), zap.Error(err))
			}
			if changed {
				s.reloadACLFile()
			}
		}
	}()
	return func() { cancel(); wg.Wait() }
}

// reloadACLFile rebuilds the ACL of the configuration in force, under
// the reload lock so that it never installs rules of a replaced
// configuration.
func (s *Server) reloadACLFile() {
	s.reloads.mu.Lock()
	defer s.reloads.mu.Unlock()
	acl := s.config().ACL
	a, err := NewStaticACL(acl)
	if err != nil {
		s.log.Error("acl file not reloaded: keeping the rules in force", zap.String("file", acl.File), zap.Error(err))
		return
	}
	s.SetAuthorizer(a)
	s.log.Info("acl file reloaded", zap.String("file", acl.File))
}
