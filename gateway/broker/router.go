package broker

import (
	"edgemq/gateway/broker/topictrie"
	"edgemq/gateway/internal/lockorder"
	"edgemq/mqtt"
)

// router matches topics to subscriptions with a topic trie
// (topictrie), under its lock. It never calls out while holding it.
type router struct {
	mu   lockorder.RWMutex[routerMu]
	trie *topictrie.Trie[*Session, *Subscription]
	// sharedRandom picks shared subscription members at random instead
	// of round robin (session.shared_subscription_strategy); set before
	// use.
	sharedRandom bool
	// interest hears of filters added and removed (seams.go); nil: none.
	// Set before use.
	interest Interest
}

func newRouter() *router {
	return &router{trie: topictrie.New[*Session, *Subscription]()}
}

// Match is one session's subscription matching a topic (Key, Sub), or
// (Group set, Key and Sub nil) a shared subscription group matching it.
// The protocol side keeps a []Match per connection as the scratch space
// of RouteAt.
type Match = topictrie.Match[*Session, *Subscription]

// shareGroup is a shared subscription group (shared.go).
type shareGroup = topictrie.Group[*Session, *Subscription]

// subscribe adds or replaces the subscription of s to sub.filter; a
// shared subscription ("$share/{name}/{filter}", valid) joins its group
// at the node of its filter. It reports whether one existed.
func (r *router) subscribe(s *Session, sub *Subscription) (existed bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	existed, first := r.trie.Subscribe(s, sub.filter, sub)
	if first && r.interest != nil {
		tellInterest(r.interest, sub.filter, true)
	}
	return existed
}

// tellInterest tells in of filter's first subscription (added) or last
// one gone: the plain filter, or the shared subscription group.
func tellInterest(in Interest, filter string, added bool) {
	share, f, shared, err := mqtt.ParseShared(filter)
	switch {
	case shared && err == nil && added:
		in.GroupAdded(share, f)
	case shared && err == nil:
		in.GroupRemoved(share, f)
	case added:
		in.FilterAdded(filter)
	default:
		in.FilterRemoved(filter)
	}
}

// unsubscribe removes the subscription of s to filter (for a shared
// subscription, s's membership of that group only), pruning empty nodes.
// It reports whether one existed.
func (r *router) unsubscribe(s *Session, filter string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	found, last := r.trie.Unsubscribe(s, filter)
	if last && r.interest != nil {
		tellInterest(r.interest, filter, false)
	}
	return found
}

// matches appends to dst every subscription matching topic. A filter
// starting with a wildcard does not match a topic starting with '$'
// [MQTT-4.7.2-1].
func (r *router) matches(dst []Match, topic string) []Match {
	dst, _ = r.collect(dst, topic)
	return dst
}

// collect is matches, also returning how many filters (trie nodes)
// matched. From one node, the matches are of distinct sessions, then its
// shared groups; from several, a session may appear more than once.
func (r *router) collect(dst []Match, topic string) ([]Match, int) {
	r.mu.RLock()
	dst, n := r.trie.Collect(dst, topic)
	r.mu.RUnlock()
	return dst, n
}

// cut splits a topic or filter at its first level.
func cut(s string) (level, rest string, more bool) { return topictrie.Cut(s) }
