package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/nats-io/nats.go"
)

// Admin requests one node forwards to another: the admin API's actions
// on one client (show, kick) asked of the node the client is connected
// to. Each node answers on a subject of its own, AdminSubject; the
// request names the client and the action, the reply carries the
// answering node's view as opaque bytes (the admin API's JSON).
//
// Trust: these subjects live in the cluster's NATS account, which only
// the nodes of the cluster reach (the embedded servers' routes, or the
// external servers' credentials). The admin token was checked by the
// node that received the HTTP request; a request on these subjects is
// that node's, and is answered without a token of its own.
const AdminPrefix = "emq_ctl.admin."

// AdminSubject returns the subject node answers forwarded admin requests
// on. Its first token differs from every message namespace's, so no
// message wildcard matches it.
func AdminSubject(node string) string { return AdminPrefix + NodeKey(node) }

// The actions of an AdminRequest.
const (
	// AdminShow asks for the client's detail.
	AdminShow = "show"
	// AdminKick asks the node to disconnect the client, with Reason.
	AdminKick = "kick"
)

// AdminRequest asks a node to act on one of its connected clients.
type AdminRequest struct {
	// Op is AdminShow or AdminKick.
	Op       string `json:"op"`
	ClientID string `json:"client_id"`
	// Reason is the DISCONNECT reason code of a kick.
	Reason byte `json:"reason,omitempty"`
}

// AdminReply is a node's answer: Found says a client of the id is
// connected to it, Body is its answer then; Error says it could not act.
type AdminReply struct {
	Found bool            `json:"found"`
	Body  json.RawMessage `json:"body,omitempty"`
	Error string          `json:"error,omitempty"`
}

// AdminHandler answers one forwarded admin request. It runs on the
// subscription's goroutine, one request at a time, holding none of our
// locks, and must not block: an asking node waits for it.
type AdminHandler func(req AdminRequest) AdminReply

// AdminServer answers the forwarded admin requests of one node.
type AdminServer struct {
	sub *nats.Subscription
}

// ServeAdmin answers the admin requests forwarded to node on nc with h
// until Stop.
func ServeAdmin(nc *nats.Conn, node string, h AdminHandler) (*AdminServer, error) {
	sub, err := nc.Subscribe(AdminSubject(node), func(m *nats.Msg) {
		if m.Reply == "" {
			return
		}
		var req AdminRequest
		rep := AdminReply{}
		if err := json.Unmarshal(m.Data, &req); err != nil {
			rep.Error = "decoding admin request: " + err.Error()
		} else {
			rep = h(req)
		}
		b, _ := json.Marshal(rep) // plain fields and valid JSON: cannot fail
		_ = m.Respond(b)          // the asker stops waiting at its deadline
	})
	if err != nil {
		return nil, fmt.Errorf("serving admin requests of %s: %w", node, err)
	}
	if err := nc.Flush(); err != nil {
		_ = sub.Unsubscribe()
		return nil, fmt.Errorf("serving admin requests of %s: %w", node, err)
	}
	return &AdminServer{sub: sub}, nil
}

// Stop stops answering.
func (a *AdminServer) Stop() { _ = a.sub.Unsubscribe() }

// ErrNoAnswer is wrapped by AskAdmin's error when node did not answer:
// nothing answers on its subject (the node is gone, or of a version
// without forwarded admin requests), or ctx ended first.
var ErrNoAnswer = errors.New("no answer")

// AskAdmin sends req to node and waits for its answer until ctx ends.
// The error wraps ErrNoAnswer when the node did not answer; a node that
// answered with an error gives that error.
func AskAdmin(ctx context.Context, nc *nats.Conn, node string, req AdminRequest) (AdminReply, error) {
	b, err := json.Marshal(req)
	if err != nil {
		return AdminReply{}, fmt.Errorf("encoding admin request: %w", err)
	}
	m, err := nc.RequestWithContext(ctx, AdminSubject(node), b)
	if errors.Is(err, nats.ErrNoResponders) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) {
		return AdminReply{}, fmt.Errorf("asking node %s: %w (%w)", node, ErrNoAnswer, err)
	}
	if err != nil {
		return AdminReply{}, fmt.Errorf("asking node %s: %w", node, err)
	}
	var r AdminReply
	if err := json.Unmarshal(m.Data, &r); err != nil {
		return AdminReply{}, fmt.Errorf("decoding node %s's admin reply: %w", node, err)
	}
	if r.Error != "" {
		return r, fmt.Errorf("node %s: %s", node, r.Error)
	}
	return r, nil
}

// FindClient asks each of nodes at once whether clientID is connected to
// it (AdminShow), and returns the first that says so, without waiting
// for the others; holder is "" when none does. silent lists, sorted, the
// nodes that did not answer before ctx ended or answered with an error:
// one of them may have the client. A node is asked at most once.
func FindClient(ctx context.Context, nc *nats.Conn, clientID string, nodes []string) (holder string, silent []string) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // the others' answers no longer matter
	type answer struct {
		node  string
		found bool
		err   error
	}
	nodes = slices.Compact(slices.Sorted(slices.Values(nodes)))
	answers := make(chan answer, len(nodes)) // no sender blocks
	var wg sync.WaitGroup
	for _, n := range nodes {
		wg.Go(func() {
			rep, err := AskAdmin(ctx, nc, n, AdminRequest{Op: AdminShow, ClientID: clientID})
			answers <- answer{n, rep.Found, err}
		})
	}
	go func() { wg.Wait(); close(answers) }()
	for ans := range answers {
		switch {
		case ans.err != nil:
			silent = append(silent, ans.node)
		case ans.found:
			return ans.node, nil
		}
	}
	slices.Sort(silent)
	return "", silent
}
