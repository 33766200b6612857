package auth

import (
	"context"
	"fmt"
	"slices"
	"strings"
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

// TestHashPoolTakesTurns: the pool's turns go round the sources
// (WithHashSource). With one worker busy, ten verifications from one
// address queued and then one from another address, the other address's
// runs second, after one of the ten, not after all of them; each
// source's run in the order they came, and a source whose waiter gave up
// loses its place without holding up the others.
func TestHashPoolTakesTurns(t *testing.T) {
	for _, tt := range []struct {
		name     string
		giveUp   bool // a third source's waiter, queued after b, ends its wait first
		wantBAt  int
		wantRuns int
	}{
		{name: "two sources", wantBAt: 1, wantRuns: 12},
		{name: "a waiter gives up", giveUp: true, wantBAt: 1, wantRuns: 12},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := NewHashPool(configs.Auth{HashMemory: 100 << 20, HashWorkers: 1})
			var mu sync.Mutex
			var order []string
			ran := func(name string) func() {
				return func() { mu.Lock(); order = append(order, name); mu.Unlock() }
			}
			var wg sync.WaitGroup
			run := func(source, name string) {
				wg.Go(func() {
					if err := p.Run(WithHashSource(context.Background(), source), 1<<20, ran(name)); err != nil {
						t.Errorf("%s: %v", name, err)
					}
				})
			}
			gate := make(chan struct{})
			wg.Go(func() {
				_ = p.Run(WithHashSource(context.Background(), "10.0.0.9"), 1<<20, func() { <-gate })
			})
			eventually(t, "the worker busy", func() bool { return p.Running() == 1 })
			for i := range 10 {
				run("10.0.0.1", fmt.Sprintf("a%d", i))
				eventually(t, "a's verifications queued in order", func() bool { return p.Waiting() == int64(i+1) })
			}
			run("10.0.0.2", "b")
			eventually(t, "b queued", func() bool { return p.Waiting() == 11 })
			if tt.giveUp {
				ctx, cancel := context.WithCancel(WithHashSource(context.Background(), "10.0.0.3"))
				errc := make(chan error, 1)
				go func() { errc <- p.Run(ctx, 1<<20, ran("c")) }()
				eventually(t, "c queued", func() bool { return p.Waiting() == 12 })
				cancel()
				if err := <-errc; mqtt.CodeOf(err) != mqtt.ServerBusy {
					t.Fatalf("c gave up: %v, want 0x89", err)
				}
			}
			close(gate)
			wg.Wait()
			mu.Lock()
			defer mu.Unlock()
			if len(order) != tt.wantRuns-1 {
				t.Fatalf("ran %v, want %d verifications", order, tt.wantRuns-1)
			}
			if i := slices.Index(order, "b"); i != tt.wantBAt {
				t.Errorf("ran %v: b's turn was %d, want %d", order, i, tt.wantBAt)
			}
			var as []string
			for _, n := range order {
				if strings.HasPrefix(n, "a") {
					as = append(as, n)
				}
			}
			for i, n := range as {
				if n != fmt.Sprintf("a%d", i) {
					t.Fatalf("a's ran as %v, want in the order they came", as)
				}
			}
			if p.Waiting() != 0 || p.Running() != 0 {
				t.Errorf("after: waiting %d, running %d", p.Waiting(), p.Running())
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
