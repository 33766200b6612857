package gateway

import "sync/atomic"

// dropReason says why a message was not delivered.
type dropReason int

const (
	dropQueueFull     dropReason = iota // outbound or offline queue full
	dropExpired                         // Message Expiry Interval passed
	dropTooLarge                        // over the client's Maximum Packet Size
	dropOffline                         // QoS 0 to a session with no connection
	dropEncoding                        // could not be encoded
	dropDenied                          // refused by authorization
	dropRetainedFull                    // retained store at its bounds
	dropPayloadFormat                   // payload not UTF-8 as its format indicator says
	dropOverload                        // QoS 0 shed while overloaded (overload.go)
	dropReadDenied                      // the session's owner may no longer read it (owner.go)
	dropReasons
)

var dropNames = [dropReasons]string{"queue_full", "expired", "too_large", "offline", "encoding", "denied", "retained_full", "payload_format", "overload", "read_denied"}

func (r dropReason) String() string { return dropNames[r] }

// stats counts what the engine does; later issues export it as metrics.
// All fields are updated atomically.
type stats struct {
	dropped     [dropReasons]atomic.Int64
	connections atomic.Int64
	msgsIn      atomic.Int64
	msgsOut     atomic.Int64
	// bytesIn and bytesOut count application payload bytes of PUBLISH
	// received and sent.
	bytesIn  atomic.Int64
	bytesOut atomic.Int64
	// auth counts failed authentications (bruteforce.go).
	auth authStats
	// pkt counts packets and bytes by type, CONNACKs by reason (metrics.go).
	pkt pktStats
	// takeover counts CONNECTs refused for a session of another identity
	// (owner.go).
	takeover takeoverStats
}

func (s *stats) drop(r dropReason) { s.dropped[r].Add(1) }

// Dropped returns how many messages were dropped for reason, by name.
func (s *stats) droppedBy(name string) int64 {
	for i, n := range dropNames {
		if n == name {
			return s.dropped[i].Load()
		}
	}
	return 0
}
