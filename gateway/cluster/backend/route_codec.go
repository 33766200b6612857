package backend

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strconv"
	"time"

	"edgemq/gateway/broker"
	"edgemq/mqtt"

	"github.com/nats-io/nats.go"
)

// A message on NATS is the PUBLISH encoded with the mqtt codec, MQTT 5.0,
// properties kept (a QoS 1/2 one with packet id 1, which the receiver
// drops), with these headers. Across versions (a rolling upgrade): a
// newer node may add headers, which older nodes ignore and carry along
// where they pass a stored message on (shared.go); a header's meaning
// does not change. The body stays an MQTT 5.0 PUBLISH: an older node
// could not deliver any other (it drops what it cannot decode, counted
// unroutable), so another body would need a new subject namespace,
// written only once every node reads it.
const (
	// hdrOrigin names the node incarnation that sent it (newOrigin).
	hdrOrigin = "Emq-Origin"
	// hdrSeq is the origin's sequence number of the message, in
	// decimal: with the origin and the path (core or stream) it
	// identifies the message, which ingress delivers once per session
	// however many of the node's subscriptions it arrived on.
	hdrSeq = "Emq-Seq"
	// hdrFrom is the publisher's client id, query-escaped (a header
	// value holds no line breaks): No Local [MQTT-3.8.3-3].
	hdrFrom = "Emq-From"
	// hdrStreamSeq is set by the messages stream's republish: the
	// message came through the stream (QoS 1/2).
	hdrStreamSeq = "Nats-Sequence"
)

// newOrigin returns the origin of a node incarnation: its name and a
// unique nonce, so that a restarted node's sequence numbers are not
// taken for repeats of its previous life's.
func newOrigin(node string) string { return node + "/" + strconv.FormatUint(rand.Uint64(), 36) }

// encodeMessage returns the NATS encoding of m: its PUBLISH, with the
// Message Expiry Interval left at now [MQTT-3.3.2-6].
func encodeMessage(m *broker.Message, now time.Time) ([]byte, error) {
	pub := *m.Publish()
	if pub.QoS > 0 {
		pub.PacketID = 1
	}
	if exp := m.Expires(); !exp.IsZero() {
		left := exp.Sub(now)
		pub.Properties.SetUint32(mqtt.PropMessageExpiryInterval, max(uint32((left+time.Second-1)/time.Second), 1))
	}
	b, err := mqtt.AppendPublish(nil, &pub, mqtt.V5)
	if err != nil {
		return nil, fmt.Errorf("encoding publish: %w", err)
	}
	return b, nil
}

// headers returns the headers of a message of origin with sequence
// number seq, published by client from.
func headers(origin string, seq uint64, from string) nats.Header {
	return nats.Header{
		hdrOrigin: {origin},
		hdrSeq:    {strconv.FormatUint(seq, 10)},
		hdrFrom:   {url.QueryEscape(from)},
	}
}

var errNotPublish = errors.New("not an mqtt publish")

// decodeMessage returns the message a NATS message carries, read at now.
func decodeMessage(msg *nats.Msg, now time.Time) (*broker.Message, error) {
	data := msg.Data
	if len(data) < 2 {
		return nil, errNotPublish
	}
	first := data[0]
	if mqtt.Type(first>>4) != mqtt.PUBLISH {
		return nil, errNotPublish
	}
	// The remaining length, a variable byte integer [MQTT-1.5.5].
	var n, shift int
	i := 1
	for ; ; i++ {
		if i >= len(data) || i > 4 {
			return nil, errNotPublish
		}
		n |= int(data[i]&0x7f) << shift
		shift += 7
		if data[i]&0x80 == 0 {
			i++
			break
		}
	}
	if n != len(data)-i {
		return nil, fmt.Errorf("%w: length %d, body %d", errNotPublish, n, len(data)-i)
	}
	p, err := mqtt.Decode(first, data[i:], mqtt.V5)
	if err != nil {
		return nil, fmt.Errorf("decoding publish: %w", err)
	}
	pub, ok := p.(*mqtt.Publish)
	if !ok {
		return nil, errNotPublish
	}
	from, err := url.QueryUnescape(msg.Header.Get(hdrFrom))
	if err != nil {
		return nil, fmt.Errorf("decoding %s: %w", hdrFrom, err)
	}
	return broker.NewMessage(pub, from, now), nil
}
