package gateway

// Overload protection is gateway/limits'; this is the server's side of it
// and the metrics of the rate limits and the overload state.

import (
	"context"

	"edgemq/configs"

	"github.com/prometheus/client_golang/prometheus"
)

// setOverload installs the overload section of cfg (at start and on a
// configuration reload); the sampler picks it up at once. Connections are
// not touched. Safe from any goroutine.
func (s *Server) setOverload(cfg *configs.Config) { s.overload.Set(cfg.Overload) }

// overloaded reports whether the gateway is overloaded now.
func (s *Server) overloaded() bool { return s.overload.Active() }

// refuseOverloaded reports whether the gateway is overloaded now, and
// then counts the CONNECT it refuses (connHost).
func (s *Server) refuseOverloaded() bool { return s.overload.Refuse() }

// startOverload runs the sampler until ctx ends or the returned stop is
// called; stop waits for it.
func (s *Server) startOverload(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.overload.Run(ctx)
	}()
	return func() { cancel(); <-done }
}

var (
	descOverloaded      = prometheus.NewDesc("edgemq_overloaded", "1 while the gateway is overloaded (overload section), else 0.", nil, nil)
	descOverloadRefused = prometheus.NewDesc("edgemq_overload_refused_total", "Clients refused server busy after CONNECT while overloaded.", nil, nil)
)

var descRateLimited = prometheus.NewDesc("edgemq_rate_limited_total",
	"PUBLISH packets over a client's publish_rate, by listener and action (backpressure: delayed; disconnect: the client was disconnected).",
	[]string{"listener", "action"}, nil)

// limitCollector exports the rate limiting and overload metrics.
type limitCollector struct{ s *Server }

func (c limitCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descRateLimited
	ch <- descOverloaded
	ch <- descOverloadRefused
}

func (c limitCollector) Collect(ch chan<- prometheus.Metric) {
	c.s.rlim.EachLimited(func(listener, action string, n int64) {
		ch <- prometheus.MustNewConstMetric(descRateLimited, prometheus.CounterValue, float64(n), listener, action)
	})
	g := c.s.overload
	v := 0.0
	if g.Active() {
		v = 1
	}
	ch <- prometheus.MustNewConstMetric(descOverloaded, prometheus.GaugeValue, v)
	ch <- prometheus.MustNewConstMetric(descOverloadRefused, prometheus.CounterValue, float64(g.Refused()))
}

// limitsSnapshot fills the rate limit and overload part of Stats.
func (s *Server) limitsSnapshot(out *Stats) {
	out.RateLimited = s.rlim.Limited()
	out.Overloaded = s.overload.Active()
	out.OverloadRefused = s.overload.Refused()
}
