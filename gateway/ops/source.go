package ops

import (
	"crypto/tls"

	"edgemq/configs"
	"edgemq/mqtt"
)

// Source is what the ops endpoints read of the running server. Its
// methods are called from scrape and probe goroutines, concurrently, by
// callers holding none of the server's locks; an implementation takes
// the server's locks one at a time, briefly, and returns copies the
// caller owns. The values need not be consistent with each other: each
// is read on its own, so totals are approximate.
type Source interface {
	// Snapshot copies, for one scrape, the gauges and the counters that
	// do not live in stats.Counters.
	Snapshot() Snapshot
	// Health copies what /readyz judges, and the certificate sources the
	// certificate expiry gauge reads.
	Health() Health
}

// Snapshot is the server's gauges and the counters of its concerns at
// one scrape.
type Snapshot struct {
	// Connections counts the clients through CONNACK by listener,
	// transport and protocol version; a socket before CONNACK is not
	// counted.
	Connections map[ConnLabels]int
	// AuthFailures counts failed authentications by reason, over all
	// backends: every reason (bad_credentials, not_authorized,
	// bad_method, other), zero included.
	AuthFailures []ReasonCount
	// AuthBackendFailures counts them by the kind of backend that
	// decided and reason: every pair, zero included.
	AuthBackendFailures []BackendCount
	// AuthDelayed counts refusals held back by brute-force protection.
	AuthDelayed int64
	// LogSampled counts log entries the log sampler dropped.
	LogSampled int64
	// Sessions (connected and offline), their Subscriptions, Inflight
	// (outbound QoS 1/2 awaiting acknowledgement) and Queued messages.
	Sessions, Subscriptions, Inflight, Queued int
	// Retained messages and their payload bytes.
	Retained      int
	RetainedBytes int64
	// Cluster is the node's cluster state and counters (cluster.go);
	// nil for a single node.
	Cluster *Cluster
}

// ConnLabels are the labels of a connection count.
type ConnLabels struct {
	Listener  string
	Transport string
	Version   mqtt.Version
}

// ReasonCount is a count by reason.
type ReasonCount struct {
	Reason string
	N      int64
}

// BackendCount is a count by backend kind and reason.
type BackendCount struct {
	Backend, Reason string
	N               int64
}

// Health is what keeps a server from being ready, and its certificates.
type Health struct {
	// Listeners are the configured listeners; Up when serving.
	Listeners []Listener
	// TLS are the certificate sources in force, in any order.
	TLS []TLSSource
	// StoreClosed says the persistence store closed (shutdown).
	StoreClosed bool
	// Draining says shutdown began.
	Draining bool
	// Cluster is the node's cluster state (cluster.go): not ready while
	// its NATS link is down or it rechecks; nil for a single node.
	Cluster *Cluster
}

// Listener is a listener and whether it serves.
type Listener struct {
	Name string
	Up   bool
}

// TLSSource is a certificate source in force: its name (the tls entry),
// its configuration and the source itself.
type TLSSource struct {
	Name   string
	Config configs.TLSSource
	Source CertSource
}

// CertSource gives the TLS configuration a source serves now (as
// certs.Source does). TLSConfig may be called from any goroutine.
type CertSource interface {
	TLSConfig() *tls.Config
}
