package gateway

import (
	"math/rand/v2"
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"edgemq/configs"
	"edgemq/gateway/internal/lockorder"
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

var admissionReasons = [...]string{refusedMaxConnections, refusedUnauthenticated, refusedPerIP, refusedPerIPRate, refusedGlobalRate, refusedBusy}

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
// limits section, applied at accept by the socket's peer address. A
// listener with its own per-IP limits (listeners[].limits) has a
// listenerGate instead, sharing everything but the per-IP table.
type admission struct {
	cfg configs.Admission
	// log logs refusals, sampled (connlog.go); nil logs nothing. Set
	// before the listeners start.
	log *connLog

	mu     lockorder.Mutex[admissionMu]
	ips    ipTable // the per-IP limits of listeners without their own
	global bucket
	total  int // admitted, not released
	unauth int // admitted, not yet through CONNACK
	// gates are the listeners' gates by name (gateFor).
	gates map[string]*listenerGate

	refused [len(admissionReasons)]atomic.Int64 // by admissionReasons index
}

// ipTable is a set of per-IP limits and the addresses they count;
// admission.mu guards it.
type ipTable struct {
	conns   int     // per_ip_connections; 0: no limit
	rate    float64 // rate.per_ip; 0: no limit
	burst   int
	perIP   map[netip.Addr]*ipState
	sweepAt int
}

func newIPTable(a configs.Admission) ipTable {
	return ipTable{conns: a.PerIPConnections, rate: a.Rate.PerIP, burst: a.Rate.PerIPBurst,
		perIP: make(map[netip.Addr]*ipState), sweepAt: 1024}
}

func newAdmission(cfg configs.Admission) *admission {
	return &admission{cfg: cfg, ips: newIPTable(cfg),
		global: newBucket(cfg.Rate.Global, cfg.Rate.GlobalBurst, time.Now())}
}

// set replaces the table's limits (a reload): the addresses' counts are
// kept, their buckets take the new rate and burst (bucket.retune,
// reload.go). admission.mu is held.
func (t *ipTable) set(lim configs.Admission) {
	now := time.Now()
	t.conns, t.rate, t.burst = lim.PerIPConnections, lim.Rate.PerIP, lim.Rate.PerIPBurst
	for _, st := range t.perIP {
		st.b.retune(t.rate, t.burst, now)
	}
}

// listenerGate is the listeners.Gate of one listener: the gateway-wide
// limits are admission's; the per-IP ones are those of ips, admission's
// own table or, for a listener with per-IP limits of its own
// (listeners[].limits), a table of its own, counted apart from the other
// listeners. Refusals are logged with the listener's name.
type listenerGate struct {
	a        *admission
	listener string
	// own is the listener's per-IP table, nil for admission's;
	// admission.mu guards it.
	own *ipTable
}

// Admit implements listeners.Gate.
func (g *listenerGate) Admit(peer net.Addr, proxied bool) (listeners.Ticket, bool) {
	return g.a.admit(peer, proxied, g)
}

// gateFor returns the gate of listener, with the per-IP limits of lim
// (configs.Config.AdmissionFor the listener).
func (a *admission) gateFor(listener string, lim configs.Admission) listeners.Gate {
	g := &listenerGate{a: a, listener: listener}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.gates == nil {
		a.gates = make(map[string]*listenerGate)
	}
	a.gates[listener] = g
	g.setLocked(lim)
	return g
}

// setLocked gives the gate lim's per-IP limits: admission's table when
// they are the global ones, else a table of its own (kept, with its
// counts, when it has one). Connections already counted in a table are
// released there. a.mu is held.
func (g *listenerGate) setLocked(lim configs.Admission) {
	a := g.a
	switch {
	case lim.PerIPConnections == a.cfg.PerIPConnections && lim.Rate.PerIP == a.cfg.Rate.PerIP && lim.Rate.PerIPBurst == a.cfg.Rate.PerIPBurst:
		g.own = nil
	case g.own == nil:
		t := newIPTable(lim)
		g.own = &t
	default:
		g.own.set(lim)
	}
}

// setListenerAdmission installs the per-IP overrides of cfg's listeners
// (listeners[].limits) on their gates, for a configuration reload: call it
// after the gateway-wide limits are set (admission.setLimits), since a
// listener without overrides, or with partial ones, follows those.
// Connections are not touched. Safe from any goroutine.
func (s *Server) setListenerAdmission(cfg *configs.Config) {
	a := s.adm
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, lc := range cfg.Listeners {
		if g := a.gates[lc.Name]; g != nil {
			g.setLocked(cfg.AdmissionFor(lc))
		}
	}
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
	return a.admit(peer, proxied, nil)
}

// admit is Admit through gate g (nil: admission's own per-IP limits).
func (a *admission) admit(peer net.Addr, proxied bool, g *listenerGate) (listeners.Ticket, bool) {
	listener := ""
	if g != nil {
		listener = g.listener
	}
	ip := ipOf(peer)
	if proxied {
		ip = netip.Addr{}
	}
	now := time.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	tab := &a.ips
	if g != nil && g.own != nil {
		tab = g.own
	}
	reason := ""
	switch {
	case a.cfg.MaxConnections > 0 && a.total >= a.cfg.MaxConnections:
		reason = refusedMaxConnections
	case a.cfg.MaxUnauthenticated > 0 && a.unauth >= a.cfg.MaxUnauthenticated:
		reason = refusedUnauthenticated
	}
	if reason == "" && ip.IsValid() {
		reason = tab.checkIP(ip, now)
	}
	if reason == "" {
		a.global.refill(now)
		if !a.global.ok() {
			reason = refusedGlobalRate
		}
	}
	if reason != "" {
		a.count(reason)
		a.log.admissionRefused(listener, reason, peer) // sampled: takes none of our locks
		return nil, false
	}
	a.global.take()
	if ip.IsValid() {
		tab.takeIP(ip)
	}
	a.total++
	a.unauth++
	return &ticket{a: a, tab: tab, listener: listener, ip: ip, unauth: true}, true
}

// checkIP returns the per-IP refusal reason for ip, or "". a.mu is held.
func (a *ipTable) checkIP(ip netip.Addr, now time.Time) string {
	st := a.perIP[ip]
	if st == nil {
		if a.conns <= 0 && a.rate <= 0 {
			return ""
		}
		a.sweep(now)
		st = &ipState{b: newBucket(a.rate, a.burst, now)}
		a.perIP[ip] = st
	}
	if a.conns > 0 && st.n >= a.conns {
		return refusedPerIP
	}
	st.b.refill(now)
	if !st.b.ok() {
		return refusedPerIPRate
	}
	return ""
}

// takeIP counts a connection of ip (checked by checkIP). a.mu is held.
func (a *ipTable) takeIP(ip netip.Addr) {
	if st := a.perIP[ip]; st != nil {
		st.n++
		st.b.take()
	}
}

// releaseIP uncounts a connection of ip. a.mu is held.
func (a *ipTable) releaseIP(ip netip.Addr) {
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
func (a *ipTable) sweep(now time.Time) {
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
	a.mu.Lock() // cfg too: a reload replaces it (setLimits, reload.go)
	hw, max, unauth := a.cfg.BusyHighWater, a.cfg.MaxUnauthenticated, a.unauth
	a.mu.Unlock()
	if max <= 0 || hw >= 1 || hw <= 0 {
		return 0
	}
	u := float64(unauth) / float64(max)
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
	tab      *ipTable // the per-IP limits it is counted in
	listener string
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
	if reason := t.tab.checkIP(ip, time.Now()); reason != "" {
		a.count(reason)
		a.log.admissionRefused(t.listener, reason, real)
		return false
	}
	t.tab.takeIP(ip)
	if t.ip.IsValid() {
		t.tab.releaseIP(t.ip)
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
		t.tab.releaseIP(t.ip)
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

// admissionBusy reports whether a reconnect storm refuses a CONNECT now
// (admission.busy), for a connection (connHost).
func (s *Server) admissionBusy() bool { return s.adm.busy() }

// connectTimeout is the time a new socket has to send CONNECT: the
// profile's, or limits.busy_connect_timeout when shorter while the
// unauthenticated sockets are above the busy high-water mark.
func (s *Server) connectTimeout(profile time.Duration) time.Duration {
	if bt := s.config().Limits.BusyConnectTimeout; bt > 0 && bt < profile && s.adm.overHighWater() > 0 {
		return bt
	}
	return profile
}
