package main

import (
	"context"
	"math"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"

	"go.uber.org/zap"

	"edgemq/configs"
)

// The command's garbage-collector policy. A gateway's live heap is
// mostly its connections' state: small while few clients are connected,
// large with many idle ones. Go's default (GOGC=100) lets garbage grow to
// the live heap's size before collecting, which is both too little at a
// small heap (a collection every few hundred milliseconds at a few
// thousand messages a second, each one a bump in the tail latency) and
// too much at a large one (a connection storm's garbage stays resident:
// with 5,000 idle TLS clients a third of the memory is headroom). So the
// command keeps the headroom near gcHeadroom: GOGC is set to the
// percentage of the live heap that this is, within [gcMinPercent,
// gcMaxPercent], and updated as the live heap changes.
//
// With overload.memory_high_water set, the Go memory limit is 90% of it,
// so that the collector works harder before the gateway is overloaded
// and refuses clients.
//
// Once idle after a burst, the command returns the burst's garbage to
// the system (gcidle.go).
//
// An operator's GOGC or GOMEMLIMIT in the environment wins: then the
// command changes neither, and returns nothing early.
const (
	gcHeadroom   = 16 << 20
	gcMinPercent = 25
	gcMaxPercent = 400
	gcTuneEvery  = 100 * time.Millisecond
)

// gcPercentFor returns the GOGC that gives a live heap of live bytes about
// gcHeadroom of garbage headroom, within [gcMinPercent, gcMaxPercent].
func gcPercentFor(live uint64) int {
	if live == 0 {
		return gcMaxPercent
	}
	p := math.Round(100 * float64(gcHeadroom) / float64(live))
	return int(min(max(p, gcMinPercent), gcMaxPercent))
}

// memoryLimitFor returns the Go memory limit for an overload memory
// high-water mark, 0 for none.
func memoryLimitFor(highWater int64) int64 { return highWater / 10 * 9 }

// tuneGC applies the policy until ctx ends; it returns at once when the
// environment sets GOGC or GOMEMLIMIT.
func tuneGC(ctx context.Context, cfg *configs.Config, log *zap.Logger) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		log.Info("garbage collector settings from the environment", zap.String("gogc", os.Getenv("GOGC")), zap.String("gomemlimit", os.Getenv("GOMEMLIMIT")))
		return
	}
	if limit := memoryLimitFor(cfg.Overload.MemoryHighWater); limit > 0 {
		debug.SetMemoryLimit(limit)
		log.Info("go memory limit set below the overload mark", zap.Int64("memory_limit", limit))
	}
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/gc/heap/allocs:bytes"}}
	last := 100
	var idle idleRelease // gcidle.go
	t := time.NewTicker(gcTuneEvery)
	defer t.Stop()
	for {
		metrics.Read(sample)
		if sample[0].Value.Kind() == metrics.KindUint64 {
			if p := gcPercentFor(sample[0].Value.Uint64()); p != last {
				debug.SetGCPercent(p)
				last = p
			}
		}
		if sample[1].Value.Kind() == metrics.KindUint64 && idle.due(sample[1].Value.Uint64(), time.Now()) {
			debug.FreeOSMemory()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
