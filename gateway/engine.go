package gateway

import (
	"cmp"
	"slices"
	"time"

	"edgemq/mqtt"

	"go.uber.org/zap"
)

// newMessage makes a routed message of an inbound PUBLISH, taking it
// over: the packet id and DUP belong to the publisher's exchange only.
func newMessage(p *mqtt.Publish, from string, now time.Time) *message {
	p.PacketID, p.Dup = 0, false
	m := &message{pub: p, from: from}
	if p.Properties.Has(mqtt.PropMessageExpiryInterval) {
		m.expires = now.Add(time.Duration(p.Properties.MessageExpiryInterval) * time.Second)
	}
	return m
}

// route stores m when retained and delivers it to every matching session.
// Overlapping subscriptions of one session give one copy, at the highest
// granted QoS, carrying every matching Subscription Identifier
// [MQTT-3.3.4-2..5]. buf is scratch space reused between calls. It returns
// the number of sessions the message went to.
func (e *engine) route(m *message, buf *[]match) int {
	e.stats.msgsIn.Add(1)
	if m.pub.Retain {
		// [MQTT-3.3.1-5]: store it, replacing the topic's previous one.
		e.router.retain(m)
	}
	ms := e.router.matches((*buf)[:0], m.pub.Topic)
	defer func() { clear(ms); *buf = ms[:0] }()
	if len(ms) > 1 {
		slices.SortFunc(ms, func(a, b match) int { return cmp.Compare(a.s.seq, b.s.seq) })
	}
	now := time.Now()
	sent := 0
	for i := 0; i < len(ms); {
		s := ms[i].s
		j := i
		var qos byte
		var retain, any bool
		var ids []uint32
		for ; j < len(ms) && ms[j].s == s; j++ {
			sub := ms[j].sub
			if sub.noLocal && s.st.clientID == m.from {
				continue // [MQTT-3.8.3-3]
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
			continue
		}
		s.deliver(&delivery{msg: m, qos: min(qos, m.pub.QoS), retain: retain, subIDs: ids}, now)
		sent++
	}
	e.stats.msgsOut.Add(int64(sent))
	return sent
}

// publishWill publishes a will message as the client's PUBLISH
// [MQTT-3.1.2-8].
func (e *engine) publishWill(clientID string, w *mqtt.Will) {
	pub := &mqtt.Publish{QoS: w.QoS, Retain: w.Retain, Topic: w.Topic, Payload: w.Payload, Properties: w.Properties}
	pub.Properties.Clear(mqtt.PropWillDelayInterval)
	e.log.Debug("publishing will", zap.String("client_id", clientID), zap.String("topic", w.Topic))
	var buf []match
	e.route(newMessage(pub, clientID, time.Now()), &buf)
}

// endSession drops the subscriptions of a session that ended.
func (e *engine) endSession(s *session) {
	s.mu.Lock()
	filters := make([]string, 0, len(s.st.subs))
	for f := range s.st.subs {
		filters = append(filters, f)
	}
	s.st.pending = nil
	s.mu.Unlock()
	for _, f := range filters {
		e.router.unsubscribe(s, f)
	}
}
