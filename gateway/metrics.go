package gateway

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"time"

	"edgemq/gateway/stats"
	"edgemq/mqtt"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// handshakeObserver records the TLS handshake durations a tls listener
// reports (listeners.Config.OnHandshake).
func (m *metrics) handshakeObserver(listener string) func(time.Duration) {
	obs := m.tlsHandshake.WithLabelValues(listener)
	return func(d time.Duration) { obs.Observe(d.Seconds()) }
}

// timeHandshakes returns base with the TLS handshakes of listener timed,
// from the ClientHello to the end of the handshake (VerifyConnection):
// for wss listeners, whose handshakes net/http runs (tls listeners report
// theirs, handshakeObserver).
// Each handshake gets a clone of the configuration in force, so that
// certificates still change behind base (GetCertificate).
func (m *metrics) timeHandshakes(listener string, base *tls.Config) *tls.Config {
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

// metrics is the Prometheus view of a Server.
type metrics struct {
	reg            *prometheus.Registry
	connectLatency *prometheus.HistogramVec // CONNECT to CONNACK, by listener
	tlsHandshake   *prometheus.HistogramVec // by listener
}

func newMetrics(s *Server) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
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
		&collector{s: s},
	)
	return m
}

// observeConnect records a CONNECT-to-CONNACK duration on listener, for
// a connection (connHost).
func (s *Server) observeConnect(listener string, d time.Duration) {
	s.metrics.observeConnect(listener, d)
}

// observeConnect records a CONNECT-to-CONNACK duration.
func (m *metrics) observeConnect(listener string, d time.Duration) {
	if m != nil {
		m.connectLatency.WithLabelValues(listener).Observe(d.Seconds())
	}
}

var (
	descConns     = prometheus.NewDesc("edgemq_connections", "Connected clients by listener, transport and protocol version.", []string{"listener", "transport", "protocol_version"}, nil)
	descConnack   = prometheus.NewDesc("edgemq_connack_total", "CONNACKs sent by reason code (v5 code, hex).", []string{"reason_code"}, nil)
	descAuthFail  = prometheus.NewDesc("edgemq_auth_failures_total", "Failed authentications by reason.", []string{"reason"}, nil)
	descAuthDelay = prometheus.NewDesc("edgemq_auth_delayed_total", "Refusals held back by brute-force protection.", nil, nil)
	descPktIn     = prometheus.NewDesc("edgemq_packets_received_total", "MQTT packets received by type.", []string{"type"}, nil)
	descPktOut    = prometheus.NewDesc("edgemq_packets_sent_total", "MQTT packets sent by type.", []string{"type"}, nil)
	descBytesIn   = prometheus.NewDesc("edgemq_received_payload_bytes_total", "Application payload bytes of PUBLISH received.", nil, nil)
	descBytesOut  = prometheus.NewDesc("edgemq_sent_bytes_total", "Encoded bytes sent by packet type (PUBLISH: header and payload).", []string{"type"}, nil)
	descMsgsIn    = prometheus.NewDesc("edgemq_messages_received_total", "Application messages received (PUBLISH in).", nil, nil)
	descMsgsOut   = prometheus.NewDesc("edgemq_messages_routed_total", "Message copies routed to subscribers (a copy may still be dropped; see edgemq_messages_dropped_total).", nil, nil)
	descDropped   = prometheus.NewDesc("edgemq_messages_dropped_total", "Messages not delivered, by reason.", []string{"reason"}, nil)
	descSessions  = prometheus.NewDesc("edgemq_sessions", "Sessions (connected and offline).", nil, nil)
	descSubs      = prometheus.NewDesc("edgemq_subscriptions", "Subscriptions over all sessions.", nil, nil)
	descInflight  = prometheus.NewDesc("edgemq_inflight_messages", "Outbound QoS 1/2 messages awaiting acknowledgement.", nil, nil)
	descQueued    = prometheus.NewDesc("edgemq_queued_messages", "QoS 1/2 messages queued for the inflight window or an offline session.", nil, nil)
	descRetained  = prometheus.NewDesc("edgemq_retained_messages", "Retained messages.", nil, nil)
	descRetBytes  = prometheus.NewDesc("edgemq_retained_bytes", "Payload bytes of retained messages.", nil, nil)
	descCertExp   = prometheus.NewDesc("edgemq_certificate_expiry_timestamp_seconds", "NotAfter of the leaf certificate, unix seconds, by tls source and name.", []string{"source", "name"}, nil)
)

// Authentication failures by backend (auth_chain.go), and the log
// sampler's drops (connlog.go).
var (
	descAuthByBackend = prometheus.NewDesc("edgemq_auth_backend_failures_total", "Failed authentications by the kind of backend that decided (static, passwd, jwt, http, cert, enhanced, plugin; anonymous: no credentials where some are required; none: no backend knew the user) and reason.", []string{"backend", "reason"}, nil)
	descLogSampled    = prometheus.NewDesc("edgemq_log_sampled_total", "Log entries (connection refusals, authentication failures) dropped by the log sampler.", nil, nil)
)

// collector exports the engine's atomic counters and computed gauges at
// scrape time.
type collector struct{ s *Server }

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descConns, descConnack, descAuthFail, descAuthByBackend, descLogSampled, descAuthDelay, descPktIn, descPktOut, descBytesIn, descBytesOut,
		descMsgsIn, descMsgsOut, descDropped, descSessions, descSubs, descInflight, descQueued, descRetained, descRetBytes, descCertExp} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	s := c.s
	st := s.eng.stats
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	// Connections: every listener × transport × version seen, plus a
	// zero series per listener so that the gauge exists before traffic.
	type key struct{ l, t, v string }
	conns := map[key]int{}
	for _, cn := range s.connections() {
		v := mqtt.Version(cn.ch.kickVersion.Load()) // 0 until connected
		if v == 0 {
			continue
		}
		conns[key{cn.lst.cfg.Name, string(cn.ch.meta.Transport), versionLabel(v)}]++
	}
	for k, n := range conns {
		gauge(descConns, float64(n), k.l, k.t, k.v)
	}
	for i := range 256 {
		if n := st.Pkt.Connack(mqtt.ReasonCode(i)); n > 0 {
			counter(descConnack, n, fmt.Sprintf("0x%02X", i))
		}
	}
	for i, n := range authFailNames {
		counter(descAuthFail, st.auth.failures[i].Load(), n)
	}
	for b := range authBackends {
		for i, n := range authFailNames {
			counter(descAuthByBackend, st.auth.byBackend[b][i].Load(), b.String(), n)
		}
	}
	counter(descLogSampled, s.eng.clog.droppedEntries()) // connlog.go
	counter(descAuthDelay, st.auth.delayed.Load())
	for t := mqtt.CONNECT; t <= mqtt.AUTH; t++ {
		name := t.String()
		counter(descPktIn, st.Pkt.In(t), name)
		counter(descPktOut, st.Pkt.Out(t), name)
		counter(descBytesOut, st.Pkt.BytesOut(t), name)
	}
	counter(descBytesIn, st.BytesIn.Load())
	counter(descMsgsIn, st.MsgsIn.Load())
	counter(descMsgsOut, st.MsgsOut.Load())
	for _, r := range stats.DropReasons() {
		counter(descDropped, st.Dropped(r), r.String())
	}
	sessions, subs, inflight, queued := s.eng.broker.Gauges()
	gauge(descSessions, float64(sessions))
	gauge(descSubs, float64(subs))
	gauge(descInflight, float64(inflight))
	gauge(descQueued, float64(queued))
	rn, rb := s.eng.broker.RetainedSize()
	gauge(descRetained, float64(rn))
	gauge(descRetBytes, float64(rb))
	for _, e := range s.certExpiries() {
		gauge(descCertExp, float64(e.notAfter.Unix()), e.source, e.name)
	}
}

func versionLabel(v mqtt.Version) string {
	switch v {
	case mqtt.V5:
		return "5"
	case mqtt.V311:
		return "3.1.1"
	case mqtt.V31:
		return "3.1"
	}
	return "unknown"
}

type certExpiry struct {
	source, name string
	notAfter     time.Time
}

// certExpiries returns the leaf expiry of the certificates of the file
// and self-signed sources (ACME sources are not asked: asking may start
// an issuance).
func (s *Server) certExpiries() []certExpiry {
	var out []certExpiry
	srcs, tlsCfg := s.tlsSources() // reload.go
	for name, src := range srcs {
		cfg := tlsCfg[name]
		switch cfg.Source {
		case "certmagic", "autocert":
			continue
		}
		if len(cfg.Files) > 0 {
			for _, f := range cfg.Files {
				if leaf, err := leafFromFile(f.Cert); err == nil {
					out = append(out, certExpiry{name, leafName(leaf), leaf.NotAfter})
				}
			}
			continue
		}
		if leaf := leafOf(src.TLSConfig()); leaf != nil {
			out = append(out, certExpiry{name, leafName(leaf), leaf.NotAfter})
		}
	}
	return out
}

func leafOf(cfg *tls.Config) *x509.Certificate {
	if cfg == nil {
		return nil
	}
	var c *tls.Certificate
	switch {
	case cfg.GetCertificate != nil:
		c, _ = cfg.GetCertificate(&tls.ClientHelloInfo{})
	case len(cfg.Certificates) > 0:
		c = &cfg.Certificates[0]
	}
	if c == nil || len(c.Certificate) == 0 {
		return nil
	}
	if c.Leaf != nil {
		return c.Leaf
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		return nil
	}
	return leaf
}

func leafFromFile(path string) (*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return nil, fmt.Errorf("%s: no certificate", path)
		}
		if blk.Type == "CERTIFICATE" {
			return x509.ParseCertificate(blk.Bytes)
		}
	}
}

func leafName(c *x509.Certificate) string {
	if len(c.DNSNames) > 0 {
		return c.DNSNames[0]
	}
	if c.Subject.CommonName != "" {
		return c.Subject.CommonName
	}
	return "unknown"
}
