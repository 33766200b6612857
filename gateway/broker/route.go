package broker

import (
	"cmp"
	"slices"
	"time"

	"edgemq/gateway/logsafe"
	"edgemq/gateway/stats"
	"edgemq/mqtt"
)

// NewMessage makes a routed message of an inbound PUBLISH, taking it
// over: the packet id and DUP belong to the publisher's exchange only.
func NewMessage(p *mqtt.Publish, from string, now time.Time) *Message {
	m := &Message{pub: p, from: from, inPID: p.PacketID}
	p.PacketID, p.Dup = 0, false
	m.plain.msg = m
	if p.Properties.Has(mqtt.PropMessageExpiryInterval) {
		m.expires = now.Add(time.Duration(p.Properties.MessageExpiryInterval) * time.Second)
	}
	return m
}

// Route stores m when retained and delivers it to every matching session.
// Overlapping subscriptions of one session give one copy, at the highest
// granted QoS, carrying every matching Subscription Identifier
// [MQTT-3.3.4-2..5]. Each matching shared subscription group gets its own
// copy, to one member (shared.go). buf is scratch space reused between
// calls. It returns the number of sessions the message went to.
func (e *Broker) Route(m *Message, buf *[]Match) int {
	return e.RouteAt(m, buf, e.now())
}

// RouteAt is Route at time now, for a caller that has just read the
// clock (one reading per message on the publish path).
func (e *Broker) RouteAt(m *Message, buf *[]Match, now time.Time) int {
	return e.route(m, buf, now, routeAll)
}

// routeMode says what route does besides delivering to the matching
// non-shared subscriptions (route_cluster.go).
type routeMode uint8

const (
	// routeInbound: m is a local client's (or the server's own): counted
	// as received unless sys, and stored when retained.
	routeInbound routeMode = 1 << iota
	// routeGroups: the matching shared subscription groups get a copy,
	// to one local member each.
	routeGroups
	// routeAll is the single-node routing of RouteAt.
	routeAll = routeInbound | routeGroups
)

// route is RouteAt with mode.
func (e *Broker) route(m *Message, buf *[]Match, now time.Time, mode routeMode) int {
	e.order.RLock()
	defer e.order.RUnlock()
	if mode&routeInbound != 0 {
		if !m.sys {
			e.stats.MsgsIn.Add(1)
		}
		if m.pub.Retain {
			// [MQTT-3.3.1-5]: store it, replacing the topic's previous one.
			e.retained.store(m)
		}
	}
	ms, nodes := e.router.collect((*buf)[:0], m.pub.Topic)
	defer func() { clear(ms); *buf = ms[:0] }()
	if nodes > 1 && len(ms) > 1 {
		// Several filters matched: a session may have more than one.
		// With one, its sessions are distinct and its groups last.
		slices.SortFunc(ms, compareMatches)
	}
	sent := 0
	i := 0
	acl := e.reads.load() // the owners' read check (owner.go)
	checkReads := e.reads.checks(acl)
	for i < len(ms) && ms[i].Group == nil {
		s := ms[i].Key
		j := i
		var qos byte
		var retain, any, denied bool
		var ids []uint32
		for ; j < len(ms) && ms[j].Key == s; j++ {
			sub := ms[j].Sub
			if sub.noLocal && s.st.clientID == m.from {
				continue // [MQTT-3.8.3-3]
			}
			if checkReads && !s.mayRead(sub, acl) {
				// The owner may no longer read what this subscription
				// brings (owner.go).
				denied = true
				continue
			}
			any = true
			qos = max(qos, sub.qos)
			// [MQTT-3.3.1-12, MQTT-3.3.1-13]
			retain = retain || (sub.retainAsPublished && m.pub.Retain)
			if sub.id != 0 {
				ids = append(ids, sub.id)
			}
		}
		i = j
		if !any {
			if denied {
				e.stats.Drop(stats.DropReadDenied)
			}
			continue
		}
		s.deliver(m.DeliveryFor(min(qos, m.pub.QoS), retain, ids), now)
		sent++
	}
	// Shared subscription groups sort last. The one-copy rule is for
	// non-shared subscriptions: a session subscribed both ways, or to
	// several groups, gets a copy for each [4.8.2].
	if mode&routeGroups != 0 {
		for _, g := range ms[i:] {
			if e.deliverShared(g.Group, m, now) {
				sent++
			}
		}
	}
	e.stats.MsgsOut.Add(int64(sent))
	return sent
}

// compareMatches orders matches by session, in creation order, so that a
// session's matches are adjacent, and shared subscription groups last.
func compareMatches(a, b Match) int {
	if a.Group != nil || b.Group != nil {
		return cmp.Compare(boolByte(a.Group != nil), boolByte(b.Group != nil))
	}
	return cmp.Compare(a.Key.seq, b.Key.seq)
}

// publishWill publishes a will message as the client's PUBLISH
// [MQTT-3.1.2-8].
func (e *Broker) publishWill(clientID string, w *mqtt.Will) {
	pub := &mqtt.Publish{QoS: w.QoS, Retain: w.Retain, Topic: w.Topic, Payload: w.Payload, Properties: w.Properties}
	pub.Properties.Clear(mqtt.PropWillDelayInterval)
	e.log.Debug("publishing will", logsafe.String("client_id", clientID), logsafe.String("topic", w.Topic))
	var buf []Match
	now := e.now()
	m := NewMessage(pub, clientID, now)
	if e.willRoute != nil {
		e.willRoute(m, &buf, now) // a cluster's (route_cluster.go)
		return
	}
	e.RouteAt(m, &buf, now)
}

// endSession drops the subscriptions of a session that ended, and hands
// its unacknowledged shared subscription deliveries to other members.
func (e *Broker) endSession(s *Session) {
	e.quota.releaseSession(s) // quota.go
	s.mu.Lock()
	filters := make([]string, 0, len(s.st.subs))
	for f := range s.st.subs {
		filters = append(filters, f)
	}
	moved := s.st.takeShared()
	s.st.pending, s.st.pendingBytes = nil, 0
	s.stopAllRetainedLocked() // retained_feed.go
	s.mu.Unlock()
	for _, f := range filters {
		e.router.unsubscribe(s, f)
	}
	// What came through shared subscriptions and was not acknowledged
	// goes to other members of the groups, which s has left now (4.8.2).
	e.redeliverShared(moved)
}
