package broker

// Exactly once across a crash (durability sync). The store's commit is
// the point where a QoS 2 exchange may become visible to the other side:
//
//   - Outbound: a QoS 2 PUBLISH to a persistent session leaves only once
//     the store holds the delivery with its packet id, and a PUBREL only
//     once it holds the delivery's PUBREL step (outLocked, pubrelLocked).
//     So every id the subscriber may hold awaiting PUBREL is in the store
//     as a delivery in flight until its PUBCOMP: after a restart the
//     gateway re-sends the same PUBLISH (DUP, same id) or the PUBREL, as
//     [MQTT-4.3.3] and [MQTT-4.4.0-1] require, never a PUBLISH after a
//     PUBREL, and it never gives a held id to another message (the
//     allocator skips ids in flight; restoredNextPID).
//   - Inbound: a QoS 2 PUBLISH's id awaiting PUBREL and every delivery it
//     routes commit in one transaction (storeGroup), and PUBREC goes after
//     that commit. A message routed before the commit reaches no
//     persistent QoS 2 subscriber before it (the rule above); if the
//     gateway dies first, neither the id nor the deliveries exist, and the
//     publisher's re-send is routed as new. After the commit the re-send
//     finds the id and is acknowledged without routing [MQTT-4.3.3-10].
//     PUBCOMP goes once the id's removal is stored: a publisher that got
//     PUBCOMP may reuse the id, which must then be new to the gateway.
//
// This is deduplication against the stored id rather than routing after
// the commit: routing stays on the publisher's read goroutine, one commit
// (one fsync, shared by the group) carries the id and the deliveries, and
// QoS 0 and memory mode take no extra step; a QoS 1 delivery waits only
// behind a waiting QoS 2 packet of its connection. What it does not cover:
// a copy sent at QoS 0 or QoS 1 before the commit may arrive again when
// the publisher re-sends (QoS 1 allows it; QoS 0 then arrives twice), and
// a non-persistent session loses its state with the process anyway.
//
// Durability async: the store acknowledges at once and commits every
// flush interval, so the rules above order the packets but a crash loses
// up to an interval of state; memory: nothing survives a restart.

import "edgemq/mqtt"

// outLocked queues an outbound QoS 1/2 PUBLISH of s on ch, the client
// holding s. For a
// persistent session, a QoS 2 one leaves once the store holds its packet
// id, and a QoS 1 one queued while another packet waits goes behind it:
// a topic's messages keep their order [MQTT-4.6.0-6], and re-sent ones
// theirs [MQTT-4.6.0-1]. In a cluster a QoS 2 one, and one that came
// through a shared subscription and is not in the record yet, leaves
// once the cluster's record holds it (cluster_out.go). s.mu held.
func (s *Session) outLocked(ch Client, d *Delivery) {
	if s.cl != nil && s.gateLocked(ch, d.qos == 2 || s.sharedUnrecordedLocked(d), func() { s.outStoredLocked(ch, d) }) {
		return // cluster_out.go: once the cluster's record holds it
	}
	s.outStoredLocked(ch, d)
}

// outStoredLocked is outLocked past the cluster's gate. s.mu held.
func (s *Session) outStoredLocked(ch Client, d *Delivery) {
	out := s.link.Out // ch's: ch holds s
	if s.p != nil && (d.qos == 2 || ch.OutWaiting()) {
		ch.AfterStoredOut(func() { out.Deliver(d) })
		return
	}
	out.Deliver(d)
}

// pubrelLocked queues a PUBREL for the outbound QoS 2 delivery pid on
// ch; for a persistent session once the store holds its PUBREL step, in
// the order of the PUBRECs [MQTT-4.6.0-4]. s.mu held.
func (s *Session) pubrelLocked(ch Client, pid uint16, code mqtt.ReasonCode) {
	if s.cl != nil && code == mqtt.Success && s.gateLocked(ch, true, func() { s.pubrelStoredLocked(ch, pid, code) }) {
		return // cluster_out.go: once the cluster's record holds the step
	}
	s.pubrelStoredLocked(ch, pid, code)
}

// pubrelStoredLocked is pubrelLocked past the cluster's gate. s.mu held.
func (s *Session) pubrelStoredLocked(ch Client, pid uint16, code mqtt.ReasonCode) {
	if s.p != nil {
		ch.AfterStoredOut(func() { ch.Pubrel(pid, code) })
		return
	}
	ch.Pubrel(pid, code)
}

// restoredNextPID is where the packet id allocator of a restored session
// continues: after the id of its newest delivery in flight (order is
// restored by delivery sequence, which follows the sends), or after the
// stored counter when none is in flight. The
// stored counter alone is written with the session record only, so it
// may lag the ids in use; allocPID also skips every id in flight, so no
// id the client may still hold is given to another message
// [MQTT-2.2.1-3].
func restoredNextPID(st *sessionState, stored uint16) uint16 {
	if n := len(st.order); n > 0 {
		return st.order[n-1]
	}
	return stored
}
