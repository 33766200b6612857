package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
)

// KickPrefix starts the subjects a node answers kick requests on: one
// per node, KickSubject. Its first token differs from every message
// namespace's, so no message wildcard matches it.
const KickPrefix = "emq_ctl.kick."

// KickSubject returns the subject node answers kick requests on.
func KickSubject(node string) string { return KickPrefix + NodeKey(node) }

// KickRequest asks the node that held a session to let it go: a node
// that claimed the session (epoch Epoch) for a new connection. Requests
// and replies are JSON read leniently: a newer node may add optional
// fields, which an older one ignores (its reply carries the session's
// QoS state as this version knows it; SessionRecord's rules for nested
// elements apply).
type KickRequest struct {
	ClientID string `json:"client_id"`
	Epoch    uint64 `json:"epoch"`
	// By is the claiming node.
	By string `json:"by"`
}

// KickReply is the answer: Held says the node held the session (its
// connection is closed now, or it was offline there) and has let it
// go; Cursor is the session's cursor when it let it go (0: unknown);
// Out, Done and Rels its QoS state then, as a session record holds them
// (SessionRecord.Out, Done, Rels): newer than the record's, which the holding
// node wrote last before the client let go.
type KickReply struct {
	Held   bool         `json:"held"`
	Cursor uint64       `json:"cursor,omitempty"`
	Out    []RecordOut  `json:"out,omitempty"`
	Done   []RecordDone `json:"done,omitempty"`
	Rels   []uint16     `json:"rels,omitempty"`
	Error  string       `json:"error,omitempty"`
}

// KickHandler answers one kick request; ctx ends when the asking node
// stops waiting.
type KickHandler func(ctx context.Context, req KickRequest) KickReply

// KickServer answers the kick requests of one node.
type KickServer struct {
	sub *nats.Subscription
}

// ServeKicks answers the requests to node on nc with h, each on its own
// goroutine (a kick waits for a connection to close), within wait: the
// longest an asking node waits. Stop ends it.
func ServeKicks(nc *nats.Conn, node string, wait time.Duration, h KickHandler) (*KickServer, error) {
	sub, err := nc.Subscribe(KickSubject(node), func(m *nats.Msg) {
		var req KickRequest
		if err := json.Unmarshal(m.Data, &req); err != nil {
			respond(m, KickReply{Error: "decoding kick request: " + err.Error()})
			return
		}
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			defer cancel()
			respond(m, h(ctx, req))
		}()
	})
	if err != nil {
		return nil, fmt.Errorf("serving kicks of %s: %w", node, err)
	}
	if err := nc.Flush(); err != nil {
		_ = sub.Unsubscribe()
		return nil, fmt.Errorf("serving kicks of %s: %w", node, err)
	}
	return &KickServer{sub: sub}, nil
}

func respond(m *nats.Msg, r KickReply) {
	b, _ := json.Marshal(r) // plain fields: cannot fail
	_ = m.Respond(b)
}

// Stop stops answering.
func (k *KickServer) Stop() { _ = k.sub.Unsubscribe() }

// ErrNoKickServer is returned by Kick when no node answers on the
// subject: the node is gone.
var ErrNoKickServer = errors.New("no node answers kicks")

// Kick asks node to let the session of req.ClientID go and waits for its
// answer until ctx ends.
func Kick(ctx context.Context, nc *nats.Conn, node string, req KickRequest) (KickReply, error) {
	b, err := json.Marshal(req)
	if err != nil {
		return KickReply{}, fmt.Errorf("encoding kick request: %w", err)
	}
	m, err := nc.RequestWithContext(ctx, KickSubject(node), b)
	if errors.Is(err, nats.ErrNoResponders) {
		return KickReply{}, fmt.Errorf("kicking %q on %s: %w", req.ClientID, node, ErrNoKickServer)
	}
	if err != nil {
		return KickReply{}, fmt.Errorf("kicking %q on %s: %w", req.ClientID, node, err)
	}
	var r KickReply
	if err := json.Unmarshal(m.Data, &r); err != nil {
		return KickReply{}, fmt.Errorf("decoding kick reply: %w", err)
	}
	if r.Error != "" {
		return r, fmt.Errorf("kicking %q on %s: %s", req.ClientID, node, r.Error)
	}
	return r, nil
}
