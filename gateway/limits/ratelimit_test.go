package limits

import (
	"testing"
	"time"

	"edgemq/configs"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// A flood of throttled publishes logs a few lines per second, not one
// per publish.
func TestRateLimitLogSampled(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	rl := NewRateLimits(zap.New(core))
	for range 1000 {
		rl.log.Info("publish rate limited: not reading", zap.String("client_id", "c"))
	}
	// At most two sampling ticks are crossed.
	if n := logs.Len(); n < 1 || n > 2*rateLogFirst {
		t.Errorf("%d lines logged for 1000 throttled publishes, want 1 to %d", n, 2*rateLogFirst)
	}
}

// TestPubLimiter: a publish within the burst goes at once; one over it
// is counted, by listener and action, and waits (backpressure: its cost
// taken into debt) or is refused (disconnect: nothing taken). Time is
// given, not read, so the waits are exact.
func TestPubLimiter(t *testing.T) {
	t0 := time.Unix(1000, 0)
	tests := []struct {
		name       string
		pr         configs.PublishRate
		sizes      []int
		wantWaits  []time.Duration
		disconnect bool
	}{
		{"messages backpressure", configs.PublishRate{MessagesPerSecond: 2, MessagesBurst: 2, Action: configs.RateBackpressure},
			[]int{1, 1, 1, 1}, []time.Duration{0, 0, 500 * time.Millisecond, time.Second}, false},
		{"bytes backpressure", configs.PublishRate{BytesPerSecond: 100, BytesBurst: 100, Action: configs.RateBackpressure},
			[]int{100, 50}, []time.Duration{0, 500 * time.Millisecond}, false},
		{"messages disconnect", configs.PublishRate{MessagesPerSecond: 1, MessagesBurst: 1, Action: configs.RateDisconnect},
			[]int{1, 1, 1}, []time.Duration{0, time.Second, time.Second}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rl := NewRateLimits(zap.NewNop())
			l := rl.NewLimiter("tcp", tt.pr)
			if l == nil {
				t.Fatal("no limiter for an enabled publish_rate")
			}
			// The buckets were filled at NewLimiter's clock: publish at it.
			l.msgs.last, l.bytes.last = t0, t0
			var over int64
			for i, size := range tt.sizes {
				got := l.Reserve(t0, size)
				if got != tt.wantWaits[i] {
					t.Errorf("publish %d: wait %v, want %v", i, got, tt.wantWaits[i])
				}
				if got > 0 {
					over++
				}
			}
			if l.Disconnects() != tt.disconnect {
				t.Errorf("Disconnects = %v, want %v", l.Disconnects(), tt.disconnect)
			}
			want := map[string]int64{configs.RateBackpressure: over, configs.RateDisconnect: 0}
			if tt.disconnect {
				want = map[string]int64{configs.RateBackpressure: 0, configs.RateDisconnect: over}
			}
			got := rl.Limited()
			for a, n := range want {
				if got[a] != n {
					t.Errorf("Limited()[%s] = %d, want %d", a, got[a], n)
				}
			}
			seen := 0
			rl.EachLimited(func(listener, action string, n int64) {
				seen++
				if listener != "tcp" || n != want[action] {
					t.Errorf("EachLimited: %s %s %d, want tcp %d", listener, action, n, want[action])
				}
			})
			if seen != rateActions {
				t.Errorf("EachLimited gave %d series, want %d", seen, rateActions)
			}
		})
	}
	if l := NewRateLimits(zap.NewNop()).NewLimiter("tcp", configs.PublishRate{}); l != nil {
		t.Error("a limiter for a publish_rate that limits nothing")
	}
}

// TestPubLimiterSleep: a wait ends when the connection closes first.
func TestPubLimiterSleep(t *testing.T) {
	l := NewRateLimits(zap.NewNop()).NewLimiter("tcp", configs.PublishRate{MessagesPerSecond: 1})
	closed := make(chan struct{})
	close(closed)
	if l.Sleep(closed, time.Hour) {
		t.Error("Sleep returned true on a closed connection")
	}
	if !l.Sleep(nil, time.Nanosecond) {
		t.Error("Sleep of an open connection returned false")
	}
	l.Stop()
	var none *PubLimiter
	none.Stop() // a connection without limits
}

// TestPubLimiterNoAlloc: a publish within the rate costs no allocation.
func TestPubLimiterNoAlloc(t *testing.T) {
	l := NewRateLimits(zap.NewNop()).NewLimiter("tcp", configs.PublishRate{MessagesPerSecond: 1e12, BytesPerSecond: 1e15})
	if n := testing.AllocsPerRun(100, func() { l.Reserve(time.Now(), 100) }); n != 0 {
		t.Errorf("%v allocations per publish within the rate", n)
	}
}
