package broker

// Quotas: what one client, one address or one user name may hold, so that
// none of them can grow the gateway's memory or store without bound
// (issue 18): subscriptions per session (count and filter bytes),
// sessions per remote IP address and per user name, retained topics per
// publishing client id (retained_quota.go). A refusal answers the client with 0x97 Quota
// exceeded (MQTT 5) or what 3.x allows, and is counted in
// edgemq_quota_refused_total{quota}.
//
// Sessions are counted against the address and user name of the
// connection that last opened them, while they exist: a persistent
// session whose client disconnected still counts (it still holds memory
// and store), until it expires or is resumed from elsewhere. Sessions
// restored from the store at startup count from their next connection.

import (
	"net/netip"
	"sync/atomic"

	"edgemq/gateway/internal/lockorder"
	"edgemq/mqtt"
)

// QuotaKind names a quota in metrics (String).
type QuotaKind int

// The quotas, by configuration key.
const (
	QuotaSubscriptions     QuotaKind = iota // session.max_subscriptions
	QuotaSubscriptionBytes                  // session.max_subscription_bytes
	QuotaSessionsPerIP                      // session.max_sessions_per_ip
	QuotaSessionsPerUser                    // session.max_sessions_per_user
	QuotaRetainedPerClient                  // retained.max_per_client
	QuotaRetainedTopic                      // a retained topic longer than the store holds
	QuotaRetainedMessages                   // retained.max_messages
	QuotaRetainedBytes                      // retained.max_bytes
	QuotaKinds                              // the number of kinds
)

var quotaNames = [QuotaKinds]string{"subscriptions", "subscription_bytes", "sessions_per_ip", "sessions_per_user", "retained_per_client", "retained_topic_length",
	"retained_messages", "retained_bytes"}

// String returns the quota's name in edgemq_quota_refused_total{quota}.
func (k QuotaKind) String() string { return quotaNames[k] }

// sessionHolder is who holds a session: the address and user name of the
// connection that last opened it, and the session.
type sessionHolder struct {
	ip   netip.Addr
	user string
	s    *Session
}

// Quotas holds the bounds and the per-address and per-user session counts.
// A nil *Quotas bounds nothing. Its lock is taken alone (CONNECT and
// endSession call it holding no lock) and nothing is called while it is
// held.
type Quotas struct {
	maxSubs     int // 0: no bound
	maxSubBytes int
	maxPerIP    int
	maxPerUser  int

	mu      lockorder.Mutex[quotasMu]
	holders map[string]sessionHolder // by client id
	perIP   map[netip.Addr]int
	perUser map[string]int

	refused [QuotaKinds]atomic.Int64
}

// QuotaConfig is the bounds of Quotas; 0 bounds nothing.
type QuotaConfig struct {
	MaxSubscriptions     int // session.max_subscriptions
	MaxSubscriptionBytes int // session.max_subscription_bytes
	MaxSessionsPerIP     int // session.max_sessions_per_ip
	MaxSessionsPerUser   int // session.max_sessions_per_user
}

func newQuotas(cfg QuotaConfig) *Quotas {
	return &Quotas{maxSubs: cfg.MaxSubscriptions, maxSubBytes: cfg.MaxSubscriptionBytes, maxPerIP: cfg.MaxSessionsPerIP,
		maxPerUser: cfg.MaxSessionsPerUser, holders: make(map[string]sessionHolder),
		perIP: make(map[netip.Addr]int), perUser: make(map[string]int)}
}

// Refuse counts a refusal. Safe from any goroutine.
func (q *Quotas) Refuse(k QuotaKind) {
	if q != nil {
		q.refused[k].Add(1)
	}
}

// Refused returns the refusals of quota k so far. Safe from any
// goroutine.
func (q *Quotas) Refused(k QuotaKind) int64 {
	if q == nil {
		return 0
	}
	return q.refused[k].Load()
}

// subscriptionsFull reports whether the session st may not add a
// subscription to filter (one it does not hold), counting the refusal.
// The session's lock is held.
func (q *Quotas) subscriptionsFull(st *sessionState, filter string) bool {
	switch {
	case q == nil:
		return false
	case q.maxSubs > 0 && len(st.subs) >= q.maxSubs:
		q.Refuse(QuotaSubscriptions)
		return true
	case q.maxSubBytes > 0 && st.subBytes+len(filter) > q.maxSubBytes:
		q.Refuse(QuotaSubscriptionBytes)
		return true
	}
	return false
}

// putSub adds sub, or replaces the subscription to its filter.
func (st *sessionState) putSub(sub *Subscription) {
	if _, ok := st.subs[sub.filter]; !ok {
		st.subBytes += len(sub.filter)
	}
	if st.subs == nil {
		st.subs = make(map[string]*Subscription)
	}
	st.subs[sub.filter] = sub
}

// dropSub removes the subscription to filter and reports whether there
// was one.
func (st *sessionState) dropSub(filter string) bool {
	if _, ok := st.subs[filter]; !ok {
		return false
	}
	delete(st.subs, filter)
	st.subBytes -= len(filter)
	return true
}

// SessionClaim is the place AdmitSession reserved for a CONNECT: counted
// already, held by the session once Bind runs, given back by Drop if it
// never does.
type SessionClaim struct {
	q        *Quotas
	clientID string
	h        sessionHolder
	bound    bool
}

// AdmitSession reserves, for the CONNECT of clientID from ip as user, a
// place for the session it opens, or refuses it with 0x97 Quota exceeded
// (3.1.1: return code 3, Server unavailable, the only code that does not
// blame the credentials; mqtt.ReasonCode.V3). A session the client id
// holds already from the same address or user name is not counted twice.
// The caller binds the claim to the session once open, and drops it (a
// no-op once bound) on every way out. The claim is nil without quotas.
func (q *Quotas) AdmitSession(clientID string, ip netip.Addr, user string) (*SessionClaim, error) {
	if q == nil || (q.maxPerIP == 0 && q.maxPerUser == 0) {
		return nil, nil
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	old, had := q.holders[clientID]
	if q.maxPerIP > 0 && ip.IsValid() && !(had && old.ip == ip) && q.perIP[ip] >= q.maxPerIP {
		q.refused[QuotaSessionsPerIP].Add(1)
		// 0x97: an implementation or administrative limit (3.2.2.2).
		return nil, mqtt.Errorf(mqtt.QuotaExceeded, "3.2.2.2", "%d sessions held from this address", q.perIP[ip])
	}
	if q.maxPerUser > 0 && user != "" && !(had && old.user == user) && q.perUser[user] >= q.maxPerUser {
		q.refused[QuotaSessionsPerUser].Add(1)
		return nil, mqtt.Errorf(mqtt.QuotaExceeded, "3.2.2.2", "%d sessions held by this user name", q.perUser[user])
	}
	c := &SessionClaim{q: q, clientID: clientID, h: sessionHolder{ip: ip, user: user}}
	q.countLocked(c.h)
	return c, nil
}

// Bind makes s, the session the claim's CONNECT opened, hold the place;
// the client id's previous session gives its place back.
func (c *SessionClaim) Bind(s *Session) {
	if c == nil {
		return
	}
	q := c.q
	q.mu.Lock()
	defer q.mu.Unlock()
	if old, ok := q.holders[c.clientID]; ok {
		q.uncountLocked(old)
	}
	c.h.s, c.bound = s, true
	q.holders[c.clientID] = c.h
}

// Drop gives back the place of a claim that was not bound.
func (c *SessionClaim) Drop() {
	if c == nil || c.bound {
		return
	}
	c.q.mu.Lock()
	c.q.uncountLocked(c.h)
	c.q.mu.Unlock()
	c.bound = true
}

// releaseSession forgets s when it ends, unless its client id holds
// another session by now.
func (q *Quotas) releaseSession(s *Session) {
	if q == nil || (q.maxPerIP == 0 && q.maxPerUser == 0) {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if h, ok := q.holders[s.st.clientID]; ok && h.s == s {
		q.uncountLocked(h)
		delete(q.holders, s.st.clientID)
	}
}

func (q *Quotas) countLocked(h sessionHolder) {
	if h.ip.IsValid() {
		q.perIP[h.ip]++
	}
	if h.user != "" {
		q.perUser[h.user]++
	}
}

func (q *Quotas) uncountLocked(h sessionHolder) {
	if h.ip.IsValid() {
		if q.perIP[h.ip]--; q.perIP[h.ip] <= 0 {
			delete(q.perIP, h.ip)
		}
	}
	if h.user != "" {
		if q.perUser[h.user]--; q.perUser[h.user] <= 0 {
			delete(q.perUser, h.user)
		}
	}
}
