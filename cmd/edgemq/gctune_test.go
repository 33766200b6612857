package main

import (
	"testing"
	"time"
)

// TestGCPercentFor: the headroom stays near 16 MiB within [25, 400]
// percent of the live heap.
func TestGCPercentFor(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		live uint64
		want int
	}{
		{0, 400},
		{2 * mib, 400},  // 800%: capped
		{4 * mib, 400},  // exactly
		{8 * mib, 200},  // a few clients
		{16 * mib, 100}, // Go's default
		{32 * mib, 50},  // thousands of idle clients
		{64 * mib, 25},
		{1024 * mib, 25}, // floored: never below a quarter
	}
	for _, tt := range tests {
		if got := gcPercentFor(tt.live); got != tt.want {
			t.Errorf("gcPercentFor(%d MiB) = %d, want %d", tt.live/mib, got, tt.want)
		}
	}
}

// TestMemoryLimitFor: 90% of the overload mark; none without one.
func TestMemoryLimitFor(t *testing.T) {
	tests := []struct{ mark, want int64 }{{0, 0}, {1000, 900}, {2 << 30, 1932735276}}
	for _, tt := range tests {
		if got := memoryLimitFor(tt.mark); got != tt.want {
			t.Errorf("memoryLimitFor(%d) = %d, want %d", tt.mark, got, tt.want)
		}
	}
}

// TestIdleRelease: memory goes back once allocation stayed quiet for
// gcIdleAfter after at least gcHeadroom was allocated, once per such
// burst; never while busy.
func TestIdleRelease(t *testing.T) {
	const mib = 1 << 20
	tick := gcTuneEvery
	type step struct {
		alloc uint64 // allocated during the tick
		want  bool
	}
	quiet := func(n int) []step {
		s := make([]step, n)
		for i := range s {
			s[i] = step{alloc: 1 << 10}
		}
		return s
	}
	ticksIdle := int(gcIdleAfter / tick)
	tests := []struct {
		name  string
		steps []step
	}{
		{"a burst then quiet: once", append(append([]step{{alloc: 40 * mib}}, quiet(ticksIdle-1)...),
			step{alloc: 1 << 10, want: true}, step{alloc: 1 << 10}, step{alloc: 1 << 10})},
		{"a small burst: never", append([]step{{alloc: 4 * mib}}, quiet(3*ticksIdle)...)},
		{"busy: never", func() []step {
			s := make([]step, 3*ticksIdle)
			for i := range s {
				s[i] = step{alloc: gcIdleRate + 1}
			}
			return s
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r idleRelease
			now := time.Unix(1000, 0)
			var total uint64 = 10 * mib // the start's
			r.due(total, now)
			for i, s := range tt.steps {
				now = now.Add(tick)
				total += s.alloc
				if got := r.due(total, now); got != s.want {
					t.Errorf("tick %d: due = %v, want %v", i, got, s.want)
				}
			}
		})
	}
}
