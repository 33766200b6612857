package main

import "testing"

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
