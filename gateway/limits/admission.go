package limits

// Admission: the connection limits of the limits section, applied at
// accept by the socket's peer address, before authentication.

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

// Admission refusal reasons, the keys of Admission.Refused.
const (
	RefusedMaxConnections  = "max_connections"
	RefusedUnauthenticated = "max_unauthenticated"
	RefusedPerIP           = "per_ip_connections"
	RefusedPerIPRate       = "per_ip_rate"
	RefusedGlobalRate      = "global_rate"
	RefusedBusy            = "server_busy"
)

var admissionReasons = [...]string{RefusedMaxConnections, RefusedUnauthenticated, RefusedPerIP, RefusedPerIPRate, RefusedGlobalRate, RefusedBusy}

// RefusalLog logs the sockets Admission refuses. AdmissionRefused is
// called with admission.mu held, for every refusal: it must be quick (a
// sampled logger), must not block and must take no lock of this package.
// listener is "" when not known (the gateway-wide limits).
type RefusalLog interface {
	AdmissionRefused(listener, reason string, remote net.Addr)
}

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

// retune gives b a new rate and burst, keeping its tokens up to the new
// burst (a bucket that had no rate starts full).
func (b *bucket) retune(rate float64, burst int, now time.Time) {
	b.refill(now)
	if b.rate <= 0 {
		b.tokens = float64(burst)
	} else {
		b.tokens = min(b.tokens, float64(burst))
	}
	b.rate, b.burst, b.last = rate, float64(burst), now
}

// ipState is one address's concurrent count and rate bucket.
type ipState struct {
	n int
	b bucket
}

// Admission is the gateway's listeners.Gate: the limits of the top-level
// limits section, applied at accept by the socket's peer address. A
// listener with its own per-IP limits (listeners[].limits) has a gate of
// its own instead (GateFor), sharing everything but the per-IP table.
// Safe for concurrent use.
type Admission struct {
	// log logs refusals; nil logs nothing. Set before the listeners
	// start (SetLog).
	log RefusalLog

	mu     lockorder.Mutex[admissionMu]
	cfg    configs.Admission
	ips    ipTable // the per-IP limits of listeners without their own
	global bucket
	total  int // admitted, not released
	unauth int // admitted, not yet through CONNACK
	// gates are the listeners' gates by name (GateFor).
	gates map[string]*listenerGate

	refused [len(admissionReasons)]atomic.Int64 // by admissionReasons index
	// busyTimeout is cfg.BusyConnectTimeout, read without admission.mu
	// (ConnectTimeout, once per connection).
	busyTimeout atomic.Int64
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

// NewAdmission returns the admission limits of cfg.
func NewAdmission(cfg configs.Admission) *Admission {
	a := &Admission{cfg: cfg, ips: newIPTable(cfg),
		global: newBucket(cfg.Rate.Global, cfg.Rate.GlobalBurst, time.Now())}
	a.busyTimeout.Store(int64(cfg.BusyConnectTimeout))
	return a
}

// SetLog makes l the refusals' log. Call it before the listeners start.
func (a *Admission) SetLog(l RefusalLog) { a.log = l }

// set replaces the table's limits (a reload): the addresses' counts are
// kept, their buckets take the new rate and burst (bucket.retune).
// admission.mu is held.
func (t *ipTable) set(lim configs.Admission) {
	now := time.Now()
	t.conns, t.rate, t.burst = lim.PerIPConnections, lim.Rate.PerIP, lim.Rate.PerIPBurst
	for _, st := range t.perIP {
		st.b.retune(t.rate, t.burst, now)
	}
}

// SetLimits installs the limits section of a reload. The caps and rates
// apply at once; the counts (connections, unauthenticated sockets, per
// address) are kept, and token buckets keep their tokens up to the new
// burst. Listeners with per-IP limits of their own (listeners[].limits)
// keep theirs.
func (a *Admission) SetLimits(cfg configs.Admission) {
	now := time.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	a.cfg = cfg
	a.busyTimeout.Store(int64(cfg.BusyConnectTimeout))
	a.global.retune(cfg.Rate.Global, cfg.Rate.GlobalBurst, now)
	a.ips.conns, a.ips.rate, a.ips.burst = cfg.PerIPConnections, cfg.Rate.PerIP, cfg.Rate.PerIPBurst
	for _, st := range a.ips.perIP {
		st.b.retune(cfg.Rate.PerIP, cfg.Rate.PerIPBurst, now)
	}
}

// listenerGate is the listeners.Gate of one listener: the gateway-wide
// limits are the Admission's; the per-IP ones are those of its table or,
// for a listener with per-IP limits of its own (listeners[].limits), a
// table of its own, counted apart from the other listeners. Refusals are
// logged with the listener's name.
type listenerGate struct {
	a        *Admission
	listener string
	// own is the listener's per-IP table, nil for the Admission's;
	// admission.mu guards it.
	own *ipTable
}

// Admit implements listeners.Gate.
func (g *listenerGate) Admit(peer net.Addr, proxied bool) (listeners.Ticket, bool) {
	return g.a.admit(peer, proxied, g)
}

// GateFor returns the gate of listener, with the per-IP limits of lim
// (configs.Config.AdmissionFor the listener).
func (a *Admission) GateFor(listener string, lim configs.Admission) listeners.Gate {
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

// setLocked gives the gate lim's per-IP limits: the Admission's table
// when they are the global ones, else a table of its own (kept, with its
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

// SetListeners installs the per-IP overrides of cfg's listeners
// (listeners[].limits) on their gates, for a configuration reload: call it
// after the gateway-wide limits are set (SetLimits), since a listener
// without overrides, or with partial ones, follows those. Connections are
// not touched.
func (a *Admission) SetListeners(cfg *configs.Config) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, lc := range cfg.Listeners {
		if g := a.gates[lc.Name]; g != nil {
			g.setLocked(cfg.AdmissionFor(lc))
		}
	}
}

func (a *Admission) count(reason string) {
	for i, r := range admissionReasons {
		if r == reason {
			a.refused[i].Add(1)
		}
	}
}

// logRefused logs a refusal, when there is a log. a.mu is held.
func (a *Admission) logRefused(listener, reason string, peer net.Addr) {
	if a.log != nil {
		a.log.AdmissionRefused(listener, reason, peer) // sampled: takes none of our locks
	}
}

// IPOf returns the IP address of a socket's address, IPv4-mapped ones
// unmapped; the zero Addr when addr is nil or has none.
func IPOf(addr net.Addr) netip.Addr {
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
func (a *Admission) Admit(peer net.Addr, proxied bool) (listeners.Ticket, bool) {
	return a.admit(peer, proxied, nil)
}

// admit is Admit through gate g (nil: the Admission's own per-IP limits).
func (a *Admission) admit(peer net.Addr, proxied bool, g *listenerGate) (listeners.Ticket, bool) {
	listener := ""
	if g != nil {
		listener = g.listener
	}
	ip := IPOf(peer)
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
		reason = RefusedMaxConnections
	case a.cfg.MaxUnauthenticated > 0 && a.unauth >= a.cfg.MaxUnauthenticated:
		reason = RefusedUnauthenticated
	}
	if reason == "" && ip.IsValid() {
		reason = tab.checkIP(ip, now)
	}
	if reason == "" {
		a.global.refill(now)
		if !a.global.ok() {
			reason = RefusedGlobalRate
		}
	}
	if reason != "" {
		a.count(reason)
		a.logRefused(listener, reason, peer)
		return nil, false
	}
	a.global.take()
	if ip.IsValid() {
		tab.takeIP(ip)
	}
	a.total++
	a.unauth++
	return &Ticket{a: a, tab: tab, listener: listener, ip: ip, unauth: true}, true
}

// checkIP returns the per-IP refusal reason for ip, or "". a.mu is held.
func (t *ipTable) checkIP(ip netip.Addr, now time.Time) string {
	st := t.perIP[ip]
	if st == nil {
		if t.conns <= 0 && t.rate <= 0 {
			return ""
		}
		t.sweep(now)
		st = &ipState{b: newBucket(t.rate, t.burst, now)}
		t.perIP[ip] = st
	}
	if t.conns > 0 && st.n >= t.conns {
		return RefusedPerIP
	}
	st.b.refill(now)
	if !st.b.ok() {
		return RefusedPerIPRate
	}
	return ""
}

// takeIP counts a connection of ip (checked by checkIP). a.mu is held.
func (t *ipTable) takeIP(ip netip.Addr) {
	if st := t.perIP[ip]; st != nil {
		st.n++
		st.b.take()
	}
}

// releaseIP uncounts a connection of ip. a.mu is held.
func (t *ipTable) releaseIP(ip netip.Addr) {
	st := t.perIP[ip]
	if st == nil {
		return
	}
	st.n--
	if st.n <= 0 {
		st.b.refill(time.Now())
		if st.b.full() {
			delete(t.perIP, ip)
		}
	}
}

// sweep drops idle addresses whose buckets have refilled once the map
// has grown past sweepAt. a.mu is held.
func (t *ipTable) sweep(now time.Time) {
	if len(t.perIP) < t.sweepAt {
		return
	}
	for ip, st := range t.perIP {
		if st.n <= 0 {
			st.b.refill(now)
			if st.b.full() {
				delete(t.perIP, ip)
			}
		}
	}
	t.sweepAt = max(1024, 2*len(t.perIP))
}

// OverHighWater reports the unauthenticated sockets' fill past the busy
// high-water mark, from 0 (at or below it) to 1 (at the cap).
func (a *Admission) OverHighWater() float64 {
	a.mu.Lock() // cfg too: a reload replaces it (SetLimits)
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

// ConnectTimeout is the time a new socket has to send CONNECT: profile
// (the listener profile's connect_timeout), or busy_connect_timeout when
// that is shorter and the unauthenticated sockets are above the busy
// high-water mark (OverHighWater). It takes admission.mu alone, and only
// when busy_connect_timeout is shorter than profile.
func (a *Admission) ConnectTimeout(profile time.Duration) time.Duration {
	if bt := time.Duration(a.busyTimeout.Load()); bt > 0 && bt < profile && a.OverHighWater() > 0 {
		return bt
	}
	return profile
}

// Busy decides whether a new client's CONNECT is answered "server busy":
// with the probability OverHighWater. A refusal is counted (server_busy).
func (a *Admission) Busy() bool {
	p := a.OverHighWater()
	if p > 0 && rand.Float64() < p {
		a.count(RefusedBusy)
		return true
	}
	return false
}

// Refused returns the refusals so far by reason, every reason present.
func (a *Admission) Refused() map[string]int64 {
	out := make(map[string]int64, len(admissionReasons))
	for i, r := range admissionReasons {
		out[r] = a.refused[i].Load()
	}
	return out
}

// Unauthenticated returns the number of admitted sockets not yet through
// CONNACK.
func (a *Admission) Unauthenticated() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.unauth
}

// Ticket is one admitted connection (listeners.Ticket). Its methods are
// safe for concurrent use.
type Ticket struct {
	a        *Admission
	tab      *ipTable // the per-IP limits it is counted in
	listener string
	ip       netip.Addr
	unauth   bool
	released bool
}

// Rebind implements listeners.Ticket: the per-IP limits, again, for the
// real client address behind a trusted proxy.
func (t *Ticket) Rebind(real net.Addr) bool {
	ip := IPOf(real)
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
		a.logRefused(t.listener, reason, real)
		return false
	}
	t.tab.takeIP(ip)
	if t.ip.IsValid() {
		t.tab.releaseIP(t.ip)
	}
	t.ip = ip
	return true
}

// Authenticated marks the connection through CONNACK: it no longer
// counts as unauthenticated.
func (t *Ticket) Authenticated() {
	a := t.a
	a.mu.Lock()
	if t.unauth && !t.released {
		t.unauth = false
		a.unauth--
	}
	a.mu.Unlock()
}

// Release implements listeners.Ticket.
func (t *Ticket) Release() {
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

// TicketOf returns the connection's admission ticket, nil when it has
// none of an Admission.
func TicketOf(m *listeners.Meta) *Ticket {
	if m == nil {
		return nil
	}
	t, _ := m.Ticket.(*Ticket)
	return t
}

// Release releases the connection's ticket, if any.
func Release(m *listeners.Meta) {
	if m != nil && m.Ticket != nil {
		m.Ticket.Release()
	}
}
