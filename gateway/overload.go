package gateway

import (
	"context"
	rtmetrics "runtime/metrics"
	"sync/atomic"
	"time"

	"edgemq/configs"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

// overloadGuard is the gateway-wide overload protection (the overload
// section). A sampler goroutine measures memory and goroutines every
// check_interval and sets active; while it is set, new clients are
// refused "server busy" after CONNECT (conn.handshake) and QoS 0
// deliveries to subscribers with a backlog are shed (writeQueue.push).
//
// Memory is the Go runtime's mapped memory not released to the OS:
// /memory/classes/total:bytes minus /memory/classes/heap/released:bytes
// (runtime/metrics), which follows the resident size of everything the
// runtime allocates (heap, stacks, runtime structures), not only the live
// heap, and is read without stopping the world. The state is entered when
// either measure reaches its mark and left when both are below
// overloadLeave of theirs, so that it does not flap.
type overloadGuard struct {
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

func newOverloadGuard(cfg configs.Overload, log *zap.Logger) *overloadGuard {
	g := &overloadGuard{changed: make(chan struct{}, 1), log: log}
	g.cfg.Store(&cfg)
	return g
}

// setOverload installs the overload section of cfg (at start and on a
// configuration reload); the sampler picks it up at once. Connections are
// not touched. Safe from any goroutine.
func (s *Server) setOverload(cfg *configs.Config) {
	o := cfg.Overload
	s.overload.cfg.Store(&o)
	select {
	case s.overload.changed <- struct{}{}:
	default:
	}
}

// overloaded reports whether the gateway is overloaded now.
func (s *Server) overloaded() bool { return s.overload.active.Load() }

// refuseOverloaded reports whether the gateway is overloaded now, and
// then counts the CONNECT it refuses (connHost).
func (s *Server) refuseOverloaded() bool {
	if !s.overloaded() {
		return false
	}
	s.overload.refused.Add(1)
	return true
}

// startOverload runs the sampler until ctx ends or the returned stop is
// called; stop waits for it.
func (s *Server) startOverload(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.overload.run(ctx)
	}()
	return func() { cancel(); <-done }
}

// run samples while the configuration enables it; a disabled
// configuration has no timer running.
func (g *overloadGuard) run(ctx context.Context) {
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

// sample measures and enters or leaves the overload state.
func (g *overloadGuard) sample(cfg *configs.Overload, samples []rtmetrics.Sample) {
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
func (g *overloadGuard) set(on bool, cfg *configs.Overload, msg string) {
	g.active.Store(on)
	g.log.Warn(msg,
		zap.Int64("memory_bytes", g.memory.Load()), zap.Int64("memory_high_water", cfg.MemoryHighWater),
		zap.Int64("goroutines", g.goroutines.Load()), zap.Int("goroutine_high_water", cfg.GoroutineHighWater))
}

var (
	descOverloaded      = prometheus.NewDesc("edgemq_overloaded", "1 while the gateway is overloaded (overload section), else 0.", nil, nil)
	descOverloadRefused = prometheus.NewDesc("edgemq_overload_refused_total", "Clients refused server busy after CONNECT while overloaded.", nil, nil)
)

func (g *overloadGuard) collect(ch chan<- prometheus.Metric) {
	v := 0.0
	if g.active.Load() {
		v = 1
	}
	ch <- prometheus.MustNewConstMetric(descOverloaded, prometheus.GaugeValue, v)
	ch <- prometheus.MustNewConstMetric(descOverloadRefused, prometheus.CounterValue, float64(g.refused.Load()))
}

// limitCollector exports the rate limiting and overload metrics.
type limitCollector struct{ s *Server }

func (c limitCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descRateLimited
	ch <- descOverloaded
	ch <- descOverloadRefused
}

func (c limitCollector) Collect(ch chan<- prometheus.Metric) {
	c.s.rlim.collect(ch)
	c.s.overload.collect(ch)
}

// limitsSnapshot fills the rate limit and overload part of Stats.
func (s *Server) limitsSnapshot(out *Stats) {
	s.rlim.snapshot(out)
	out.Overloaded = s.overload.active.Load()
	out.OverloadRefused = s.overload.refused.Load()
}
