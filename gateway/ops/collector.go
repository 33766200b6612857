package ops

import (
	"fmt"

	"edgemq/gateway/stats"
	"edgemq/mqtt"

	"github.com/prometheus/client_golang/prometheus"
)

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

// Authentication failures by backend, and the log sampler's drops.
var (
	descAuthByBackend = prometheus.NewDesc("edgemq_auth_backend_failures_total", "Failed authentications by the kind of backend that decided (static, passwd, jwt, http, cert, enhanced, plugin; anonymous: no credentials where some are required; none: no backend knew the user) and reason.", []string{"backend", "reason"}, nil)
	descLogSampled    = prometheus.NewDesc("edgemq_log_sampled_total", "Log entries (connection refusals, authentication failures) dropped by the log sampler.", nil, nil)
)

// collector exports the hot-path counters and the source's counters and
// gauges at scrape time.
type collector struct {
	st  *stats.Counters
	src Source
}

// Describe sends every metric the collector exports (prometheus.Collector).
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descConns, descConnack, descAuthFail, descAuthByBackend, descLogSampled, descAuthDelay, descPktIn, descPktOut, descBytesIn, descBytesOut,
		descMsgsIn, descMsgsOut, descDropped, descSessions, descSubs, descInflight, descQueued, descRetained, descRetBytes, descCertExp} {
		ch <- d
	}
	for _, d := range clusterDescs {
		ch <- d
	}
}

// Collect reads the counters and the source, once per scrape
// (prometheus.Collector).
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	st := c.st
	snap := c.src.Snapshot()
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for k, n := range snap.Connections {
		gauge(descConns, float64(n), k.Listener, k.Transport, stats.VersionLabel(k.Version))
	}
	for i := range 256 {
		if n := st.Pkt.Connack(mqtt.ReasonCode(i)); n > 0 {
			counter(descConnack, n, fmt.Sprintf("0x%02X", i))
		}
	}
	for _, f := range snap.AuthFailures {
		counter(descAuthFail, f.N, f.Reason)
	}
	for _, f := range snap.AuthBackendFailures {
		counter(descAuthByBackend, f.N, f.Backend, f.Reason)
	}
	counter(descLogSampled, snap.LogSampled)
	counter(descAuthDelay, snap.AuthDelayed)
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
	gauge(descSessions, float64(snap.Sessions))
	gauge(descSubs, float64(snap.Subscriptions))
	gauge(descInflight, float64(snap.Inflight))
	gauge(descQueued, float64(snap.Queued))
	gauge(descRetained, float64(snap.Retained))
	gauge(descRetBytes, float64(snap.RetainedBytes))
	collectCluster(ch, snap.Cluster) // cluster.go
	for _, e := range certExpiries(c.src.Health().TLS) {
		gauge(descCertExp, float64(e.notAfter.Unix()), e.source, e.name)
	}
}
