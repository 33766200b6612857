package broker

import (
	"sync"
	"sync/atomic"
	"time"

	"edgemq/mqtt"
)

// Message is a routed application Message. It is shared, read-only, by
// every subscriber it goes to: the payload is never copied or re-encoded
// per subscriber.
type Message struct {
	pub  *mqtt.Publish // topic resolved, topic alias and packet id removed
	from string        // publisher's client id, for No Local
	// sys marks the server's own $SYS messages (sys.go): routed like any
	// other but not counted as messages received.
	sys bool
	// inPID is the packet id the publisher sent it with (0 for QoS 0):
	// with from, what tells a retransmission (InboundID, route_cluster.go).
	inPID uint16
	// expires is when the Message Expiry Interval runs out; zero: never.
	expires time.Time
	// id and enc are the message's store identity and encoding, made once
	// when it is first stored (persist.go).
	encOnce sync.Once
	id      uint64
	enc     []byte
	// seq is the message's sequence in the cluster's messages stream, 0
	// for none (cluster.go).
	seq uint64
	// plain is the delivery every subscriber that gets the message at
	// QoS 0 with no flags of its own shares (deliveryFor); plain.msg is
	// set by newMessage.
	plain Delivery
}

// DeliveryFor returns a delivery of m at qos with the retain flag and
// Subscription Identifiers of one subscriber. A QoS 0 delivery with
// neither is never changed once made (it is not stored, has no packet id
// and is not redelivered), so those share m.plain instead of allocating
// one per subscriber.
func (m *Message) DeliveryFor(qos byte, retain bool, subIDs []uint32) *Delivery {
	if qos == 0 && !retain && subIDs == nil && m.plain.msg == m {
		return &m.plain
	}
	return &Delivery{msg: m, qos: qos, retain: retain, subIDs: subIDs}
}

// Expired reports whether the message Expired by now.
func (m *Message) Expired(now time.Time) bool {
	return !m.expires.IsZero() && !now.Before(m.expires)
}

// Subscription is one filter of a session, with its options.
type Subscription struct {
	filter            string
	qos               byte
	noLocal           bool
	retainAsPublished bool
	retainHandling    byte
	id                uint32 // Subscription Identifier; 0: none
	// read caches whether the session's owner may still receive what
	// comes through the subscription, with the generation it was decided
	// at (owner.go).
	read atomic.Uint64
}

// outState is where an outbound QoS 1/2 delivery stands.
type outState byte

const (
	awaitingPuback  outState = iota + 1 // QoS 1 PUBLISH sent
	awaitingPubrec                      // QoS 2 PUBLISH sent
	awaitingPubcomp                     // QoS 2 PUBREL sent
)

// Delivery is one message on its way to one session.
type Delivery struct {
	msg    *Message
	qos    byte
	retain bool
	subIDs []uint32
	pid    uint16
	dup    bool
	state  outState
	// share is the shared subscription group the delivery came through,
	// nil for a non-shared subscription: when the session ends before
	// the client acknowledged it, it goes to another member (shared.go).
	share *shareGroup
	// shareMark numbers a QoS 1/2 delivery through a shared subscription
	// in its session (cluster_out.go: sharedOwedLocked), 0 until it is
	// queued or sent: the session's record lists it once the record
	// written holds the marks up to it.
	shareMark uint64
	// held is set on a delivery in flight from an earlier connection that
	// the resumed connection's smaller window has not let through again
	// yet (delivery.go resendLocked). It keeps its packet id meanwhile.
	held bool
	// dseq identifies the delivery in the store (persist.go); 0: not
	// stored.
	dseq uint64
	// paced is set on a retained delivery whose sender waited for room
	// in the queue (retained_feed.go): the queue does not drop it.
	paced bool
}

// sessionState is the plain data of an MQTT session: what survives the
// connection when the Session Expiry Interval allows. Its owner (the
// session) guards it.
type sessionState struct {
	clientID string
	subs     map[string]*Subscription
	subBytes int // filter bytes in subs (putSub, dropSub in quota.go)
	// expiry is the Session Expiry Interval in force, in seconds.
	expiry uint32
	// connectExpiry is the interval of the CONNECT, for the DISCONNECT
	// rule (3.14.2.2.2).
	connectExpiry uint32
	// inflight holds outbound QoS 1/2 deliveries by packet id; order keeps
	// their send order for redelivery [MQTT-4.6.0-5, MQTT-4.6.0-6].
	inflight map[uint16]*Delivery
	order    []uint16
	// held counts the deliveries in inflight with held set: the ones sent
	// on this connection are len(inflight) - held.
	held int
	// pending holds QoS 1/2 deliveries waiting for the inflight window or
	// for a connection.
	pending      []*Delivery
	pendingBytes int64 // payload bytes in pending
	// awaitingRel holds inbound QoS 2 packet ids between PUBREC and
	// PUBREL, kept across reconnects [MQTT-4.3.3].
	awaitingRel map[uint16]struct{}
	nextPID     uint16
	nextDSeq    uint64 // last delivery store id (persist.go)
}

// newSessionState returns the state of a new session. Its maps start nil
// and are made on first use (putSub, setInflight, addRel): most sessions
// of an edge gateway are idle devices that never subscribe or use QoS 2,
// and an empty map still costs its header.
func newSessionState(clientID string) sessionState {
	return sessionState{clientID: clientID}
}

// setInflight records d in flight under pid, making the map on first use.
func (s *sessionState) setInflight(pid uint16, d *Delivery) {
	if s.inflight == nil {
		s.inflight = make(map[uint16]*Delivery)
	}
	s.inflight[pid] = d
}

// addRel records an inbound QoS 2 packet id awaiting PUBREL, making the
// set on first use.
func (s *sessionState) addRel(pid uint16) {
	if s.awaitingRel == nil {
		s.awaitingRel = make(map[uint16]struct{})
	}
	s.awaitingRel[pid] = struct{}{}
}

// allocPID returns a packet id not in flight [MQTT-2.2.1-3]. The caller
// ensures fewer than 65535 are in flight.
func (s *sessionState) allocPID() uint16 {
	for {
		s.nextPID++
		if s.nextPID == 0 {
			s.nextPID = 1
		}
		if _, used := s.inflight[s.nextPID]; !used {
			return s.nextPID
		}
	}
}

// addInflight records d as sent.
func (s *sessionState) addInflight(d *Delivery) {
	d.pid = s.allocPID()
	if d.qos == 1 {
		d.state = awaitingPuback
	} else {
		d.state = awaitingPubrec
	}
	s.setInflight(d.pid, d)
	s.order = append(s.order, d.pid)
}

// removeInflight forgets a finished delivery. Acks mostly come in send
// order, so the id is usually first.
func (s *sessionState) removeInflight(pid uint16) {
	if d := s.inflight[pid]; d != nil && d.held {
		s.held--
	}
	delete(s.inflight, pid)
	for i, p := range s.order {
		if p == pid {
			if i == 0 {
				s.order = s.order[1:]
			} else {
				s.order = append(s.order[:i], s.order[i+1:]...)
			}
			return
		}
	}
}

// inflightInOrder lists the deliveries in flight in the order they were
// first sent.
func (s *sessionState) inflightInOrder() []*Delivery {
	out := make([]*Delivery, 0, len(s.order))
	for _, pid := range s.order {
		out = append(out, s.inflight[pid])
	}
	return out
}
