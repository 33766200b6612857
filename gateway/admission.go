package gateway

// Admission limits (connection limits before authentication) are
// gateway/limits'; this is the server's side of them.

import (
	"net"
	"net/netip"
	"time"

	"edgemq/configs"
	"edgemq/gateway/limits"
	"edgemq/gateway/proto"
	"edgemq/listeners"
)

// admissionLog logs admission refusals to the connection-life log
// (proto/connlog.go, sampled: it takes none of the limits' locks).
type admissionLog struct{ cl *proto.ConnLog }

// AdmissionRefused implements limits.RefusalLog.
func (l admissionLog) AdmissionRefused(listener, reason string, remote net.Addr) {
	l.cl.AdmissionRefused(listener, reason, remote)
}

// setListenerAdmission installs the per-IP overrides of cfg's listeners
// (listeners[].limits) on their gates, for a configuration reload: call it
// after the gateway-wide limits are set (limits.Admission.SetLimits).
// Connections are not touched. Safe from any goroutine.
func (s *Server) setListenerAdmission(cfg *configs.Config) { s.adm.SetListeners(cfg) }

// ticketOf returns the connection's admission ticket, or nil.
func ticketOf(m *listeners.Meta) *limits.Ticket { return limits.TicketOf(m) }

// ipOf returns the IP address of a socket's address (limits.IPOf).
func ipOf(addr net.Addr) netip.Addr { return limits.IPOf(addr) }

// releaseTicket releases the connection's ticket, if any.
func releaseTicket(m *listeners.Meta) { limits.Release(m) }

// admissionSnapshot fills the admission part of a Stats snapshot.
func (s *Server) admissionSnapshot(out *Stats) {
	out.AdmissionRefused = s.adm.Refused()
	out.Unauthenticated = s.adm.Unauthenticated()
}

// admissionBusy reports whether a reconnect storm refuses a CONNECT now
// (limits.Admission.Busy), for a connection (connHost).
func (s *Server) admissionBusy() bool { return s.adm.Busy() }

// connectTimeout is the time a new socket has to send CONNECT: the
// profile's, or limits.busy_connect_timeout when shorter while the
// unauthenticated sockets are above the busy high-water mark.
func (s *Server) connectTimeout(profile time.Duration) time.Duration {
	if bt := s.config().Limits.BusyConnectTimeout; bt > 0 && bt < profile && s.adm.OverHighWater() > 0 {
		return bt
	}
	return profile
}
