package proto

import (
	"edgemq/gateway/internal/testclock"
	"testing"
	"time"
)

// BenchmarkClock is the cost of reading the time through the engine's
// Clock (one indirect call on the publish path) against time.Now itself.
func BenchmarkClock(b *testing.B) {
	var sink time.Time
	b.Run("time.Now", func(b *testing.B) {
		for b.Loop() {
			sink = time.Now()
		}
	})
	b.Run("engine.now", func(b *testing.B) {
		e := &Engine{clock: WallClock{}}
		for b.Loop() {
			sink = e.now()
		}
	})
	_ = sink
}

// The engine reads the clock it was given; without one, the wall clock.
// The encoder's reading is gateway/conn's test.
func TestEngineClock(t *testing.T) {
	c := testclock.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	e := &Engine{clock: c}
	ch := &Channel{env: e}
	for _, got := range []time.Time{e.now(), ch.now()} {
		if !got.Equal(c.Now()) {
			t.Errorf("now %v, want the manual clock's %v", got, c.Now())
		}
	}
	c.Add(time.Minute)
	if got := ch.now(); !got.Equal(c.Now()) {
		t.Errorf("now %v after the clock moved, want %v", got, c.Now())
	}
	before := time.Now()
	if got := (&Engine{}).now(); got.Before(before) {
		t.Errorf("engine without a clock: %v, before the wall clock's %v", got, before)
	}
}
