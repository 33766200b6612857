package auth

// Caps on the authentications in progress (auth.concurrency): gateway-wide,
// per remote address and per user name. A CONNECT over a cap is refused at
// once, before any backend runs, with v5 CONNACK 0x89 Server busy ("The
// Server is busy. Try again later.", MQTT 5.0 section 3.2.2.2, table 3-1;
// 3.x: return code 3 Server unavailable, section 3.2.2.3 of 3.1.1). 0x9F
// Connection rate exceeded would misname it: the cap is on how many run at
// once, not on how often they start. With the hash pool (HashPool) the
// caps bound what wrong passwords cost: every waiting authentication is one
// connection goroutine holding no hash memory, and there are at most
// auth.concurrency.max of them.

import (
	"sync/atomic"

	"edgemq/configs"
	"edgemq/gateway/internal/lockorder"
	"edgemq/mqtt"

	"github.com/prometheus/client_golang/prometheus"
)

// The caps that refuse an authentication, for
// edgemq_auth_concurrency_refused_total.
const (
	authCapGlobal = iota
	authCapIP
	authCapUser
	authCaps
)

var authCapNames = [authCaps]string{"global", "per_ip", "per_user"}

// Limits are what bounds authentication work: the concurrency caps and
// the hash pool password verifiers run their hashes in.
type Limits struct {
	gate *Gate
	pool *HashPool
}

// NewLimits returns the caps of auth.concurrency and the hash pool of
// auth.hash_memory and auth.hash_workers.
func NewLimits(cfg configs.Auth) *Limits {
	return &Limits{gate: newGate(cfg.Concurrency), pool: NewHashPool(cfg)}
}

// Gate returns the caps on authentications in progress.
func (l *Limits) Gate() *Gate { return l.gate }

// Pool returns the hash pool.
func (l *Limits) Pool() *HashPool { return l.pool }

// Gate counts the authentications in progress. Its maps hold only the
// addresses and user names with one in progress, so they are bounded by
// the gateway-wide cap (or by the connections). Safe for concurrent use.
type Gate struct {
	max, perIP, perUser int // 0: no cap

	mu    lockorder.Mutex[authGateMu]
	total int
	ips   map[string]int
	users map[string]int

	refused [authCaps]atomic.Int64
}

func newGate(c configs.AuthConcurrency) *Gate {
	return &Gate{max: c.Max, perIP: c.PerIP, perUser: c.PerUser, ips: make(map[string]int), users: make(map[string]int)}
}

// Acquire admits one authentication from ip of user ("": none). It
// returns the function that ends it, to be called once, or an error
// carrying 0x89 Server busy naming the cap it is over. It never blocks.
func (g *Gate) Acquire(ip, user string) (func(), error) {
	g.mu.Lock()
	refused := -1
	switch {
	case g.max > 0 && g.total >= g.max:
		refused = authCapGlobal
	case g.perIP > 0 && g.ips[ip] >= g.perIP:
		refused = authCapIP
	case user != "" && g.perUser > 0 && g.users[user] >= g.perUser:
		refused = authCapUser
	}
	if refused >= 0 {
		g.mu.Unlock()
		g.refused[refused].Add(1)
		return nil, mqtt.Errorf(mqtt.ServerBusy, "", "too many authentications in progress (%s cap)", authCapNames[refused])
	}
	g.total++
	g.ips[ip]++
	if user != "" {
		g.users[user]++
	}
	g.mu.Unlock()
	return func() { g.release(ip, user) }, nil
}

func (g *Gate) release(ip, user string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.total--
	if g.ips[ip]--; g.ips[ip] <= 0 {
		delete(g.ips, ip)
	}
	if user != "" {
		if g.users[user]--; g.users[user] <= 0 {
			delete(g.users, user)
		}
	}
}

// InProgress returns the authentications in progress.
func (g *Gate) InProgress() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.total
}

// Refused returns the CONNECTs refused by cap: "global", "per_ip" or
// "per_user" (0 for another name).
func (g *Gate) Refused(cap string) int64 {
	for i, n := range authCapNames {
		if n == cap {
			return g.refused[i].Load()
		}
	}
	return 0
}

// Metrics of the caps and the hash pool.
var (
	descAuthCapRefused = prometheus.NewDesc("edgemq_auth_concurrency_refused_total", "CONNECTs refused with 0x89 because too many authentications were in progress, by cap (global, per_ip, per_user).", []string{"cap"}, nil)
	descAuthInProgress = prometheus.NewDesc("edgemq_auth_in_progress", "Authentications in progress (counted by auth.concurrency.max).", nil, nil)
	descHashWaiting    = prometheus.NewDesc("edgemq_auth_hash_waiting", "Password hashes waiting for the hash pool (queue depth).", nil, nil)
	descHashRunning    = prometheus.NewDesc("edgemq_auth_hash_running", "Password hashes being computed.", nil, nil)
	descHashTimedOut   = prometheus.NewDesc("edgemq_auth_hash_timeouts_total", "Password hashes not computed because the connect timeout passed while waiting for the hash pool (refused with 0x89).", nil, nil)
)

// LimitsCollector exports the caps' and the hash pool's counters of l.
func LimitsCollector(l *Limits) prometheus.Collector { return limitsCollector{l} }

type limitsCollector struct{ a *Limits }

// Describe implements prometheus.Collector.
func (c limitsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descAuthCapRefused, descAuthInProgress, descHashWaiting, descHashRunning, descHashTimedOut} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c limitsCollector) Collect(ch chan<- prometheus.Metric) {
	g, p := c.a.gate, c.a.pool
	for i, n := range authCapNames {
		ch <- prometheus.MustNewConstMetric(descAuthCapRefused, prometheus.CounterValue, float64(g.refused[i].Load()), n)
	}
	ch <- prometheus.MustNewConstMetric(descAuthInProgress, prometheus.GaugeValue, float64(g.InProgress()))
	ch <- prometheus.MustNewConstMetric(descHashWaiting, prometheus.GaugeValue, float64(p.waiting.Load()))
	ch <- prometheus.MustNewConstMetric(descHashRunning, prometheus.GaugeValue, float64(p.running.Load()))
	ch <- prometheus.MustNewConstMetric(descHashTimedOut, prometheus.CounterValue, float64(p.timedOut.Load()))
}
