// Package scram is SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, RFC 7677)
// as MQTT 5 enhanced authentication methods (Method, an auth.Method),
// server side, over a Store of credentials: FileStore reads the SCRAM
// entries of a password file and reloads it when it changes. Entry and
// ParseEntry write and read those entries.
//
// It may import mqtt, gateway/auth, gateway/filewatch, gateway/logsafe
// and gateway/internal/lockorder.
//
// Lock class: FileSCRAMStore.mu (FileStore; it polls its file's watcher
// under it, and nothing else is called while it is held).
package scram
