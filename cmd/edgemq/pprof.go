//go:build pprof

package main

import (
	"net"
	"net/http"
	_ "net/http/pprof" // registers /debug/pprof on http.DefaultServeMux
	"os"
	"runtime"
)

// A profiling hook for benchmark sittings, compiled in only with
// `go build -tags pprof ./cmd/edgemq`: with EDGEMQ_PPROF set to a
// loopback address (127.0.0.1:6061) the command serves the runtime's
// profiles and execution trace there (/debug/pprof/); with
// EDGEMQ_PPROF_CONTENTION=1 as well it records the block and mutex
// profiles (every blocking event, every contended unlock: not free, so
// not with the trace of a latency run). A release build has no such
// endpoint; the gateway's own ops listener never serves it.
func init() {
	addr := os.Getenv("EDGEMQ_PPROF")
	if addr == "" {
		return
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		os.Stderr.WriteString("edgemq: pprof: " + err.Error() + "\n")
		return
	}
	if os.Getenv("EDGEMQ_PPROF_CONTENTION") == "1" {
		runtime.SetBlockProfileRate(1)
		runtime.SetMutexProfileFraction(1)
	}
	go func() { _ = http.Serve(ln, nil) }()
}
