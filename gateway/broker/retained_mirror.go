package broker

// What a cluster's retained mirror needs of the retained store: another
// node's retained message stored here without being routed (it was
// routed where it was published, and crosses to this node's sessions as a
// live message), and the topics held, to drop those the cluster deleted
// while this node was away. The single-node path does not use them.

import "strings"

// StoreRetained makes m the retained message of its topic, replacing the
// previous one, or deletes the topic's retained message when m's payload
// is empty [MQTT-3.3.1-5, MQTT-3.3.1-6], without routing m; the bounds
// apply as to a published message. It reports false when they refused
// m. It takes retainedStore.mu alone, and queues the change to the store
// under it (bolt.DB.mu): the caller holds none of our locks.
func (e *Broker) StoreRetained(m *Message) bool { return e.retained.store(m) }

// RetainedTopics returns every topic that has a retained message, '$'
// topics included, in no order. It takes retainedStore.mu shared.
func (e *Broker) RetainedTopics() []string { return e.retained.topics() }

// topics implements RetainedTopics.
func (r *retainedStore) topics() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, r.count)
	var walk func(n *retainedNode, path []string)
	walk = func(n *retainedNode, path []string) {
		if n.msg != nil {
			out = append(out, strings.Join(path, "/"))
		}
		for name, c := range n.children {
			walk(c, append(path, name))
		}
	}
	for name, c := range r.root.children {
		walk(c, []string{name})
	}
	return out
}

// RetainedLookup returns topic's retained message, or nil, expired or
// not. It takes retainedStore.mu shared.
func (e *Broker) RetainedLookup(topic string) *Message {
	e.retained.mu.RLock()
	defer e.retained.mu.RUnlock()
	return e.retained.lookupLocked(topic)
}
