package gateway

import (
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"edgemq/configs"
	"edgemq/listeners"
)

// Admission refusal reasons, counted in Stats.AdmissionRefused.
const (
	refusedMaxConnections  = "max_connections"
	refusedUnauthenticated = "max_unauthenticated"
	refusedPerIP           = "per_ip_connections"
	refusedPerIPRate       = "per_ip_rate"
	refusedGlobalRate      = "global_rate"
	refusedBusy            = "server_busy"
)

var admissionReasons = []string{refusedMaxConnections, refusedUnauthenticated, refusedPerIP, refusedPerIPRate, refusedGlobalRate, refusedBusy}

// bucket is a token bucket; a zero rate never refuses.
type bucket struct {
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
}

func newBucket(rate float64, burst int, now time.Time) bucket {
	return bucket{rate: rate, burst: float64(burst), tokens: float64(burst), last: now}
}

func (b *bucket) refill(now time.Time) {
	if b.rate <= 0 {
		return
	}
	b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	b.last = now
}

// ok reports whether a token is there (after refill).
func (b *bucket) ok() bool { return b.rate <= 0 || b.tokens >= 1 }

func (b *bucket) take() {
	if b.rate > 0 {
		b.tokens--
	}
}

func (b *bucket) full() bool { return b.rate <= 0 || b.tokens >= b.burst }

// ipState is one address's concurrent count and rate bucket.
type ipState struct {
	n int
	b bucket
}

// admission is the gateway's listeners.Gate: the limits of the top-level
// limits section, applied at accept by the socket's peer address.
type admission struct {
	cfg configs.Admission

	mu      sync.Mutex
	perIP   map[netip.Addr]*ipState
	sweepAt int
	global  bucket
	total   int // admitted, not released
	unauth  int // admitted, not yet through CONNACK

	refused [6]atomic.Int64 // by admissionReasons index
}

func newAdmission(cfg configs.Admission) *admission {
	return &admission{cfg: cfg, perIP: make(map[netip.Addr]*ipState), sweepAt: 1024,
		global: newBucket(cfg.Rate.Global, cfg.Rate.GlobalBurst, time.Now())}
}

func (a *admission) count(reason string) {
	for i, r := range admissionReasons {
		if r == reason {
			a.refused[i].Add(1)
		}
	}
}

func ipOf(addr net.Addr) netip.Addr {
	switch v := addr.(type) {
	case *net.TCPAddr:
		ip, _ := netip.AddrFromSlice(v.IP)
		return ip.Unmap()
	case nil:
		return netip.Addr{}
	}
	ap, err := netip.ParseAddrPort(addr.String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// Admit implements listeners.Gate. A proxied socket's per-IP limits
// wait for Rebind with the client's address.
func (a *admission) Admit(peer net.Addr, proxied bool) (listeners.Ticket, bool) {
	ip := ipOf(peer)
	if proxied {
		ip = netip.Addr{}
	}
	now := time.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	reason := ""
	switch {
	case a.cfg.MaxConnections > 0 && a.total >= a.cfg.MaxConnections:
		reason = refusedMaxConnections
	case a.cfg.MaxUnauthenticated > 0 && a.unauth >= a.cfg.MaxUnauthenticated:
		reason = refusedUnauthenticated
	}
	if reason == "" && ip.IsValid() {
		reason = a.checkIP(ip, now)
	}
	if reason == "" {
		a.global.refill(now)
		if !a.global.ok() {
			reason = refusedGlobalRate
		}
	}
	if reason != "" {
		a.count(reason)
		return nil, false
	}
	a.global.take()
	if ip.IsValid() {
		a.takeIP(ip)
	}
	a.total++
	a.unauth++
	return &ticket{a: a, ip: ip, unauth: true}, true
}

// checkIP returns the per-IP refusal reason for ip, or "". a.mu is held.
func (a *admission) checkIP(ip netip.Addr, now time.Time) string {
	st := a.perIP[ip]
	if st == nil {
		if a.cfg.PerIPConnections <= 0 && a.cfg.Rate.PerIP <= 0 {
			return ""
		}
		a.sweep(now)
		st = &ipState{b: newBucket(a.cfg.Rate.PerIP, a.cfg.Rate.PerIPBurst, now)}
		a.perIP[ip] = st
	}
	if a.cfg.PerIPConnections > 0 && st.n >= a.cfg.PerIPConnections {
		return refusedPerIP
	}
	st.b.refill(now)
	if !st.b.ok() {
		return refusedPerIPRate
	}
	return ""
}

// takeIP counts a connection of ip (checked by checkIP). a.mu is held.
func (a *admission) takeIP(ip netip.Addr) {
	if st := a.perIP[ip]; st != nil {
		st.n++
		st.b.take()
	}
}

// releaseIP uncounts a connection of ip. a.mu is held.
func (a *admission) releaseIP(ip netip.Addr) {
	st := a.perIP[ip]
	if st == nil {
		return
	}
	st.n--
	if st.n <= 0 {
		st.b.refill(time.Now())
		if st.b.full() {
			delete(a.perIP, ip)
		}
	}
}

// sweep drops idle addresses whose buckets have refilled once the map
// has grown past sweepAt. a.mu is held.
func (a *admission) sweep(now time.Time) {
	if len(a.perIP) < a.sweepAt {
		return
	}
	for ip, st := range a.perIP {
		if st.n <= 0 {
			st.b.refill(now)
			if st.b.full() {
				delete(a.perIP, ip)
			}
		}
	}
	a.sweepAt = max(1024, 2*len(a.perIP))
}

// overHighWater reports the unauthenticated sockets' fill past the busy
// high-water mark, from 0 (at or below it) to 1 (at the cap).
func (a *admission) overHighWater() float64 {
	hw := a.cfg.BusyHighWater
	if a.cfg.MaxUnauthenticated <= 0 || hw >= 1 || hw <= 0 {
		return 0
	}
	a.mu.Lock()
	u := float64(a.unauth) / float64(a.cfg.MaxUnauthenticated)
	a.mu.Unlock()
	if u <= hw {
		return 0
	}
	return min(1, (u-hw)/(1-hw))
}

// busy decides whether a new client's CONNECT is answered "server busy":
// with the probability overHighWater.
func (a *admission) busy() bool {
	p := a.overHighWater()
	if p > 0 && rand.Float64() < p {
		a.count(refusedBusy)
		return true
	}
	return false
}

// ticket is one admitted connection.
type ticket struct {
	a        *admission
	ip       netip.Addr
	unauth   bool
	released bool
}

// Rebind implements listeners.Ticket: the per-IP limits, again, for the
// real client address behind a trusted proxy.
func (t *ticket) Rebind(real net.Addr) bool {
	ip := ipOf(real)
	a := t.a
	a.mu.Lock()
	defer a.mu.Unlock()
	if t.released || ip == t.ip {
		return true
	}
	if !ip.IsValid() {
		return true
	}
	if reason := a.checkIP(ip, time.Now()); reason != "" {
		a.count(reason)
		return false
	}
	a.takeIP(ip)
	if t.ip.IsValid() {
		a.releaseIP(t.ip)
	}
	t.ip = ip
	return true
}

// authenticated marks the connection through CONNACK.
func (t *ticket) authenticated() {
	a := t.a
	a.mu.Lock()
	if t.unauth && !t.released {
		t.unauth = false
		a.unauth--
	}
	a.mu.Unlock()
}

// Release implements listeners.Ticket.
func (t *ticket) Release() {
	a := t.a
	a.mu.Lock()
	defer a.mu.Unlock()
	if t.released {
		return
	}
	t.released = true
	if t.unauth {
		a.unauth--
	}
	a.total--
	if t.ip.IsValid() {
		a.releaseIP(t.ip)
	}
}

// ticketOf returns the connection's admission ticket, or nil.
func ticketOf(m *listeners.Meta) *ticket {
	if m == nil {
		return nil
	}
	t, _ := m.Ticket.(*ticket)
	return t
}

// releaseTicket releases the connection's ticket, if any.
func releaseTicket(m *listeners.Meta) {
	if m != nil && m.Ticket != nil {
		m.Ticket.Release()
	}
}

// admissionStats fills the admission part of a Stats snapshot.
func (a *admission) snapshot(out *Stats) {
	out.AdmissionRefused = make(map[string]int64, len(admissionReasons))
	for i, r := range admissionReasons {
		out.AdmissionRefused[r] = a.refused[i].Load()
	}
	a.mu.Lock()
	out.Unauthenticated = a.unauth
	a.mu.Unlock()
}

// connectTimeout is the time a new socket has to send CONNECT: the
// profile's, or limits.busy_connect_timeout when shorter while the
// unauthenticated sockets are above the busy high-water mark.
func (s *Server) connectTimeout(profile time.Duration) time.Duration {
	if bt := s.cfg.Limits.BusyConnectTimeout; bt > 0 && bt < profile && s.adm.overHighWater() > 0 {
		return bt
	}
	return profile
}
