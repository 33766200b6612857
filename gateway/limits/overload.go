package limits

// Overload protection (the overload section).

import (
	"context"
	rtmetrics "runtime/metrics"
	"sync/atomic"
	"time"

	"edgemq/configs"

	"go.uber.org/zap"
)

// Overload is the gateway-wide overload protection (the overload
// section). A sampler (Run) measures memory and goroutines every
// check_interval and sets the state; while it is on, new clients are
// refused "server busy" after CONNECT (Refuse) and QoS 0 deliveries to
// subscribers with a backlog are shed (Shedding).
//
// Memory is the Go runtime's mapped memory not released to the OS:
// /memory/classes/total:bytes minus /memory/classes/heap/released:bytes
// (runtime/metrics), which follows the resident size of everything the
// runtime allocates (heap, stacks, runtime structures), not only the live
// heap, and is read without stopping the world. The state is entered when
// either measure reaches its mark and left when both are below
// overloadLeave of theirs, so that it does not flap. Its methods are safe
// for concurrent use; it holds atomics only.
type Overload struct {
	cfg     atomic.Pointer[configs.Overload]
	changed chan struct{} // a new cfg; capacity 1
	active  atomic.Bool
	// refused counts clients refused while overloaded; memory and
	// goroutines are the last measures.
	refused    atomic.Int64
	memory     atomic.Int64
	goroutines atomic.Int64
	log        *zap.Logger
}

// overloadLeave is the fraction of the marks below which the overload
// state ends.
const overloadLeave = 0.9

var overloadSamples = [...]string{"/memory/classes/total:bytes", "/memory/classes/heap/released:bytes", "/sched/goroutines:goroutines"}

// NewOverload returns the overload protection of cfg, logging its state
// changes to log. It measures nothing until Run.
func NewOverload(cfg configs.Overload, log *zap.Logger) *Overload {
	g := &Overload{changed: make(chan struct{}, 1), log: log}
	g.cfg.Store(&cfg)
	return g
}

// Set installs the overload section cfg (on a configuration reload); the
// sampler picks it up at once. Connections are not touched.
func (g *Overload) Set(cfg configs.Overload) {
	g.cfg.Store(&cfg)
	select {
	case g.changed <- struct{}{}:
	default:
	}
}

// Active reports whether the gateway is overloaded now.
func (g *Overload) Active() bool { return g.active.Load() }

// Shedding returns the overload state's flag, true while overloaded, for
// a write queue to shed QoS 0 by. The caller only loads it.
func (g *Overload) Shedding() *atomic.Bool { return &g.active }

// Refuse reports whether the gateway is overloaded now, and then counts
// the CONNECT it refuses.
func (g *Overload) Refuse() bool {
	if !g.active.Load() {
		return false
	}
	g.refused.Add(1)
	return true
}

// Refused returns the clients refused while overloaded so far.
func (g *Overload) Refused() int64 { return g.refused.Load() }

// Run samples while the configuration enables it, until ctx ends; a
// disabled configuration has no timer running. It blocks: run it on a
// goroutine of its own.
func (g *Overload) Run(ctx context.Context) {
	samples := make([]rtmetrics.Sample, len(overloadSamples))
	for i, n := range overloadSamples {
		samples[i].Name = n
	}
	t := time.NewTimer(time.Hour)
	t.Stop()
	defer t.Stop()
	for {
		cfg := g.cfg.Load()
		var tick <-chan time.Time
		if cfg.Enabled() {
			g.sample(cfg, samples)
			t.Reset(cfg.CheckInterval)
			tick = t.C
		} else if g.active.Load() {
			g.set(false, cfg, "overload protection turned off")
		}
		select {
		case <-ctx.Done():
			return
		case <-g.changed:
			t.Stop()
		case <-tick:
		}
	}
}

// Start runs Run on a goroutine of its own until ctx ends or the
// returned stop is called; stop waits for it to return.
func (g *Overload) Start(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		g.Run(ctx)
	}()
	return func() { cancel(); <-done }
}

// sample measures and enters or leaves the overload state.
func (g *Overload) sample(cfg *configs.Overload, samples []rtmetrics.Sample) {
	rtmetrics.Read(samples)
	var mem, gor int64
	if samples[0].Value.Kind() == rtmetrics.KindUint64 && samples[1].Value.Kind() == rtmetrics.KindUint64 {
		mem = int64(samples[0].Value.Uint64() - samples[1].Value.Uint64())
	}
	if samples[2].Value.Kind() == rtmetrics.KindUint64 {
		gor = int64(samples[2].Value.Uint64())
	}
	g.memory.Store(mem)
	g.goroutines.Store(gor)
	memHW, gorHW := cfg.MemoryHighWater, int64(cfg.GoroutineHighWater)
	over := (memHW > 0 && mem >= memHW) || (gorHW > 0 && gor >= gorHW)
	if over {
		if !g.active.Load() {
			g.set(true, cfg, "overloaded: refusing new clients, shedding qos 0")
		}
		return
	}
	below := func(v, hw int64) bool { return hw <= 0 || float64(v) < overloadLeave*float64(hw) }
	if g.active.Load() && below(mem, memHW) && below(gor, gorHW) {
		g.set(false, cfg, "overload over")
	}
}

// set changes the state and logs it with the measures.
func (g *Overload) set(on bool, cfg *configs.Overload, msg string) {
	g.active.Store(on)
	g.log.Warn(msg,
		zap.Int64("memory_bytes", g.memory.Load()), zap.Int64("memory_high_water", cfg.MemoryHighWater),
		zap.Int64("goroutines", g.goroutines.Load()), zap.Int("goroutine_high_water", cfg.GoroutineHighWater))
}
