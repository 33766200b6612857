// Package ops serves the operations endpoints of edgemq on a listener of
// its own (ops.address): /metrics (Prometheus), /healthz and /readyz. It
// owns the Prometheus registry of a server (Metrics): the Go runtime and
// process collectors, the CONNECT and TLS handshake latency histograms,
// and the collector that exports, at scrape time, the hot-path counters
// of gateway/stats with the gauges and counters a Source reports. Other
// concerns register their own collectors (Metrics.MustRegister).
//
// It reads the server only through the interfaces it declares
// (source.go), which a small adapter of the gateway root implements; it
// takes none of the server's locks.
//
// It may import the codec (mqtt), configs, gateway/stats and
// gateway/logsafe. It defines no lock class.
package ops
