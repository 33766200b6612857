package gateway

// Brute-force protection: every failed authentication (CONNECT refused by
// the authenticators or an enhanced method, failed re-authentication) is
// counted per remote address and per user name, and the refusal is held
// back by a delay that doubles with each failure of either (the larger
// count decides), from auth.brute_force.initial_delay up to max_delay.
// Counts are forgotten after reset_after without a failure. The channel
// returns the delay to its host (effects.go), which waits it out on the
// failing connection's own goroutine, bounded by its connect deadline: no
// lock is held while waiting, and other clients are not slowed. Memory is bounded: each table keeps the max_entries most
// recently failed keys (an LRU).

import (
	"container/list"
	"net"
	"sync/atomic"
	"time"

	"edgemq/configs"
	"edgemq/gateway/internal/lockorder"
	"edgemq/gateway/logsafe"
	"edgemq/mqtt"

	"go.uber.org/zap"
)

// authFailReason classifies failed authentications for the counters.
type authFailReason int

const (
	authFailCredentials   authFailReason = iota // 0x86 bad user name or password
	authFailNotAuthorized                       // 0x87
	authFailBadMethod                           // 0x8C
	authFailOther
	authFailReasons
)

var authFailNames = [authFailReasons]string{"bad_credentials", "not_authorized", "bad_method", "other"}

// authStats counts failed authentications (part of stats).
type authStats struct {
	failures [authFailReasons]atomic.Int64
	// byBackend splits failures by the kind of backend that decided
	// (auth_chain.go).
	byBackend [authBackends][authFailReasons]atomic.Int64
	// delayed counts refusals held back by the brute-force delay.
	delayed atomic.Int64
}

func (s *authStats) fail(backend authBackend, code mqtt.ReasonCode) {
	r := authFailOther
	switch code {
	case mqtt.BadUserNameOrPassword:
		r = authFailCredentials
	case mqtt.NotAuthorized:
		r = authFailNotAuthorized
	case mqtt.BadAuthenticationMethod:
		r = authFailBadMethod
	}
	s.failures[r].Add(1)
	s.byBackend[backend][r].Add(1)
}

// failuresBy returns the failures counted under a reason name.
func (s *authStats) failuresBy(name string) int64 {
	for i, n := range authFailNames {
		if n == name {
			return s.failures[i].Load()
		}
	}
	return 0
}

// bruteGuard holds the failure counts.
type bruteGuard struct {
	initial, max, resetAfter time.Duration

	mu         lockorder.Mutex[bruteGuardMu]
	ips, users failTable
}

func newBruteGuard(c configs.BruteForce) *bruteGuard {
	if !c.Enabled {
		return nil
	}
	g := &bruteGuard{initial: c.InitialDelay, max: c.MaxDelay, resetAfter: c.ResetAfter}
	g.ips.init(c.MaxEntries)
	g.users.init(c.MaxEntries)
	return g
}

// fail records a failure of ip and user ("" when unknown) and returns
// the delay before the refusal and the failure count it is based on.
func (g *bruteGuard) fail(ip, user string, now time.Time) (time.Duration, int) {
	g.mu.Lock()
	n := g.ips.bump(ip, now, g.resetAfter)
	if user != "" {
		n = max(n, g.users.bump(user, now, g.resetAfter))
	}
	g.mu.Unlock()
	return g.delayFor(n), n
}

// pending returns the delay the recent failures of ip and user impose on
// any answer, a success too: otherwise a client could stop waiting as
// soon as the quick answer of a success is overdue, and guess at full
// speed. 0 when neither failed recently.
func (g *bruteGuard) pending(ip, user string, now time.Time) time.Duration {
	g.mu.Lock()
	n := g.ips.count(ip, now, g.resetAfter)
	if user != "" {
		n = max(n, g.users.count(user, now, g.resetAfter))
	}
	g.mu.Unlock()
	return g.delayFor(n)
}

// delayFor is the delay after n failures.
func (g *bruteGuard) delayFor(n int) time.Duration {
	if n <= 0 {
		return 0
	}
	if shift := n - 1; shift < 40 {
		return min(g.initial<<shift, g.max)
	}
	return g.max
}

// failTable is an LRU of failure counts by key.
type failTable struct {
	max int
	m   map[string]*list.Element
	l   list.List // of *failEntry, most recent first
}

type failEntry struct {
	key   string
	count int
	last  time.Time
}

func (t *failTable) init(max int) {
	t.max, t.m = max, make(map[string]*list.Element)
}

// bump counts a failure of key and returns its count.
func (t *failTable) bump(key string, now time.Time, resetAfter time.Duration) int {
	if el, ok := t.m[key]; ok {
		e := el.Value.(*failEntry)
		if now.Sub(e.last) > resetAfter {
			e.count = 0 // quiet long enough: forgiven
		}
		e.count++
		e.last = now
		t.l.MoveToFront(el)
		return e.count
	}
	if t.l.Len() >= t.max {
		old := t.l.Back()
		delete(t.m, old.Value.(*failEntry).key)
		t.l.Remove(old)
	}
	t.m[key] = t.l.PushFront(&failEntry{key: key, count: 1, last: now})
	return 1
}

// count returns key's failure count, without counting one.
func (t *failTable) count(key string, now time.Time, resetAfter time.Duration) int {
	el, ok := t.m[key]
	if !ok {
		return 0
	}
	e := el.Value.(*failEntry)
	if now.Sub(e.last) > resetAfter {
		return 0
	}
	return e.count
}

// len reports how many keys are remembered.
func (t *failTable) len() int { return t.l.Len() }

// authFailed is authFailedBy for an enhanced authentication method.
func (ch *channel) authFailed(user string, err error) time.Duration {
	return ch.authFailedBy(backendEnhanced, user, err)
}

// authFailedBy accounts for a failed authentication of user (the user
// name, "" when none) with err's reason code, decided by backend: it is
// counted, logged (the 1st, 2nd, 4th, 8th... failure of the count, through
// the server's log sampler, connlog.go). It returns the delay brute-force
// protection holds the refusal back by, for the host to wait out
// (effects.go); 0 without one.
func (ch *channel) authFailedBy(backend authBackend, user string, err error) time.Duration {
	code := mqtt.CodeOf(err)
	st := ch.env.stats
	st.auth.fail(backend, code)
	ip := remoteIP(ch.meta.RemoteAddr)
	var delay time.Duration
	n := 1
	// 0x89: no password was checked (the hash pool's wait ended with the
	// connect deadline, hashpool.go), so it is no guess to hold back.
	if g := ch.env.guard; g != nil && code != mqtt.ServerBusy {
		delay, n = g.fail(ip, user, ch.now())
	}
	if n&(n-1) == 0 {
		ch.logSampled(zap.InfoLevel, "authentication failed",
			zap.Uint8("reason_code", byte(code)), zap.String("reason", code.String()),
			zap.String("backend", backend.String()), logsafe.String("username", user), logsafe.Error(err),
			zap.Int("failures", n), zap.Duration("delay", delay))
	}
	return delay
}

// authSucceeded returns the delay by which the CONNACK (or AUTH 0x00) of
// a successful authentication is held back: the one recent failures of
// the client's address or user name impose (bruteGuard.pending).
func (ch *channel) authSucceeded(user string) time.Duration {
	if g := ch.env.guard; g != nil {
		return g.pending(remoteIP(ch.meta.RemoteAddr), user, ch.now())
	}
	return 0
}

// remoteIP is the address part of a remote address.
func remoteIP(a net.Addr) string {
	switch a := a.(type) {
	case *net.TCPAddr:
		return a.IP.String()
	case nil:
		return ""
	}
	s := a.String()
	if h, _, err := net.SplitHostPort(s); err == nil {
		return h
	}
	return s
}

// snapshot fills the authentication counters of Stats.
func (s *authStats) snapshot(out *Stats) {
	out.AuthFailures = make(map[string]int64, len(authFailNames))
	for i, n := range authFailNames {
		out.AuthFailures[n] = s.failures[i].Load()
	}
	out.AuthDelayed = s.delayed.Load()
}
