package acl

// Both returns the Authorizer that allows what first and then both allow:
// first is asked first, then only about what first allows. The result is
// a QoSLimiter granting the lower of the two maximum QoS of those that
// are. An AllowAll first, or a nil one, leaves then alone; a nil then
// leaves first.
func Both(first, then Authorizer) Authorizer {
	switch {
	case then == nil:
		return first
	case first == nil:
		return then
	}
	if _, all := first.(AllowAll); all {
		return then
	}
	return both{first: first, then: then}
}

// both allows what both allow (Both).
type both struct {
	first, then Authorizer
}

// Authorize asks first, then then.
func (b both) Authorize(c ConnInfo, a Action, topic string, qos byte, retain bool) bool {
	return b.first.Authorize(c, a, topic, qos, retain) && b.then.Authorize(c, a, topic, qos, retain)
}

// SubscribeMaxQoS grants the lower of the two authorizers' maximum QoS
// (QoSLimiter).
func (b both) SubscribeMaxQoS(c ConnInfo, filter string, qos byte) byte {
	for _, a := range []Authorizer{b.first, b.then} {
		if l, ok := a.(QoSLimiter); ok {
			qos = min(qos, l.SubscribeMaxQoS(c, filter, qos))
		}
	}
	return qos
}
