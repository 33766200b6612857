package broker

// Routing for a cluster backend (gateway/cluster/backend), which spreads
// a message over several nodes: each node delivers to its own sessions,
// and a shared subscription group, which spans the nodes, is handed a
// message by the backend (a NATS queue group picks the node) rather than
// by the node where it was published. The single-node path (RouteAt) is
// route with every mode.

import "time"

// RouteOwn routes a message of a local client in a cluster: stored when
// retained and counted as received, as RouteAt does, but delivered to the
// matching non-shared subscriptions only; the backend hands it to the
// shared subscription groups (RouteGroup on the node the group's NATS
// queue picks). It returns the number of sessions it went to.
func (e *Broker) RouteOwn(m *Message, buf *[]Match, now time.Time) int {
	return e.route(m, buf, now, routeInbound)
}

// RouteRemote routes a message that came from another node to the
// matching non-shared subscriptions of this one: not stored (the
// retained stream is the cluster's store) and not counted as received.
// It returns the number of sessions it went to.
func (e *Broker) RouteRemote(m *Message, buf *[]Match, now time.Time) int {
	return e.route(m, buf, now, 0)
}

// RouteGroup hands m to one local member of the shared subscription group
// share on filter (without "$share/{share}/"), as RouteAt does for each
// matching group. It reports whether a member took it: false when the
// group has no member here any more (it left while the message
// travelled) or none whose session is live.
func (e *Broker) RouteGroup(share, filter string, m *Message, now time.Time) bool {
	taken, _ := e.RouteGroupOwed(share, filter, m, now)
	return taken
}

// RouteGroupOwed is RouteGroup, which also reports whether the member
// that took m owes it through the group: a QoS 1/2 delivery numbered
// for the member's record (GateOut, SharedOwed), whose record write
// lists m by its stream sequence. A member that took m without owing it
// (at QoS 0, or before its session has a gate) will never list it.
func (e *Broker) RouteGroupOwed(share, filter string, m *Message, now time.Time) (taken, owed bool) {
	e.order.RLock()
	defer e.order.RUnlock()
	e.router.mu.RLock()
	g := e.router.trie.Group(share, filter)
	e.router.mu.RUnlock()
	if g == nil {
		return false, false
	}
	if taken, owed = e.deliverSharedOwed(g, m, now); taken {
		e.stats.MsgsOut.Add(1)
	}
	return taken, owed
}

// InboundID returns the packet id the publisher sent m with (0 for QoS 0
// and for messages not of a client): with From, a client's QoS 1 or 2
// retransmission (DUP) has the same, which is how a backend stores it
// once.
func (m *Message) InboundID() uint16 { return m.inPID }

// SetWillRoute makes route the routing of the wills this broker's
// sessions leave (instead of RouteAt): a cluster backend's, which also
// sends them to the other nodes. Call it before any session opens.
func (e *Broker) SetWillRoute(route func(m *Message, buf *[]Match, now time.Time) int) {
	e.willRoute = route
}

// SetSharedOrphan makes fn the taker of a message that came through the
// shared subscription group share on filter to a session that ended
// without acknowledging it, when no other member of the group here takes
// it (4.8.2): a cluster backend's, which hands it to a member on another
// node. fn is called with no lock held and must not block. Call it before
// any session opens.
func (e *Broker) SetSharedOrphan(fn func(share, filter string, m *Message)) {
	e.sharedOrphan = fn
}
