package backend

import "sync/atomic"

// Counters count a node's traffic with the other nodes, for metrics
// (ops): safe from any goroutine.
type Counters struct {
	// SentCore and SentStream count messages sent to NATS: QoS 0 on core
	// NATS, QoS 1 and 2 to the messages stream. SendFailed counts those
	// NATS refused at once (link down, over its max_payload).
	SentCore, SentStream, SendFailed atomic.Int64
	// StreamFailed counts stream publishes not acknowledged (an error or
	// no answer in time): their publishers were disconnected unanswered.
	StreamFailed atomic.Int64
	// Received counts messages from NATS routed to this node's sessions
	// (plain subscriptions) or shared groups; Copies counts the extra
	// copies of one message that arrived on several subscriptions and
	// were dropped; Echoes this node's own messages back from NATS,
	// dropped; Unroutable messages dropped because they were no MQTT
	// message or their group had left the node.
	Received, Copies, Echoes, Unroutable atomic.Int64
	// Overflowed counts messages the NATS client dropped because the
	// node's ingress fell behind (counted every few seconds).
	Overflowed atomic.Int64
	// GroupCopies counts the queue group's copies of stored messages that
	// a shared subscription group's consumer hands out instead, dropped;
	// GroupRedelivered the messages a group's consumer handed this node
	// again (shared_durable.go).
	GroupCopies, GroupRedelivered atomic.Int64
}

// Counters returns the node's cross-node traffic counters.
func (be *Backend) Counters() *Counters { return &be.counters }
