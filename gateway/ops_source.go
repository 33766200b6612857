package gateway

// The ops endpoints and metrics (package ops) over this server: the ops
// listener's life, and opsSource, the adapter implementing ops.Source.
// The adapter takes each lock alone, briefly, and copies out: Server.mu
// to list the connections, registry.mu then each session.mu in turn
// (registry.gauges), retainedStore.mu, Server.srcMu for the certificate
// sources.

import (
	"net"
	"time"

	"edgemq/gateway/auth"
	"edgemq/gateway/ops"
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
	return h
}
