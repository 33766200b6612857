package broker

// What the protocol side changes in a session on the client's behalf:
// the inbound QoS 2 ids awaiting PUBREL, the expiry a DISCONNECT sets.
// Each method takes session.mu alone (or under the caller's store group
// and nothing else), and queues its store change under it (persist.go).

// ClientID returns the session's client id; fixed at creation.
func (s *Session) ClientID() string { return s.st.clientID }

// ReceiveQoS2 records the inbound QoS 2 packet id pid as awaiting PUBREL
// [MQTT-4.3.3]. dup reports that it awaits PUBREL already: a repeat, to
// acknowledge again without routing it [MQTT-4.3.3-10]. full says the
// connection's Receive Maximum is used up: a new id is then refused
// (refused set, nothing recorded) [MQTT-3.3.4-7]. A persistent session
// queues the id to the store; the caller holds the PUBLISH's store group
// so that the id and the routing commit together (persist_qos2.go).
func (s *Session) ReceiveQoS2(pid uint16, full bool) (dup, refused bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup = s.st.awaitingRel[pid]; dup {
		return true, false
	}
	if full {
		return false, true
	}
	s.st.addRel(pid)
	s.relLocked(pid, true) // persist.go
	return false, false
}

// Release ends the inbound QoS 2 exchange pid at PUBREL
// [MQTT-4.3.3-11]. found reports whether the id awaited PUBREL; stored,
// whether its removal was queued to the store, which PUBCOMP must then
// wait for: a publisher may reuse the id after PUBCOMP
// (persist_qos2.go).
func (s *Session) Release(pid uint16) (found, stored bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, found = s.st.awaitingRel[pid]
	delete(s.st.awaitingRel, pid)
	if found {
		s.relLocked(pid, false) // persist.go
	}
	return found, found && s.p != nil
}

// SetDisconnectExpiry sets the Session Expiry Interval a DISCONNECT
// asks for, v, lowered to the server's maximum max. It reports false,
// changing nothing, when the CONNECT's interval was 0 and v is not: a
// protocol error (3.14.2.2.2).
func (s *Session) SetDisconnectExpiry(v, max uint32) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.st.connectExpiry == 0 && v != 0 {
		return false
	}
	s.st.expiry = min(v, max)
	return true
}
