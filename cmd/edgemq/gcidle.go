package main

import "time"

// Returning a burst's garbage to the system once the gateway is idle.
// The collector's headroom (gctune.go) lets garbage grow about
// gcHeadroom beyond the live heap, and the runtime gives freed pages
// back to the system only slowly: after a connection storm the gateway
// holds the storm's garbage as resident memory while its clients sit
// idle (5,000 idle WebSocket clients: about 3 KB each of garbage on top
// of their state). So once allocation has stayed below gcIdleRate for
// gcIdleAfter, and at least gcHeadroom was allocated since the last
// time, the command collects and returns the free memory
// (debug.FreeOSMemory). The second condition bounds the cost: at most one
// extra collection per gcHeadroom allocated, which is what the collector
// spends on that much anyway, and only while idle.
const (
	// gcIdleRate is the allocation per tick (gcTuneEvery) under which
	// the gateway counts as idle: 64 KiB per 100 ms. Keep-alives of tens
	// of thousands of idle clients stay well under it.
	gcIdleRate  = 64 << 10
	gcIdleAfter = 2 * time.Second
)

// idleRelease decides when to return memory: one tick at a time, from
// the total bytes allocated so far (/gc/heap/allocs:bytes). The tuning
// loop's alone.
type idleRelease struct {
	last uint64
	// quietSince is when allocation last ran above gcIdleRate.
	quietSince time.Time
	// since counts the bytes allocated since the last release.
	since uint64
}

// due reports whether to release now, given allocs, the bytes allocated
// since the start, at now.
func (r *idleRelease) due(allocs uint64, now time.Time) bool {
	d := allocs - r.last
	r.last = allocs
	r.since += d
	if d > gcIdleRate || r.quietSince.IsZero() {
		r.quietSince = now
		return false
	}
	if now.Sub(r.quietSince) < gcIdleAfter || r.since < gcHeadroom {
		return false
	}
	r.since = 0
	return true
}
