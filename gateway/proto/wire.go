package proto

import "edgemq/mqtt"

// Wire is how a connection's packets are encoded, as the channel settles
// it in CONNECT and CONNACK: the protocol version and the limits the
// client set. The connection's encoder embeds it and reads it on the
// writer; the channel writes it on the read goroutine while connecting,
// before it queues the packets the settings apply to, so the queue
// orders the two.
type Wire struct {
	// Version is the protocol version packets are encoded in.
	Version mqtt.Version
	// MaxSize is the client's Maximum Packet Size; 0: none.
	MaxSize uint32
	// ProblemInfo is false when the client asked for no Reason String
	// or User Property [MQTT-3.1.2-29].
	ProblemInfo bool
	// Aliases assigns outbound topic aliases; nil when the client allows
	// none or the server uses none.
	Aliases *TopicAliases
}
