package gateway

// The ops endpoints and metrics (package ops) over this server: the ops
// listener's life; opsSource, the adapter implementing ops.Source; and
// the collectors of the concerns' own counters (quota refusals, publish
// rate limiting, overload), registered next to package ops' collector.
// (The session takeover refusals' collector is takeoverCollector, with
// the engine's assembly in engine.go.)
// The adapter takes each lock alone, briefly, and copies out: Server.mu
// to list the connections, registry.mu then each session.mu in turn
// (registry.gauges), retainedStore.mu, Server.srcMu for the certificate
// sources.

import (
	"net"
	"time"

	"edgemq/gateway/auth"
	"edgemq/gateway/broker"
	"edgemq/gateway/ops"

	"github.com/prometheus/client_golang/prometheus"
)

// newOps binds the ops listener when ops.address is set.
func (s *Server) newOps() error {
	addr := s.config().Ops.Address
	if addr == "" {
		return nil
	}
	o, err := ops.Listen(addr, s.metrics, opsSource{s}, s.log)
	if err != nil {
		return err
	}
	s.ops = o
	return nil
}

// OpsAddr returns the bound address of the ops listener, or nil.
func (s *Server) OpsAddr() net.Addr {
	if s.ops == nil {
		return nil
	}
	return s.ops.Addr()
}

// startOps serves the ops listener until the returned stop is called.
func (s *Server) startOps() (stop func()) {
	if s.ops == nil {
		return func() {}
	}
	return s.ops.Start(opsURLFields(s.config().Ops.Address, s.ops.Addr())...) // endpoints.go
}

// closeOps closes an ops listener that was bound but never served.
func (s *Server) closeOps() {
	if s.ops != nil {
		s.ops.Close()
	}
}

// observeConnect records a CONNECT-to-CONNACK duration on listener, for
// a connection (connHost).
func (s *Server) observeConnect(listener string, d time.Duration) {
	s.metrics.ObserveConnect(listener, d)
}

// opsSource implements ops.Source over s.
type opsSource struct{ s *Server }

// Snapshot implements ops.Source.
func (o opsSource) Snapshot() ops.Snapshot {
	s := o.s
	st := s.eng.Stats()
	snap := ops.Snapshot{
		Connections:         map[ops.ConnLabels]int{},
		AuthFailures:        make([]ops.ReasonCount, 0, int(auth.FailReasons)),
		AuthBackendFailures: make([]ops.BackendCount, 0, int(auth.Kinds)*int(auth.FailReasons)),
	}
	// Connections: every listener × transport × version seen.
	for _, cn := range s.connections() {
		ch := cn.Channel()
		v := ch.Version() // 0 until connected
		if v == 0 {
			continue
		}
		m := ch.Meta()
		snap.Connections[ops.ConnLabels{Listener: m.Listener, Transport: string(m.Transport), Version: v}]++
	}
	for r := range auth.FailReasons {
		snap.AuthFailures = append(snap.AuthFailures, ops.ReasonCount{Reason: r.String(), N: st.Auth.Failures(r)})
	}
	for b := range auth.Kinds {
		for r := range auth.FailReasons {
			snap.AuthBackendFailures = append(snap.AuthBackendFailures, ops.BackendCount{Backend: b.String(), Reason: r.String(), N: st.Auth.FailuresBy(b, r)})
		}
	}
	snap.AuthDelayed = st.Auth.Delayed()
	snap.LogSampled = s.eng.ConnLog().Dropped() // proto/connlog.go
	snap.Sessions, snap.Subscriptions, snap.Inflight, snap.Queued = s.eng.Broker().Gauges()
	snap.Retained, snap.RetainedBytes = s.eng.Broker().RetainedSize()
	snap.Cluster = s.clusterOps() // cluster.go
	return snap
}

// Health implements ops.Source.
func (o opsSource) Health() ops.Health {
	s := o.s
	h := ops.Health{Listeners: make([]ops.Listener, 0, len(s.lsts))}
	for _, l := range s.lsts {
		h.Listeners = append(h.Listeners, ops.Listener{Name: l.cfg.Name, Up: l.up.Load()})
	}
	srcs, tlsCfg := s.tlsSources() // reload.go
	for name, src := range srcs {
		h.TLS = append(h.TLS, ops.TLSSource{Name: name, Config: tlsCfg[name], Source: src})
	}
	h.StoreClosed = s.storeClosed.Load()
	h.Draining = s.isDraining()
	h.Cluster = s.clusterOps() // cluster.go
	return h
}

var descQuotaRefused = prometheus.NewDesc("edgemq_quota_refused_total",
	"Requests refused by a quota: subscriptions, subscription_bytes, sessions_per_ip, sessions_per_user, retained_per_client, retained_topic_length, retained_messages, retained_bytes.",
	[]string{"quota"}, nil)

// quotaCollector exports the quota refusals; the quotas themselves are
// the broker's (broker/quota.go, broker/retained_quota.go).
type quotaCollector struct{ q *broker.Quotas }

func (c quotaCollector) Describe(ch chan<- *prometheus.Desc) { ch <- descQuotaRefused }

func (c quotaCollector) Collect(ch chan<- prometheus.Metric) {
	for k := range broker.QuotaKinds {
		ch <- prometheus.MustNewConstMetric(descQuotaRefused, prometheus.CounterValue, float64(c.q.Refused(k)), k.String())
	}
}

var (
	descOverloaded      = prometheus.NewDesc("edgemq_overloaded", "1 while the gateway is overloaded (overload section), else 0.", nil, nil)
	descOverloadRefused = prometheus.NewDesc("edgemq_overload_refused_total", "Clients refused server busy after CONNECT while overloaded.", nil, nil)
)

var descRateLimited = prometheus.NewDesc("edgemq_rate_limited_total",
	"PUBLISH packets over a client's publish_rate, by listener and action (backpressure: delayed; disconnect: the client was disconnected).",
	[]string{"listener", "action"}, nil)

// limitCollector exports the rate limiting and overload metrics
// (gateway/limits' counters).
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
