package broker

import "edgemq/mqtt"

// Client is the connection that holds a session, as the broker calls it:
// the protocol side implements it (the channel). What "holding" means is
// the broker's business (Sessions.Open, Detach).
//
// Concurrency: every method is called from any goroutine (publishers
// routing to the session, the store's commit callbacks, timers), with
// the session's lock held (session.mu, possibly under engine.order,
// registry.mu and bolt.DB.gate): a method must not block, must not call
// back into the broker, and may take only the connection's own write
// queue lock (writeQueue.mu, LOCKS.md). No ctx: nothing here waits.
// Ordering: packets queued through one Client (and its Link's Out) leave
// in the order they were queued, except that a QoS 0 delivery may be
// dropped.
type Client interface {
	// Link returns what the session keeps of the client while it holds
	// it (Link); called once, when the client attaches.
	Link() Link
	// Pubrel queues a PUBREL for the outbound QoS 2 delivery pid.
	Pubrel(pid uint16, code mqtt.ReasonCode) bool
	// Room returns what paced deliveries (retained_feed.go) may still
	// queue.
	Room() QueueRoom
	// SetRefill sets fn, replacing the previous one, to be called with
	// no lock held each time the connection's writer takes a batch out
	// of its queue, so that paced deliveries refill it.
	SetRefill(fn func())
	// AfterStoredOut runs fn, which queues an outbound packet, once what
	// was queued to the store so far is committed, after the packets
	// waiting so before it; a store failure closes the connection
	// instead. fn runs on the store's goroutine or the caller's, under
	// no lock or the caller's (LOCKS.md, store done callbacks).
	AfterStoredOut(fn func())
	// OutWaiting reports whether an outbound packet waits for the store:
	// a packet queued directly now would overtake it.
	OutWaiting() bool
	// Kick disconnects the client with code (Session taken over).
	Kick(code mqtt.ReasonCode)
}

// Link is what a session keeps of the client that holds it, so that a
// delivery reads plain fields and makes one call (Out.Deliver) rather
// than asking the client: the client's negotiated limits, fixed once it
// is connected, and its write queue.
type Link struct {
	// Out is the connection's write queue.
	Out Queue
	// MaxPacketSize is the client's Maximum Packet Size, 0 for none
	// [MQTT-3.1.2-24]; Version its protocol version, which sizes a
	// PUBLISH.
	MaxPacketSize uint32
	Version       mqtt.Version
	// Window is the client's Receive Maximum, the outbound inflight
	// window [MQTT-3.3.4-9].
	Window int
}

// Queue is a connection's outbound queue as the broker uses it: safe from
// any goroutine, it takes only its own lock (writeQueue.mu) and never
// blocks.
type Queue interface {
	// Deliver queues an outbound PUBLISH of d. A QoS 0 delivery that is
	// not paced may be dropped (and counted) when the queue is full. It
	// reports whether d was queued; packets leave in the order queued.
	Deliver(d *Delivery) bool
}

// QueueRoom is what paced deliveries (retained_feed.go) may still add to
// a connection's write queue.
type QueueRoom struct {
	// Items is the number of packets.
	Items int
	// Bytes is the payload bytes left when Bounded is set.
	Bytes   int64
	Bounded bool
	// Empty is set when the queue holds no payload: then one delivery of
	// any size may go, so that a message over the bytes left is not held
	// forever.
	Empty bool
}
