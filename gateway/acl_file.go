package gateway

// The ACL file (acl.file): more rules in a YAML file, after acl.rules,
// reloaded when the file changes (acl.WatchFile).

import (
	"context"
	"sync"

	"edgemq/configs"
	"edgemq/gateway/acl"

	"go.uber.org/zap"
)

// watchACLFile watches acl.file every acl.reload_interval
// (acl.WatchFile) and, on a change, rebuilds the static ACL (acl.rules
// then the file's) and installs it with SetAuthorizer: every connection
// drops its cached decisions. A file that fails to load is logged and the
// rules in force stay. A reload replaces an authorizer set with
// SetAuthorizer. It follows the acl section in force: a configuration
// reload that changes it (reload.go) wakes it. It returns a function that
// stops the polling.
func (s *Server) watchACLFile(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		acl.WatchFile(ctx, s.log, func() configs.ACL { return s.config().ACL }, s.reloads.aclWake, s.reloadACLFile)
	}()
	return func() { cancel(); wg.Wait() }
}

// reloadACLFile rebuilds the ACL of the configuration in force, under
// the reload lock so that it never installs rules of a replaced
// configuration.
func (s *Server) reloadACLFile() {
	s.reloads.mu.Lock()
	defer s.reloads.mu.Unlock()
	cfg := s.config().ACL
	a, err := acl.NewStatic(cfg)
	if err != nil {
		s.log.Error("acl file not reloaded: keeping the rules in force", zap.String("file", cfg.File), zap.Error(err))
		return
	}
	s.SetAuthorizer(a)
	s.log.Info("acl file reloaded", zap.String("file", cfg.File))
}
