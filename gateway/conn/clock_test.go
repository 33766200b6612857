package conn

import (
	"edgemq/gateway/internal/testclock"
	"testing"
	"time"
)

// The encoder reads the clock it was given (one reading per batch);
// without one, the wall clock. The engine's and channel's are
// gateway/proto's test (TestEngineClock).
func TestEncoderClock(t *testing.T) {
	c := testclock.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	enc := &encoder{clock: c}
	if got := enc.now(); !got.Equal(c.Now()) {
		t.Errorf("now %v, want the manual clock's %v", got, c.Now())
	}
	c.Add(time.Minute)
	if got := enc.now(); !got.Equal(c.Now()) {
		t.Errorf("now %v after the clock moved, want %v", got, c.Now())
	}
	before := time.Now()
	if got := (&encoder{}).now(); got.Before(before) {
		t.Errorf("encoder without a clock: %v, before the wall clock's %v", got, before)
	}
}
