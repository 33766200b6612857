package backend

import "edgemq/gateway/broker"

// subscriptions is the Subscriptions seam of a cluster node: the
// broker's, with SUBACK held until the node's NATS server has the
// interest the new subscriptions need [MQTT-3.8.4-1]: a message
// published anywhere after SUBACK then reaches this node (once NATS has
// spread the interest to the other servers, which it does on its own,
// asynchronously).
type subscriptions struct {
	b  *broker.Broker
	in *interest
}

// Subscribing implements broker.Subscriptions.
func (s *subscriptions) Subscribing(fn func() error) error { return s.b.Subscribing(fn) }

// Subscribe implements broker.Subscriptions.
func (s *subscriptions) Subscribe(sess *broker.Session, sub *broker.Subscription) (existed, full bool) {
	return s.b.Subscribe(sess, sub)
}

// Unsubscribe implements broker.Subscriptions.
func (s *subscriptions) Unsubscribe(sess *broker.Session, filter string) bool {
	return s.b.Unsubscribe(sess, filter)
}

// RetainedSeq implements broker.Subscriptions. A SUBSCRIBE reads it after
// its last Subscribe and before queueing SUBACK (broker.Subscriptions):
// here it first waits, bounded (interestWait), until the NATS
// subscriptions those caused are flushed to the node's server. Routing
// on this node is stopped meanwhile (Subscribing); it waits only when a
// subscription is new to the node.
func (s *subscriptions) RetainedSeq() uint64 {
	s.in.wait()
	return s.b.RetainedSeq()
}
