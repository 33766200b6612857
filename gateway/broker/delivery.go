package broker

import (
	"time"

	"edgemq/gateway/stats"
	"edgemq/mqtt"
)

// deliver hands d to the session: to its connection at once when the
// inflight window allows, into the pending queue otherwise (QoS 1/2), or
// nowhere (QoS 0 while offline). It is called from publishers' goroutines.
func (s *Session) deliver(d *Delivery, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return
	}
	if s.cl != nil && s.take(d) { // cluster.go: held while replaying
		return
	}
	s.deliverLocked(d, now)
}

// deliverLocked is deliver with s.mu held and s not ended.
func (s *Session) deliverLocked(d *Delivery, now time.Time) {
	ch := s.owner
	if d.qos == 0 {
		if ch == nil {
			s.env.stats.Drop(stats.DropOffline)
			return
		}
		if s.fits(d, now) {
			s.link.Out.Deliver(d)
		}
		return
	}
	if ch == nil || len(s.st.inflight) >= s.link.Window || len(s.st.pending) > 0 {
		s.queueLocked(d)
		return
	}
	s.sendLocked(d, ch, now)
}

// queueLocked appends d to the pending queue, bounded by
// session.max_offline_messages and max_offline_bytes.
func (s *Session) queueLocked(d *Delivery) {
	size := int64(len(d.msg.pub.Payload))
	if len(s.st.pending) >= s.env.maxPending || (s.env.maxPendingBytes > 0 && s.st.pendingBytes+size > s.env.maxPendingBytes) {
		// Overflow policy: the newest message is dropped; what is queued
		// keeps its order.
		s.env.stats.Drop(stats.DropQueueFull)
		return
	}
	s.st.pending = append(s.st.pending, d)
	s.st.pendingBytes += size
	s.putDeliveryLocked(d)
}

// sendLocked puts a QoS 1/2 delivery in flight on ch.
func (s *Session) sendLocked(d *Delivery, ch Client, now time.Time) {
	if !s.fits(d, now) {
		s.deleteDeliveryLocked(d)
		return
	}
	s.st.addInflight(d)
	s.putDeliveryLocked(d)
	s.outLocked(ch, d) // persist_qos2.go: QoS 2 leaves once its id is stored
}

// fillLocked moves deliveries into the inflight window: first those held
// since an earlier connection, in their order, then pending ones.
func (s *Session) fillLocked(ch Client, now time.Time) {
	window := s.link.Window
	for i := 0; s.st.held > 0 && len(s.st.inflight)-s.st.held < window && i < len(s.st.order); i++ {
		if d := s.st.inflight[s.st.order[i]]; d.held {
			d.held = false
			s.st.held--
			s.outLocked(ch, d)
		}
	}
	n := 0
	for n < len(s.st.pending) && len(s.st.inflight) < window {
		d := s.st.pending[n]
		n++
		s.st.pendingBytes -= int64(len(d.msg.pub.Payload))
		if d.msg.Expired(now) {
			s.env.stats.Drop(stats.DropExpired)
			s.deleteDeliveryLocked(d)
			continue
		}
		if !s.mayReadQueuedLocked(d) { // owner.go: counted there
			s.deleteDeliveryLocked(d)
			continue
		}
		s.sendLocked(d, ch, now)
	}
	clear(s.st.pending[:n])
	s.st.pending = s.st.pending[n:]
	if len(s.st.pending) == 0 {
		s.st.pending = nil
	}
	s.feedLocked(ch, now) // retained_feed.go: then the retained ones
}

// resendLocked re-sends, in their original order, the deliveries in
// flight when a session is resumed: PUBLISH with DUP set, or PUBREL for
// QoS 2 past PUBREC [MQTT-4.4.0-1, MQTT-4.6.0-5, MQTT-4.6.0-6]. The new connection's
// window counts them all [MQTT-3.3.4-9]: a PUBLISH beyond it is held, with
// its packet id, until acknowledgements make room (fillLocked). Then the
// window fills from the pending queue.
func (s *Session) resendLocked(ch Client) {
	now := s.now() // clock.go
	window := s.link.Window
	sent := 0
	s.st.held = 0
	for _, d := range s.st.inflightInOrder() {
		if d.state == awaitingPubcomp {
			s.pubrelLocked(ch, d.pid, mqtt.Success) // persist_qos2.go
			sent++
			continue
		}
		// Expired or not, it is sent again: onward delivery has started
		// [MQTT-3.3.2-5, MQTT-4.3.3-7] (resend.go).
		if !s.fitsSize(d, now) || !s.mayReadQueuedLocked(d) {
			// Over the new connection's Maximum Packet Size
			// [MQTT-3.1.2-25], counted by fitsSize; or the owner may no
			// longer read it (owner.go): not sent again (resend.go).
			if s.endUnsentLocked(ch, d) {
				sent++
			}
			continue
		}
		// A copy: the old connection's writer may still read d.
		re := *d
		re.dup, re.held = true, sent >= window
		s.st.setInflight(d.pid, &re)
		if re.held {
			s.st.held++
			continue
		}
		sent++
		s.outLocked(ch, &re)
	}
	s.fillLocked(ch, now)
}

// Acked handles PUBACK, PUBREC and PUBCOMP from the client for an
// outbound delivery. It returns nothing: after a PUBREC it queues the
// PUBREL on ch itself (and answers a PUBREC of an unknown packet id
// with PUBREL 0x92), and after a final ack it fills the freed slot from
// the session's queue.
func (s *Session) Acked(t mqtt.Type, pid uint16, code mqtt.ReasonCode, ch Client) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.st.inflight[pid]
	switch t {
	case mqtt.PUBACK:
		if d == nil || d.state != awaitingPuback {
			return // a late or duplicate ack; nothing to release
		}
		s.st.removeInflight(pid)
		s.deleteDeliveryLocked(d)
	case mqtt.PUBREC:
		if d == nil || d.state != awaitingPubrec {
			if d == nil {
				// [MQTT-4.3.3]: answer an unknown id so the client can
				// release it.
				s.pubrelLocked(ch, pid, mqtt.PacketIdentifierNotFound)
			}
			return
		}
		if code.IsError() {
			// The exchange ends at a failing PUBREC (4.3.3).
			s.st.removeInflight(pid)
			s.deleteDeliveryLocked(d)
			break
		}
		if d.held {
			// Received on an earlier connection: it is not sent again.
			d.held = false
			s.st.held--
		}
		d.state = awaitingPubcomp
		s.putDeliveryLocked(d)
		// [MQTT-4.3.3-4], once the store holds the step (persist_qos2.go):
		// after PUBREL the PUBLISH must never be sent again.
		s.pubrelLocked(ch, pid, mqtt.Success)
		return
	case mqtt.PUBCOMP:
		if d == nil || d.state != awaitingPubcomp {
			return
		}
		s.st.removeInflight(pid)
		s.deleteDeliveryLocked(d)
	}
	if !s.ended && s.owner == ch {
		s.fillLocked(ch, s.now())
	}
}

// fits reports whether d may go to the session's client: not expired and
// within its Maximum Packet Size [MQTT-3.1.2-25]. It counts the drop
// otherwise. s.mu held, with a client (s.link set).
func (s *Session) fits(d *Delivery, now time.Time) bool {
	if d.msg.Expired(now) {
		s.env.stats.Drop(stats.DropExpired)
		return false
	}
	return s.fitsSize(d, now)
}

// fitsSize reports whether d is within the client's Maximum Packet Size
// [MQTT-3.1.2-25], and counts the drop otherwise.
func (s *Session) fitsSize(d *Delivery, now time.Time) bool {
	if max := s.link.MaxPacketSize; max > 0 {
		var pub mqtt.Publish
		PublishFor(&pub, d, s.link.Version, now)
		if pub.PacketID == 0 && pub.QoS > 0 {
			pub.PacketID = 1 // the size is the same for every id
		}
		if uint32(mqtt.PublishSize(&pub, s.link.Version)) > max {
			s.env.stats.Drop(stats.DropTooLarge)
			return false
		}
	}
	return true
}
