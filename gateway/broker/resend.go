package broker

// Resuming a session: what happens to a delivery in flight (sent on an
// earlier connection, not acknowledged) that cannot be sent again as it
// was (resendLocked, delivery.go).
//
//   - Expired: sent again all the same. Expiry applies only until onward
//     delivery has started [MQTT-3.3.2-5], and a sender "MUST NOT apply
//     Message expiry if a PUBLISH packet has been sent" [MQTT-4.3.3-7];
//     unacknowledged PUBLISH packets are re-sent on resumption
//     [MQTT-4.4.0-1]. Its Message Expiry Interval is then 1 (gateway/proto/encode.go).
//   - Over the new connection's Maximum Packet Size: the server "MUST NOT
//     send packets exceeding Maximum Packet Size" [MQTT-3.1.2-24]; it
//     discards the message "and then behave[s] as if it had completed
//     sending that Application Message" [MQTT-3.1.2-25].
//   - Its owner may no longer read it (owner.go): it is not sent again, as
//     no new message of the topic is.
//
// In the last two cases a QoS 1 delivery is forgotten, its packet id
// freed: once a QoS 1 receiver has sent PUBACK it takes any PUBLISH with
// the same id as new [MQTT-4.3.2-5], and one that never got the PUBLISH
// holds nothing under the id, so no later message is mistaken for it.
// A QoS 2 PUBLISH awaiting PUBREC is different: the client may have got it
// and sent a PUBREC that was lost, and then holds the id awaiting PUBREL,
// taking any PUBLISH under that id as a repeat [MQTT-4.3.3-10]; freeing
// the id would lose the next message given it. So the flow is completed
// instead of dropped: the gateway goes on to the release step as if the
// PUBREC had come (what completing the sending of a QoS 2 message is,
// [MQTT-3.1.2-25]), stores that step, sends PUBREL, and frees the id only
// at PUBCOMP, as for any PUBREL [MQTT-4.3.3-5]. The client answers PUBREL
// with PUBCOMP whether or not it holds the id [MQTT-4.3.3-11] (0x92 Packet
// Identifier not found when it does not, 3.14.2.1); a client that stores
// QoS 2 messages until PUBREL (method B of 4.3.3) then releases the copy
// it got while it could read it. Keeping the id reserved without a PUBREL
// instead would hold it, the stored message and a window slot for the
// rest of the session: no packet of the client can end that flow.

import "edgemq/mqtt"

// endUnsentLocked ends the flow of d, a delivery in flight from an
// earlier connection that is not sent again (see above), and reports
// whether a PUBREL was queued on ch: for QoS 2 past the PUBLISH, the
// release step is stored and PUBREL goes; otherwise d is forgotten and
// its id freed. s.mu held.
func (s *Session) endUnsentLocked(ch Client, d *Delivery) bool {
	if d.qos != 2 || d.state != awaitingPubrec {
		d.held = false // s.st.held restarts from 0 in resendLocked
		s.st.removeInflight(d.pid)
		s.deleteDeliveryLocked(d)
		return false
	}
	// A copy: the old connection's writer may still read d.
	rel := *d
	rel.held, rel.state = false, awaitingPubcomp
	s.st.setInflight(d.pid, &rel)
	s.putDeliveryLocked(&rel)
	s.pubrelLocked(ch, rel.pid, mqtt.Success) // persist_qos2.go
	return true
}
