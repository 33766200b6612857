package lockorder

import "slices"

// Order is the one written lock order of the gateway; gateway/LOCKS.md
// mirrors it (TestLocksDocMatchesOrder in package gateway compares them).
// Each chain lists locks in the order they may be taken. The order is the
// transitive closure of the chains: a lock may be held while taking any
// lock that comes after it, through one chain or several, and never
// while taking one before it or one it is not ordered with. A lock taken
// with no other of ours held around it and none taken under it is a
// chain of one (a leaf). The union of the chains must stay acyclic
// (checked when the lockorder build starts, and by TestOrderIsAcyclic).
func Order() [][]string {
	return [][]string{
		// Configuration reload, and the acl file watcher's rebuild.
		{"reloader.mu", "Server.srcMu"},
		{"reloader.mu", "Server.mu"},
		{"reloader.mu", "admission.mu"},
		// Routing. The store's group (bolt gate, shared) spans one
		// inbound PUBLISH, routing included.
		{"bolt.DB.gate", "engine.order", "session.mu", "writeQueue.mu"},
		{"engine.order", "router.mu"},
		{"engine.order", "retainedStore.mu"},
		// A cluster node's SUBSCRIBE writes its session records inside
		// Subscribing (gateway/cluster/backend session_subs.go).
		{"engine.order", "clusterSubs.mu"},
		{"engine.order", "clusterSessions.mu"},
		// A retained cursor step (retained_feed.go) reads the store
		// under the session's lock.
		{"session.mu", "retainedStore.mu"},
		// Sessions: open, takeover, detach and expiry.
		{"registry.mu", "session.mu"},
		// Store changes are queued (bolt mu) under the lock of the state
		// they describe; the writer cuts a batch under gate, then mu.
		{"session.mu", "bolt.DB.mu"},
		{"retainedStore.mu", "bolt.DB.mu"},
		{"bolt.DB.gate", "bolt.DB.mu"},
		// A cluster node (gateway/cluster/backend): the broker queues
		// interest changes under router.mu; a stream publish and its
		// completion are numbered inside the publisher's store group.
		{"router.mu", "clusterInterest.mu"},
		{"bolt.DB.gate", "clusterAcks.mu"},
		// A persistent session's SUBACK waits for the stream's
		// acknowledgements (AfterCommit) inside Subscribing.
		{"engine.order", "clusterAcks.mu"},
		// A cluster's retained messages (cluster/backend/retained.go):
		// the stream publishes are ordered under pubMu (RouteAt), their
		// completions' waiters kept under waitMu (AfterCommit), both
		// inside the publisher's store group.
		{"bolt.DB.gate", "clusterRetained.pubMu"},
		{"bolt.DB.gate", "clusterRetained.waitMu"},
		// ... and a persistent session's SUBACK waits for them too
		// (AfterCommit inside Subscribing).
		{"engine.order", "clusterRetained.waitMu"},
		// JWKS: one fetch at a time, the key set replaced under mu.
		{"jwksCache.fetchMu", "jwksCache.mu"},
		// Leaves.
		{"rateLimits.mu"},
		{"authExpiry.mu"},
		{"authGate.mu"},
		{"hashPool.mu"},
		{"bruteGuard.mu"},
		{"httpAuth.mu"},
		{"passwordFileAuth.mu"},
		{"FileSCRAMStore.mu"},
		{"takeoverStats.mu"},
		{"quotas.mu"},
		{"sessionGates.mu"},
		{"clusterGroups.mu"},
		{"parkPoller.mu"},
		{"parkHandle.nmu"},
	}
}

// Edges returns every allowed (held, taken) pair: the transitive closure
// of the chains of Order.
func Edges() map[[2]string]bool {
	next := make(map[string][]string)
	for _, chain := range Order() {
		for i := 0; i+1 < len(chain); i++ {
			next[chain[i]] = append(next[chain[i]], chain[i+1])
		}
	}
	out := make(map[[2]string]bool)
	for a := range next {
		stack := slices.Clone(next[a])
		for len(stack) > 0 {
			b := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if out[[2]string{a, b}] {
				continue
			}
			out[[2]string{a, b}] = true
			stack = append(stack, next[b]...)
		}
	}
	return out
}

// Cycle returns a cycle of the allowed edges (first class repeated at the
// end), or nil when there is none.
func Cycle(edges map[[2]string]bool) []string {
	next := make(map[string][]string)
	for e := range edges {
		next[e[0]] = append(next[e[0]], e[1])
	}
	const (
		unseen = iota
		onPath
		done
	)
	state := make(map[string]int)
	var path []string
	var visit func(n string) []string
	visit = func(n string) []string {
		state[n] = onPath
		path = append(path, n)
		for _, m := range next[n] {
			switch state[m] {
			case onPath:
				for i, p := range path {
					if p == m {
						return append(append([]string(nil), path[i:]...), m)
					}
				}
			case unseen:
				if c := visit(m); c != nil {
					return c
				}
			}
		}
		path = path[:len(path)-1]
		state[n] = done
		return nil
	}
	for n := range next {
		if state[n] == unseen {
			if c := visit(n); c != nil {
				return c
			}
		}
	}
	return nil
}
