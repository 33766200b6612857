package ops

import (
	"crypto/tls"
	"time"

	"edgemq/gateway/stats"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"
)

// Metrics is the Prometheus view of a server: its registry, the latency
// histograms the connection path observes, and the collector of the
// server's counters and gauges. Its methods are safe for concurrent use.
type Metrics struct {
	reg            *prometheus.Registry
	connectLatency *prometheus.HistogramVec // CONNECT to CONNACK, by listener
	tlsHandshake   *prometheus.HistogramVec // by listener
}

// NewMetrics builds the registry of a server counting into counters and
// described by src, which is read at each scrape.
func NewMetrics(counters *stats.Counters, src Source) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.connectLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "edgemq_connect_duration_seconds",
		Help:    "Time from a CONNECT read to its CONNACK being queued (or refusal), by listener.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"listener"})
	m.tlsHandshake = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "edgemq_tls_handshake_duration_seconds",
		Help:    "TLS handshake duration, by listener.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"listener"})
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.connectLatency, m.tlsHandshake,
		&collector{st: counters, src: src},
	)
	return m
}

// MustRegister registers the collectors of other concerns; it panics on
// a collector that is invalid or collides with one registered, as
// prometheus.Registry.MustRegister does.
func (m *Metrics) MustRegister(cs ...prometheus.Collector) { m.reg.MustRegister(cs...) }

// Gather collects the samples /metrics shows (prometheus.Gatherer).
func (m *Metrics) Gather() ([]*dto.MetricFamily, error) { return m.reg.Gather() }

// ObserveConnect records a CONNECT-to-CONNACK duration on listener. It
// takes no lock of ours; a nil Metrics records nothing.
func (m *Metrics) ObserveConnect(listener string, d time.Duration) {
	if m != nil {
		m.connectLatency.WithLabelValues(listener).Observe(d.Seconds())
	}
}

// HandshakeObserver returns what records the TLS handshake durations a
// tls listener reports (listeners.Config.OnHandshake).
func (m *Metrics) HandshakeObserver(listener string) func(time.Duration) {
	obs := m.tlsHandshake.WithLabelValues(listener)
	return func(d time.Duration) { obs.Observe(d.Seconds()) }
}

// TimeHandshakes returns base with the TLS handshakes of listener timed,
// from the ClientHello to the end of the handshake (VerifyConnection):
// for wss listeners, whose handshakes net/http runs (tls listeners report
// theirs, HandshakeObserver). Each handshake gets a clone of the
// configuration in force, so that certificates still change behind base
// (GetCertificate).
func (m *Metrics) TimeHandshakes(listener string, base *tls.Config) *tls.Config {
	if base == nil {
		return nil
	}
	obs := m.tlsHandshake.WithLabelValues(listener)
	cfg := base.Clone()
	cfg.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		start := time.Now()
		use := base
		if base.GetConfigForClient != nil {
			c, err := base.GetConfigForClient(hello)
			if err != nil {
				return nil, err
			}
			if c != nil {
				use = c
			}
		}
		per := use.Clone()
		per.GetConfigForClient = nil
		verify := use.VerifyConnection
		per.VerifyConnection = func(cs tls.ConnectionState) error {
			if verify != nil {
				if err := verify(cs); err != nil {
					return err
				}
			}
			obs.Observe(time.Since(start).Seconds())
			return nil
		}
		return per, nil
	}
	return cfg
}
