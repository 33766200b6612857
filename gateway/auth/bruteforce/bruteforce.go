package bruteforce

import (
	"container/list"
	"time"

	"edgemq/configs"
	"edgemq/gateway/internal/lockorder"
)

// Guard holds the failure counts. Safe for concurrent use. New returns
// nil when brute-force protection is off: callers skip a nil Guard.
type Guard struct {
	initial, max, resetAfter time.Duration

	mu         lockorder.Mutex[bruteGuardMu]
	ips, users failTable
}

// New returns the guard of auth.brute_force, nil when it is disabled.
func New(c configs.BruteForce) *Guard {
	if !c.Enabled {
		return nil
	}
	g := &Guard{initial: c.InitialDelay, max: c.MaxDelay, resetAfter: c.ResetAfter}
	g.ips.init(c.MaxEntries)
	g.users.init(c.MaxEntries)
	return g
}

// Fail records a failure of ip and user ("" when unknown) and returns
// the delay before the refusal and the failure count it is based on.
func (g *Guard) Fail(ip, user string, now time.Time) (time.Duration, int) {
	g.mu.Lock()
	n := g.ips.bump(ip, now, g.resetAfter)
	if user != "" {
		n = max(n, g.users.bump(user, now, g.resetAfter))
	}
	g.mu.Unlock()
	return g.delayFor(n), n
}

// Pending returns the delay the recent failures of ip and user impose on
// any answer, a success too: otherwise a client could stop waiting as
// soon as the quick answer of a success is overdue, and guess at full
// speed. 0 when neither failed recently.
func (g *Guard) Pending(ip, user string, now time.Time) time.Duration {
	g.mu.Lock()
	n := g.ips.count(ip, now, g.resetAfter)
	if user != "" {
		n = max(n, g.users.count(user, now, g.resetAfter))
	}
	g.mu.Unlock()
	return g.delayFor(n)
}

// delayFor is the delay after n failures.
func (g *Guard) delayFor(n int) time.Duration {
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
