package main

import (
	"context"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// wakeProbeEvery is how long the wake-up probe sleeps at a time.
const wakeProbeEvery = time.Millisecond

// wakeProbe measures the load tool's own wake-up lateness over the
// measured window: a goroutine sleeps wakeProbeEvery at a time and records
// by how much each wake-up came late. It shares the tool's cores with the
// readers and publishers, so its lateness is what a delivery waits on the
// tool's side before a goroutine of the tool runs: the machine's other work
// delaying the tool's thread, and the tool's own goroutines. When its p99
// nears the latencies measured, a fixed-rate run measures the machine
// rather than the broker (BENCHMARKS.md, tail latency).
type wakeProbe struct {
	done chan struct{}
	hist *hdrhistogram.Histogram // microseconds; the probe goroutine's until done
}

// startWakeProbe samples from t0 until t1 or ctx is done; it takes at
// least one sample however late it starts.
func startWakeProbe(ctx context.Context, clk clock, t0, t1 time.Duration) *wakeProbe {
	w := &wakeProbe{done: make(chan struct{}), hist: hdrhistogram.New(1, histMaxUS, histSigFigs)}
	go func() {
		defer close(w.done)
		if sleepUntil(ctx, clk, t0); ctx.Err() != nil {
			return
		}
		t := time.NewTimer(wakeProbeEvery)
		defer t.Stop()
		for {
			due := clk.now() + wakeProbeEvery
			t.Reset(wakeProbeEvery)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			now := clk.now()
			late := min(max(int64((now-due)/time.Microsecond), 0), histMaxUS)
			w.hist.RecordValue(late) //nolint:errcheck // clamped into range
			if now >= t1 {
				return
			}
		}
	}()
	return w
}

// result waits for the probe and returns its lateness at the 99th
// percentile and its maximum, in microseconds, and how many wake-ups it
// sampled.
func (w *wakeProbe) result() (p99, max float64, n int64) {
	<-w.done
	if n = w.hist.TotalCount(); n == 0 {
		return 0, 0, 0
	}
	return float64(w.hist.ValueAtQuantile(99)), float64(w.hist.Max()), n
}
