package cluster

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"

	"edgemq/mqtt"

	"github.com/nats-io/nats.go"
)

// The headers of a message of the retained stream. Node names and
// decimal numbers only: a header value cannot hold every byte a client id
// may (it goes in the body). A newer version may add headers (readers
// ignore those they do not know); a change to the value's layout raises
// retainedVersion, which older nodes refuse (DecodeRetained), so it is
// written only once every node reads it.
const (
	// HeaderOrigin names the node that stored the retained message.
	HeaderOrigin = "Emq-Origin"
	// HeaderOriginSeq numbers the retained messages one node stored, in
	// the order it stored them locally: the node tells the echo of its
	// latest write from an older one (backend/retained.go).
	HeaderOriginSeq = "Emq-Origin-Seq"
)

// retainedVersion is the first byte of a retained value: the layout of
// what follows, so that a later layout can be told apart.
const retainedVersion = 1

// ErrBadRetained is returned by DecodeRetained for a value it cannot
// read.
var ErrBadRetained = errors.New("bad retained value")

// EncodeRetained returns the value a retained message is stored with in
// the retained stream: a version byte, the publisher's client id (two
// bytes of length, then its bytes) and the PUBLISH encoded as MQTT 5.0
// (properties kept; a QoS 1 or 2 message carries packet id 1, which
// means nothing). An empty payload deletes the topic's retained message:
// its value is empty [MQTT-3.3.1-6].
func EncodeRetained(p *mqtt.Publish, from string) ([]byte, error) {
	if len(p.Payload) == 0 {
		return nil, nil
	}
	if len(from) > 0xffff {
		return nil, fmt.Errorf("encoding retained message: client id of %d bytes", len(from))
	}
	q := *p
	q.Dup, q.PacketID, q.Retain = false, 0, true
	if q.QoS > 0 {
		q.PacketID = 1
	}
	b := make([]byte, 0, 3+len(from)+mqtt.PublishSize(&q, mqtt.V5))
	b = append(b, retainedVersion)
	b = binary.BigEndian.AppendUint16(b, uint16(len(from)))
	b = append(b, from...)
	b, err := mqtt.AppendPublish(b, &q, mqtt.V5)
	if err != nil {
		return nil, fmt.Errorf("encoding retained message: %w", err)
	}
	return b, nil
}

// DecodeRetained is the inverse of EncodeRetained for a non-empty value:
// the PUBLISH (packet id 0, Retain set) and the publisher's client id. A
// value of a newer version (a newer node's, during a rolling upgrade) is
// refused with ErrBadRetained and a *VersionError.
func DecodeRetained(b []byte) (*mqtt.Publish, string, error) {
	if len(b) > 0 && b[0] > retainedVersion {
		return nil, "", fmt.Errorf("%w: %w", ErrBadRetained, &VersionError{What: "retained message", Version: b[0], Known: retainedVersion})
	}
	if len(b) < 3 || b[0] != retainedVersion {
		return nil, "", fmt.Errorf("%w: no version %d header", ErrBadRetained, retainedVersion)
	}
	n := int(binary.BigEndian.Uint16(b[1:3]))
	b = b[3:]
	if len(b) < n+2 {
		return nil, "", fmt.Errorf("%w: truncated", ErrBadRetained)
	}
	from, pkt := string(b[:n]), b[n:]
	// The fixed header: the first byte, then the Remaining Length.
	var rl, shift uint32
	i := 1
	for ; ; i++ {
		if i >= len(pkt) || i > 4 {
			return nil, "", fmt.Errorf("%w: bad remaining length", ErrBadRetained)
		}
		rl |= uint32(pkt[i]&0x7f) << shift
		shift += 7
		if pkt[i]&0x80 == 0 {
			break
		}
	}
	body := pkt[i+1:]
	if uint32(len(body)) != rl {
		return nil, "", fmt.Errorf("%w: remaining length %d, %d bytes", ErrBadRetained, rl, len(body))
	}
	p, err := mqtt.Decode(pkt[0], body, mqtt.V5)
	if err != nil {
		return nil, "", fmt.Errorf("%w: %w", ErrBadRetained, err)
	}
	pub, ok := p.(*mqtt.Publish)
	if !ok {
		return nil, "", fmt.Errorf("%w: a %v packet", ErrBadRetained, p.Type())
	}
	pub.PacketID, pub.Dup, pub.Retain = 0, false, true
	return pub, from, nil
}

// RetainedHeader returns the headers of a retained message stored by
// node as its seq-th.
func RetainedHeader(node string, seq uint64) nats.Header {
	return nats.Header{
		HeaderOrigin:    []string{node},
		HeaderOriginSeq: []string{strconv.FormatUint(seq, 10)},
	}
}

// retainedOrigin reads the headers RetainedHeader wrote; ok is false
// when they are missing or malformed.
func retainedOrigin(h nats.Header) (node string, seq uint64, ok bool) {
	node = h.Get(HeaderOrigin)
	seq, err := strconv.ParseUint(h.Get(HeaderOriginSeq), 10, 64)
	return node, seq, node != "" && err == nil
}
