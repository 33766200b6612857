package gateway

// Caps on the authentications in progress (auth.concurrency): gateway-wide,
// per remote address and per user name. A CONNECT over a cap is refused at
// once, before any backend runs, with v5 CONNACK 0x89 Server busy ("The
// Server is busy. Try again later.", MQTT 5.0 section 3.2.2.2, table 3-1;
// 3.x: return code 3 Server unavailable, section 3.2.2.3 of 3.1.1). 0x9F
// Connection rate exceeded would misname it: the cap is on how many run at
// once, not on how often they start. With the hash pool (hashpool.go) the
// caps bound what wrong passwords cost: every waiting authentication is one
// connection goroutine holding no hash memory, and there are at most
// auth.concurrency.max of them.

import (
	"sync/atomic"

	"edgemq/configs"
	"edgemq/gateway/internal/lockorder"
	"edgemq/mqtt"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
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

// authLimits are what bounds authentication work: the concurrency caps
// and the verifier whose hashes run in the hash pool.
type authLimits struct {
	gate   *authGate
	verify *passwordVerifier
}

func newAuthLimits(cfg configs.Auth, log *zap.Logger) *authLimits {
	return &authLimits{
		gate:   newAuthGate(cfg.Concurrency),
		verify: &passwordVerifier{pool: newHashPool(cfg), log: log},
	}
}

// authGate counts the authentications in progress. Its maps hold only
// the addresses and user names with one in progress, so they are bounded
// by the gateway-wide cap (or by the connections).
type authGate struct {
	max, perIP, perUser int // 0: no cap

	mu    lockorder.Mutex[authGateMu]
	total int
	ips   map[string]int
	users map[string]int

	refused [authCaps]atomic.Int64
}

func newAuthGate(c configs.AuthConcurrency) *authGate {
	return &authGate{max: c.Max, perIP: c.PerIP, perUser: c.PerUser, ips: make(map[string]int), users: make(map[string]int)}
}

// acquire admits one authentication from ip of user ("": none). It
// returns the function that ends it, to be called once, or an error
// carrying 0x89 Server busy naming the cap it is over.
func (g *authGate) acquire(ip, user string) (func(), error) {
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

func (g *authGate) release(ip, user string) {
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

// inProgress returns the authentications in progress.
func (g *authGate) inProgress() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.total
}

// acquireAuth takes the client's place among the authentications in
// progress (connect.go): its address and, when c has one, its user name.
func (ch *channel) acquireAuth(c *mqtt.Connect) (func(), error) {
	user := ""
	if c.UsernameFlag {
		user = c.Username
	}
	// The refusal is logged, sampled, by refuse (connlog.go).
	return ch.env.authLim.gate.acquire(remoteIP(ch.meta.RemoteAddr), user)
}

// Metrics of the caps and the hash pool.
var (
	descAuthCapRefused = prometheus.NewDesc("edgemq_auth_concurrency_refused_total", "CONNECTs refused with 0x89 because too many authentications were in progress, by cap (global, per_ip, per_user).", []string{"cap"}, nil)
	descAuthInProgress = prometheus.NewDesc("edgemq_auth_in_progress", "Authentications in progress (counted by auth.concurrency.max).", nil, nil)
	descHashWaiting    = prometheus.NewDesc("edgemq_auth_hash_waiting", "Password hashes waiting for the hash pool (queue depth).", nil, nil)
	descHashRunning    = prometheus.NewDesc("edgemq_auth_hash_running", "Password hashes being computed.", nil, nil)
	descHashTimedOut   = prometheus.NewDesc("edgemq_auth_hash_timeouts_total", "Password hashes not computed because the connect timeout passed while waiting for the hash pool (refused with 0x89).", nil, nil)
)

// authLimitCollector exports the caps' and the hash pool's counters.
type authLimitCollector struct{ a *authLimits }

func (c authLimitCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descAuthCapRefused, descAuthInProgress, descHashWaiting, descHashRunning, descHashTimedOut} {
		ch <- d
	}
}

func (c authLimitCollector) Collect(ch chan<- prometheus.Metric) {
	g, p := c.a.gate, c.a.verify.pool
	for i, n := range authCapNames {
		ch <- prometheus.MustNewConstMetric(descAuthCapRefused, prometheus.CounterValue, float64(g.refused[i].Load()), n)
	}
	ch <- prometheus.MustNewConstMetric(descAuthInProgress, prometheus.GaugeValue, float64(g.inProgress()))
	ch <- prometheus.MustNewConstMetric(descHashWaiting, prometheus.GaugeValue, float64(p.waiting.Load()))
	ch <- prometheus.MustNewConstMetric(descHashRunning, prometheus.GaugeValue, float64(p.running.Load()))
	ch <- prometheus.MustNewConstMetric(descHashTimedOut, prometheus.CounterValue, float64(p.timedOut.Load()))
}
