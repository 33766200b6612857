package main

import (
	"context"
	"testing"
	"time"
)

func TestWakeProbe(t *testing.T) {
	tests := []struct {
		name     string
		window   time.Duration // from t0 to t1
		cancel   bool          // ctx done before t0
		wantSome bool
	}{
		{name: "a window of wake-ups", window: 20 * wakeProbeEvery, wantSome: true},
		{name: "a window already over samples once", window: -time.Second, wantSome: true},
		{name: "cancelled before the window", window: time.Hour, cancel: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			clk := newClock()
			t0 := clk.now()
			if tt.cancel {
				t0 += time.Hour
				cancel()
			}
			p99, max, n := startWakeProbe(ctx, clk, t0, t0+tt.window).result()
			if tt.wantSome && n < 1 {
				t.Fatalf("no wake-up sampled")
			}
			if !tt.wantSome && n != 0 {
				t.Fatalf("%d wake-ups sampled after cancel", n)
			}
			if p99 < 0 || max < p99 {
				t.Errorf("p99 %v, max %v: want 0 <= p99 <= max", p99, max)
			}
		})
	}
}
