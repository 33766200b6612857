package conn

import (
	"sync"
	"testing"
	"time"
)

// manualClock is a Clock that moves only when the test moves it.
type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

// Now returns the clock's time.
func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *manualClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// The encoder reads the clock it was given (one reading per batch);
// without one, the wall clock. The engine's and channel's are
// gateway/proto's test (TestEngineClock).
func TestEncoderClock(t *testing.T) {
	c := &manualClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	enc := &encoder{clock: c}
	if got := enc.now(); !got.Equal(c.t) {
		t.Errorf("now %v, want the manual clock's %v", got, c.t)
	}
	c.add(time.Minute)
	if got := enc.now(); !got.Equal(c.t) {
		t.Errorf("now %v after the clock moved, want %v", got, c.t)
	}
	before := time.Now()
	if got := (&encoder{}).now(); got.Before(before) {
		t.Errorf("encoder without a clock: %v, before the wall clock's %v", got, before)
	}
}
