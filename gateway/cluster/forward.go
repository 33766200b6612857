package cluster

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// Admin requests one node forwards to another: the admin API's actions
// on one client (show, kick) asked of the node the client is connected
// to, and on one session (show, delete) asked of the node holding it.
// Each node answers on a subject of its own, AdminSubject; the request
// names the client and the action, the reply carries the answering
// node's view as opaque bytes (the admin API's JSON).
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
	// AdminSession asks for the detail of the session the node holds
	// for the client id, connected or offline.
	AdminSession = "session"
	// AdminDeleteSession asks the node to discard the session it holds
	// for the client id, kicking its client first: it may wait for the
	// connection to release the session.
	AdminDeleteSession = "delete_session"
)

// The kinds of an AdminReply's error the asker answers as the node
// would (AdminError.Kind).
const (
	// AdminKindStillHeld: the kicked client's connection did not release
	// the session in time.
	AdminKindStillHeld = "still_held"
	// AdminKindReconnected: a connection holds the session again.
	AdminKindReconnected = "reconnected"
)

// AdminRequest asks a node to act on one of its connected clients or
// sessions.
type AdminRequest struct {
	// Op is AdminShow, AdminKick, AdminSession or AdminDeleteSession.
	Op       string `json:"op"`
	ClientID string `json:"client_id"`
	// Reason is the DISCONNECT reason code of a kick.
	Reason byte `json:"reason,omitempty"`
}

// AdminReply is a node's answer: Found says a client (or session) of
// the id is connected to (held by) it, Body is its answer then; Error
// says it could not act, Kind which of the AdminKind errors that is (""
// for another).
type AdminReply struct {
	Found bool            `json:"found"`
	Body  json.RawMessage `json:"body,omitempty"`
	Error string          `json:"error,omitempty"`
	Kind  string          `json:"kind,omitempty"`
}

// AdminHandler answers one forwarded admin request. It runs on a
// goroutine of its own, holding none of our locks, at most
// AdminLimits.InFlight at once per server; it may wait (a session's
// delete waits for the kicked connection to release it) but must return
// once ctx ends, which is at most AdminLimits.Timeout after the request
// came, or when the server stops. The asking node waits for it until
// its own deadline.
type AdminHandler func(ctx context.Context, req AdminRequest) AdminReply

// AdminLimits bound the forwarded admin requests a node answers at once.
type AdminLimits struct {
	// InFlight is how many requests are answered at once; one more is
	// answered at once with an error saying the node is busy. 0: 16.
	InFlight int
	// Timeout bounds the handler's ctx. 0: 10s.
	Timeout time.Duration
}

// AdminServer answers the forwarded admin requests of one node.
type AdminServer struct {
	sub *nats.Subscription
	// slots holds a token for each request being answered.
	slots  chan struct{}
	cancel context.CancelFunc // ends the handlers' ctx
	stop   sync.Once
}

// ServeAdmin answers the admin requests forwarded to node on nc with h,
// each on a goroutine of its own within lim, until Stop.
func ServeAdmin(nc *nats.Conn, node string, lim AdminLimits, h AdminHandler) (*AdminServer, error) {
	lim.InFlight = cmp.Or(lim.InFlight, 16)
	lim.Timeout = cmp.Or(lim.Timeout, 10*time.Second)
	base, cancel := context.WithCancel(context.Background())
	a := &AdminServer{slots: make(chan struct{}, lim.InFlight), cancel: cancel}
	sub, err := nc.Subscribe(AdminSubject(node), func(m *nats.Msg) {
		if m.Reply == "" {
			return
		}
		var req AdminRequest
		if err := json.Unmarshal(m.Data, &req); err != nil {
			respondAdmin(m, AdminReply{Error: "decoding admin request: " + err.Error()})
			return
		}
		select {
		case a.slots <- struct{}{}:
		default: // also once stopped: Stop holds every slot
			respondAdmin(m, AdminReply{Error: fmt.Sprintf("node %s is busy: %d admin requests in progress", node, lim.InFlight)})
			return
		}
		go func() {
			defer func() { <-a.slots }()
			ctx, cancel := context.WithTimeout(base, lim.Timeout)
			defer cancel()
			respondAdmin(m, h(ctx, req))
		}()
	})
	if err != nil {
		cancel()
		return nil, fmt.Errorf("serving admin requests of %s: %w", node, err)
	}
	if err := nc.Flush(); err != nil {
		_ = sub.Unsubscribe()
		cancel()
		return nil, fmt.Errorf("serving admin requests of %s: %w", node, err)
	}
	a.sub = sub
	return a, nil
}

// respondAdmin sends rep as the answer to m.
func respondAdmin(m *nats.Msg, rep AdminReply) {
	b, _ := json.Marshal(rep) // plain fields and valid JSON: cannot fail
	_ = m.Respond(b)          // the asker stops waiting at its deadline
}

// Stop stops answering: it ends the ctx of the requests being answered
// and waits for their handlers to return. Later calls do nothing.
func (a *AdminServer) Stop() {
	a.stop.Do(func() {
		_ = a.sub.Unsubscribe()
		a.cancel()
		for range cap(a.slots) {
			a.slots <- struct{}{} // each free once its handler returned
		}
	})
}

// AdminError is the error of a node that answered a forwarded request
// with an error.
type AdminError struct {
	Node string
	// Msg is the node's error, Kind its AdminKind ("" for another).
	Msg, Kind string
}

func (e *AdminError) Error() string { return fmt.Sprintf("node %s: %s", e.Node, e.Msg) }

// ErrNoAnswer is wrapped by AskAdmin's error when node did not answer:
// nothing answers on its subject (the node is gone, or of a version
// without forwarded admin requests), or ctx ended first.
var ErrNoAnswer = errors.New("no answer")

// AskAdmin sends req to node and waits for its answer until ctx ends.
// The error wraps ErrNoAnswer when the node did not answer; a node that
// answered with an error gives that error, an *AdminError.
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
		return r, &AdminError{Node: node, Msg: r.Error, Kind: r.Kind}
	}
	return r, nil
}

// FindHolder asks each of nodes at once whether it has what op, a
// request that only reads (AdminShow: the connected client;
// AdminSession: the session), finds for clientID, and returns the first
// that says so, without waiting for the others; holder is "" when none
// does. silent lists, sorted, the nodes that did not answer before ctx
// ended or answered with an error: one of them may have it. A node is
// asked at most once.
func FindHolder(ctx context.Context, nc *nats.Conn, op, clientID string, nodes []string) (holder string, silent []string) {
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
			rep, err := AskAdmin(ctx, nc, n, AdminRequest{Op: op, ClientID: clientID})
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
