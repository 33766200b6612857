package backend

// Lock classes of the backend (gateway/internal/lockorder; the order is
// gateway/LOCKS.md):
//   - clusterInterest.mu guards the interest events queued for the
//     applier and how far it got; the broker takes it under router.mu
//     (Interest's calls), a SUBSCRIBE's wait under engine.order.
//   - clusterAcks.mu guards the QoS 1/2 publishes awaiting the stream's
//     acknowledgement and their waiters; taken inside a publisher's store
//     group (bolt.DB.gate), under engine.order (a persistent session's
//     SUBACK waits for the acknowledgements inside Subscribing) and
//     alone.
//   - clusterGroups.mu guards the group consumers this node pulls from
//     and the messages they handed out that wait for a record; a leaf,
//     no NATS call made under it (shared_durable.go).

type (
	interestMu struct{}
	acksMu     struct{}
	groupsMu   struct{}
)

func (interestMu) LockClass() string { return "clusterInterest.mu" }
func (acksMu) LockClass() string     { return "clusterAcks.mu" }
func (groupsMu) LockClass() string   { return "clusterGroups.mu" }
