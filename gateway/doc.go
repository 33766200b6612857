// Package gateway is the edgemq server: it assembles the engine's
// packages from a configuration and runs them. It owns Server (New,
// NewContext, Run, Reload, ReloadConfig, Stats) and its Options (the
// extension points of a program embedding edgemq: WithAuthenticator,
// WithAuthorizer, WithStore; options.go), and nothing of a concern's own:
//
//   - server.go: building a Server from the configuration, binding the
//     listeners, serving connections, drain and shutdown;
//   - engine.go: the broker and the protocol engine (gateway/proto) built
//     from the configuration, the store opened and restored, the
//     authorizer in force; the server as the connections' conn.Host;
//   - cluster.go: joining a cluster (gateway/cluster)
//     when the configuration has a cluster section, its backend in place
//     of the broker's own seams, and the node's operations (health,
//     readiness, metrics, the drain's Server Reference);
//   - assemble.go: each listener's authentication chain (gateway/auth and
//     its backends), the ACL file watch (gateway/acl), the admission
//     limits and overload protection (gateway/limits), and their glue to
//     the server;
//   - reload.go: a configuration reload, all or nothing, over the key
//     paths configs.Diff reports; the listeners' TLS switch;
//   - admin_source.go, ops_source.go: the adapters implementing the
//     read-only interfaces gateway/admin and gateway/ops declare, and the
//     concerns' Prometheus collectors; admin_cluster.go, the admin API
//     on a cluster node (its name, the cluster-wide client list);
//   - sys.go: the $SYS publisher's start (the publishing is the broker's);
//   - endpoints.go: the URLs the start-up log lines carry;
//   - lockclass.go: the lock classes of the root's own mutexes.
//
// It may import every package of the module but the commands: mqtt/...,
// configs, listeners/..., certs and gateway/...; only cmd/ imports it
// (gateway/internal/layout checks both).
//
// Lock classes (lockclass.go): reloader.mu serialises reloads and the ACL
// file watcher's rebuilds, and is held while taking Server.srcMu,
// Server.mu and admission.mu, each alone; Server.mu guards the
// connection set and draining, Server.srcMu the certificate sources
// (LOCKS.md).
package gateway
