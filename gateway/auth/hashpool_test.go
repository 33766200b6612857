package auth

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"edgemq/configs"
	"edgemq/mqtt"
)

// TestHashPoolBounds: the hash pool computes at most its workers' worth of
// hashes at once, never more memory than its budget, and a verification
// waiting for it ends with its context, answered 0x89, without computing.
func TestHashPoolBounds(t *testing.T) {
	const mem = 10 << 20
	for _, tt := range []struct {
		name           string
		budget         int64
		workers        int
		wantConcurrent int64
	}{
		{"workers bound", 100 << 20, 2, 2},
		{"memory bounds", 32 << 20, 8, 3},
		{"one larger than the budget runs alone", 16 << 20, 4, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := NewHashPool(configs.Auth{HashMemory: tt.budget, HashWorkers: tt.workers})
			need := int64(mem)
			if tt.name == "one larger than the budget runs alone" {
				need = 2 * tt.budget
			}
			var running, peak atomic.Int64
			gate := make(chan struct{})
			var wg sync.WaitGroup
			for range 20 {
				wg.Go(func() {
					err := p.Run(context.Background(), need, func() {
						n := running.Add(1)
						for old := peak.Load(); n > old && !peak.CompareAndSwap(old, n); old = peak.Load() {
						}
						<-gate
						running.Add(-1)
					})
					if err != nil {
						t.Errorf("run: %v", err)
					}
				})
			}
			eventually(t, "the pool full and the rest waiting", func() bool {
				return running.Load() == tt.wantConcurrent && p.waiting.Load() == 20-tt.wantConcurrent
			})
			// A verification whose connect deadline passes while waiting
			// is refused without computing.
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			called := false
			err := p.Run(ctx, need, func() { called = true })
			cancel()
			if mqtt.CodeOf(err) != mqtt.ServerBusy || called {
				t.Errorf("waiting past the deadline: %v (computed: %v), want 0x89 without computing", err, called)
			}
			close(gate)
			wg.Wait()
			if peak.Load() != tt.wantConcurrent {
				t.Errorf("%d hashes ran at once, want %d", peak.Load(), tt.wantConcurrent)
			}
			if p.waiting.Load() != 0 || p.running.Load() != 0 || p.timedOut.Load() != 1 || p.done.Load() != 20 {
				t.Errorf("gauges after: waiting %d, running %d, timed out %d, done %d; want 0, 0, 1, 20",
					p.waiting.Load(), p.running.Load(), p.timedOut.Load(), p.done.Load())
			}
		})
	}
}

// eventually polls cond until it holds, failing the test after 10s.
func eventually(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
