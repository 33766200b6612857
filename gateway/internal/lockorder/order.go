package lockorder

// Order is the one written lock order of the gateway; gateway/LOCKS.md
// mirrors it (TestLocksDocMatchesOrder in package gateway compares them).
// Each chain lists locks in the order they may be taken: a lock may be
// held while taking any lock after it in the same chain, and never while
// taking one before it. A lock that is only ever taken alone (a leaf
// with nothing taken under it, and nothing of ours held around it) is a
// chain of one. A class appears in several chains where several paths
// meet; the union must stay acyclic (checked at start and by a test).
func Order() [][]string {
	return [][]string{
		// Configuration reload and the acl file watcher.
		{"reloader.mu", "Server.srcMu"},
		{"reloader.mu", "Server.mu"},
		{"reloader.mu", "admission.mu"},
		// Routing: the store's group (bolt gate, read) spans one inbound
		// PUBLISH, routing included; store changes are queued (bolt mu)
		// under the lock of the state they describe.
		{"bolt.DB.gate", "engine.order", "registry.mu", "session.mu", "writeQueue.mu"},
		{"engine.order", "router.mu"},
		{"engine.order", "retainedStore.mu", "bolt.DB.mu"},
		{"registry.mu", "session.mu", "bolt.DB.mu"},
		// The writer cuts a batch: gate (write), then mu.
		{"bolt.DB.gate", "bolt.DB.mu"},
		// Admin API and metrics read the registry and the connections.
		{"Server.mu", "session.mu"},
	}
}

// Edges returns every allowed (held, taken) pair of Order.
func Edges() map[[2]string]bool {
	out := make(map[[2]string]bool)
	for _, chain := range Order() {
		for i, a := range chain {
			for _, b := range chain[i+1:] {
				out[[2]string{a, b}] = true
			}
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
