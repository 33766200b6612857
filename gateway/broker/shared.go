package broker

// Shared subscriptions: "$share/{ShareName}/{filter}" (MQTT 5.0 4.8.2),
// also accepted from 3.x clients.
//
// Data: the router keeps each group in the topic trie at the node of its
// filter, by share name (topictrie.Group), so a topic matches a group at
// most once. A group's members are a copy-on-write slice behind an atomic
// pointer: join and leave replace it while holding router.mu (write), and
// readers load it with no lock. A match carries the group only; the
// members are loaded when the message is handed out.
//
// Choice: each matching group gets one copy of a message, on top of (and
// independently of) the non-shared subscriptions, which keep their one
// copy per session rule [MQTT-3.3.4-2..5]. The group's cursor (round
// robin, or a random index with session.shared_subscription_strategy:
// random) gives the first candidate; from there the members are tried in
// turn, first for one with a connection, then, when none has one, for one
// that takes it offline (its pending queue, QoS 1/2).
//
// Online-ness is session.owner != nil, read by offer under the member's
// session.mu, which also hands the delivery over: there is no window
// between the check and the delivery. Members are read without
// router.mu, and finding an online member locks the members one at a
// time from the cursor on (one lock when the first candidate is
// connected), under the route's locks only: LOCKS.md.
//
// Redelivery: deliveries through a group are marked with it
// (delivery.share). When a member's session ends (registry onEnd →
// Broker.endSession), its marked deliveries the client did not
// acknowledge (in flight before PUBACK or PUBREC, or pending) go, as new
// deliveries with a new packet id and DUP 0, to another member of the
// group (4.8.2: "If the Client's Session terminates before the Client
// reconnects, the Server SHOULD send the Application Message to another
// Client that is subscribed to the same Shared Subscription").

import (
	"math/rand/v2"
	"time"

	"edgemq/gateway/stats"
)

// sharedDelivery is m as member sub of group g receives it.
func sharedDelivery(g *shareGroup, sub *Subscription, m *Message) *Delivery {
	// No Local is refused on shared subscriptions [MQTT-3.8.3-4]; Retain
	// As Published and Subscription Identifiers apply as usual.
	d := &Delivery{msg: m, qos: min(sub.qos, m.pub.QoS), retain: sub.retainAsPublished && m.pub.Retain, share: g}
	if sub.id != 0 {
		d.subIDs = []uint32{sub.id}
	}
	return d
}

// deliverShared hands m to one member of g: to a member with a connection
// when there is one, otherwise to one without (queued for QoS 1/2,
// dropped and counted for QoS 0). It reports whether a member took it; it
// is false only when the group has no member whose session is live.
func (e *Broker) deliverShared(g *shareGroup, m *Message, now time.Time) bool {
	taken, _ := e.deliverSharedOwed(g, m, now)
	return taken
}

// deliverSharedOwed is deliverShared, which also reports whether the
// member that took m owes it through the group, numbered for its
// record (cluster_out.go: sharedOwedLocked): a QoS 1/2 delivery to a
// session with a cluster gate.
func (e *Broker) deliverSharedOwed(g *shareGroup, m *Message, now time.Time) (taken, owed bool) {
	members := g.Members()
	n := len(members)
	if n == 0 {
		return false, false
	}
	var start int
	if e.router.sharedRandom {
		start = rand.IntN(n)
	} else {
		start = int(g.Next() % uint64(n))
	}
	acl := e.reads.load()
	checkReads := e.reads.checks(acl)
	denied := false
	for _, online := range []bool{true, false} {
		for i := range n {
			mb := members[(start+i)%n]
			if checkReads && !mb.Key.mayRead(mb.Sub, acl) {
				denied = true // owner.go: another member may read it
				continue
			}
			if taken, owed := mb.Key.offer(sharedDelivery(g, mb.Sub, m), now, online); taken {
				return true, owed
			}
		}
	}
	if denied {
		e.stats.Drop(stats.DropReadDenied)
	}
	return false, false
}

// offer hands d to s unless s ended, or, with online, has no connection.
// It reports whether s took d, and whether s owes d through its group
// (numbered for its record: sharedOwedLocked).
func (s *Session) offer(d *Delivery, now time.Time, online bool) (taken, owed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended || (online && s.owner == nil) {
		return false, false
	}
	s.deliverLocked(d, now)
	return true, d.shareMark != 0
}

// takeShared removes and returns, in send order, the deliveries through a
// shared subscription the client has not acknowledged: in flight before
// PUBACK or PUBREC, then pending. A QoS 2 delivery past PUBREC was
// received, and stays. The pending queue is left to the caller. s.mu must
// be held.
func (st *sessionState) takeShared() []*Delivery {
	var out []*Delivery
	for _, d := range st.inflightInOrder() {
		if d.share != nil && d.state != awaitingPubcomp {
			out = append(out, d)
			st.removeInflight(d.pid)
		}
	}
	for _, d := range st.pending {
		if d.share != nil {
			out = append(out, d)
		}
	}
	return out
}

// redeliverShared sends the shared deliveries an ended session did not
// complete to other members of their groups, as new messages. The ended
// session has left the groups already.
func (e *Broker) redeliverShared(ds []*Delivery) {
	now := time.Now()
	for _, d := range ds {
		if d.msg.Expired(now) {
			e.stats.Drop(stats.DropExpired)
			continue
		}
		// A group with no member left here loses the message, as a
		// non-shared subscription's ended session does; in a cluster
		// the group's members on other nodes may take it.
		if !e.deliverShared(d.share, d.msg, now) && e.sharedOrphan != nil {
			e.sharedOrphan(d.share.Name(), d.share.Filter(), d.msg)
		}
	}
}
