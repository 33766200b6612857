package backend

// A will published exactly once across a crash (will.go): the node
// publishing it sends it to the messages stream with a Nats-Msg-Id of
// its client id and the will's name in the session record
// (cluster.RecordWill.ID, new with each connection: willID),
// waits for the stream to store it, and only then removes it from the
// session's record. A node that dies in between leaves the will in the
// record; the node that claims the session publishes it again with the
// same id, and the stream drops that second publish as a duplicate
// (acknowledging it all the same). The stream keeps ids for its
// duplicate window (cluster.LayoutOptions.DuplicateWindow, 2 minutes by
// default): a second publish later than that after the first, say a
// claim held up longer by a cluster without quorum, stores the will a
// second time.
//
// The will is not routed to this node's sessions first, as a client's
// message is (the publisher's RouteOwn): the node that publishes it again
// could not tell whether its sessions had it already. It goes to the
// stream only, under an origin of its own (this node's plus "/will"),
// so that every node, this one included, routes it to its sessions from
// the stream's republish, once. A QoS 0 will has no stream to go
// through: it is published as before, after its removal from the record
// (at most once).

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"edgemq/gateway/broker"
	"edgemq/gateway/cluster"

	"github.com/nats-io/nats.go"
)

// willSender is a Publisher that sends a will to the messages stream
// only, with the Nats-Msg-Id id, and waits until the stream stored it
// (or dropped it as a duplicate of id) or ctx ends.
type willSender interface {
	SendWill(ctx context.Context, m *broker.Message, id string) error
}

var errNoWillSender = errors.New("the publisher cannot send wills once")

// willID returns the Nats-Msg-Id of client id's will named wid in its
// session record.
func willID(id, wid string) string {
	h := sha256.New()
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(len(id)))
	h.Write([]byte("will"))
	h.Write(b[:])
	h.Write([]byte(id))
	h.Write([]byte(wid))
	return "w" + base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:18])
}

// SendWill implements willSender.
func (p *publisher) SendWill(ctx context.Context, m *broker.Message, id string) error {
	data, err := encodeMessage(m, time.Now())
	if err != nil {
		return err
	}
	h := headers(p.be.origin+"/will", p.seq.Add(1), m.From())
	h.Set(nats.MsgIdHdr, id)
	msg := &nats.Msg{Subject: cluster.DurableSubject(m.Publish().Topic), Header: h, Data: data}
	if _, err := p.be.node.JetStream().PublishMsg(ctx, msg); err != nil {
		p.be.counters.SendFailed.Add(1)
		return fmt.Errorf("publishing a will to the messages stream: %w", err)
	}
	p.be.counters.SentStream.Add(1)
	return nil
}

// SendWill implements willSender: a retained will is stored in the
// retained stream too (again, when sent again: the same message).
func (p retainedPublisher) SendWill(ctx context.Context, m *broker.Message, id string) error {
	ws, ok := p.Publisher.(willSender)
	if !ok {
		return errNoWillSender
	}
	if m.Publish().Retain {
		p.r.publish(m)
	}
	return ws.SendWill(ctx, m, id)
}
