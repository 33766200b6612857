package stats

import (
	"sync/atomic"

	"edgemq/mqtt"
)

// DropReason says why a message was not delivered.
type DropReason int

const (
	DropQueueFull     DropReason = iota // outbound or offline queue full
	DropExpired                         // Message Expiry Interval passed
	DropTooLarge                        // over the client's Maximum Packet Size
	DropOffline                         // QoS 0 to a session with no connection
	DropEncoding                        // could not be encoded
	DropDenied                          // refused by authorization
	DropRetainedFull                    // retained store at its bounds
	DropPayloadFormat                   // payload not UTF-8 as its format indicator says
	DropOverload                        // QoS 0 shed while overloaded
	DropReadDenied                      // the session's owner may no longer read it
	dropReasons
)

var dropNames = [dropReasons]string{"queue_full", "expired", "too_large", "offline", "encoding", "denied", "retained_full", "payload_format", "overload", "read_denied"}

// String returns the reason's metric label.
func (r DropReason) String() string { return dropNames[r] }

// DropReasons returns every reason, in label order.
func DropReasons() []DropReason {
	out := make([]DropReason, dropReasons)
	for i := range out {
		out[i] = DropReason(i)
	}
	return out
}

// Counters counts what the engine does. Every field and method is safe
// for concurrent use; the zero value is ready.
type Counters struct {
	dropped [dropReasons]atomic.Int64
	// Connections counts connections accepted.
	Connections atomic.Int64
	// MsgsIn and MsgsOut count PUBLISH packets received and sent.
	MsgsIn  atomic.Int64
	MsgsOut atomic.Int64
	// BytesIn and BytesOut count application payload bytes of PUBLISH
	// received and sent.
	BytesIn  atomic.Int64
	BytesOut atomic.Int64
	// Pkt counts packets and bytes by type, CONNACKs by reason.
	Pkt Packets
}

// Drop counts one message dropped for r.
func (s *Counters) Drop(r DropReason) { s.dropped[r].Add(1) }

// Dropped returns how many messages were dropped for r.
func (s *Counters) Dropped(r DropReason) int64 { return s.dropped[r].Load() }

// DroppedBy returns how many messages were dropped for the reason named
// name (its metric label), 0 for an unknown name.
func (s *Counters) DroppedBy(name string) int64 {
	for i, n := range dropNames {
		if n == name {
			return s.dropped[i].Load()
		}
	}
	return 0
}

// Packets counts packets and bytes in and out by packet type, and
// CONNACKs by reason code: plain atomic arrays, cheap on the hot path,
// read by the metrics collector at scrape time.
type Packets struct {
	in, out  [16]atomic.Int64 // packets by mqtt.Type
	bytesOut [16]atomic.Int64 // encoded bytes by mqtt.Type
	connack  [256]atomic.Int64
}

// CountIn counts one packet of type t received.
func (p *Packets) CountIn(t mqtt.Type) { p.in[t&15].Add(1) }

// CountOut counts one packet of type t sent, n bytes long.
func (p *Packets) CountOut(t mqtt.Type, n int) {
	p.out[t&15].Add(1)
	p.bytesOut[t&15].Add(int64(n))
}

// CountOutN counts n packets of type t sent, bytes long in all.
func (p *Packets) CountOutN(t mqtt.Type, n, bytes int64) {
	p.out[t&15].Add(n)
	p.bytesOut[t&15].Add(bytes)
}

// Sent counts a control packet sent, n bytes long, and a CONNACK's
// reason code.
func (p *Packets) Sent(pk mqtt.Packet, n int) {
	if ack, ok := pk.(*mqtt.Connack); ok {
		p.connack[byte(ack.ReasonCode)].Add(1)
	}
	p.CountOut(pk.Type(), n)
}

// In returns the packets of type t received.
func (p *Packets) In(t mqtt.Type) int64 { return p.in[t&15].Load() }

// Out returns the packets of type t sent.
func (p *Packets) Out(t mqtt.Type) int64 { return p.out[t&15].Load() }

// BytesOut returns the bytes of packets of type t sent.
func (p *Packets) BytesOut(t mqtt.Type) int64 { return p.bytesOut[t&15].Load() }

// Connack returns the CONNACKs sent with reason code c.
func (p *Packets) Connack(c mqtt.ReasonCode) int64 { return p.connack[byte(c)].Load() }
