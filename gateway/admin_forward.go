package gateway

// The admin API's actions on one client of another cluster node
// (admin.ClusterClients' ClusterClient and ClusterKick), and on one
// session another node holds (admin.ClusterSessions,
// admin_forward_sessions.go): the node that received the HTTP request
// finds the node the client is connected to (the session is held by)
// and forwards the action to it over NATS (cluster.AskAdmin), which
// answers with what its own API would (cluster.ServeAdmin, below). The
// node is found from the client's session record, which names the node
// holding a persistent session, connected there or offline; otherwise
// (no record, a record that names this node, for a client one that says
// it is offline, or a node that no longer has it) every other live node
// is asked whether it has the client (session), and the one that has it
// acts.
//
// Trust: the admin token was checked by the node that received the HTTP
// request. The forwarded request travels inside the cluster's NATS
// account, which only the cluster's nodes reach (embedded servers'
// routes, or the external servers' credentials), and is answered without
// a token of its own, as a node's kick of a session it claimed is.
//
// Answering reads the connections as GET /api/v1/clients/{id} does
// (adminSource.Client, Kick: Server.mu, then each session.mu alone), and
// the sessions as GET and DELETE /api/v1/sessions/{id} do
// (adminSource.Session: registry.mu, then session.mu alone;
// DeleteSession: as Kick, then registry.mu → session.mu to discard), on
// a goroutine of each request's own (cluster.ServeAdmin, at most
// adminAnswerInFlight at once), so that a delete waiting for the
// kicked connection to release its session, holding no lock, holds up
// no other request. A kick does not wait for the connection to close.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"edgemq/gateway/admin"
	"edgemq/gateway/cluster"
	"edgemq/gateway/logsafe"
	"edgemq/mqtt"

	"go.uber.org/zap"
)

// adminForwardTimeout bounds each step of acting on another node's
// client or session: reading the session record, one node's answer
// (but a session's delete's, adminDeleteTimeout), the other nodes'
// answers to whether they have it.
const adminForwardTimeout = 2 * time.Second

// adminDeleteTimeout bounds the answer to a session's delete, which
// waits on the holding node for the kicked connection to release the
// session (DeleteSession: at most detachWait).
const adminDeleteTimeout = detachWait + adminForwardTimeout

// adminAnswerInFlight bounds the forwarded requests this node answers
// at once.
const adminAnswerInFlight = 16

// ClusterClient implements admin.ClusterClients.
func (a adminSource) ClusterClient(ctx context.Context, id string) (admin.ClientDetailDoc, error) {
	var doc admin.ClientDetailDoc
	err := a.forward(ctx, cluster.AdminRequest{Op: cluster.AdminShow, ClientID: id}, &doc)
	return doc, err
}

// ClusterKick implements admin.ClusterClients.
func (a adminSource) ClusterKick(ctx context.Context, id string, code mqtt.ReasonCode) (admin.KickResult, error) {
	var res admin.KickResult
	err := a.forward(ctx, cluster.AdminRequest{Op: cluster.AdminKick, ClientID: id, Reason: byte(code)}, &res)
	return res, err
}

// forwardTarget is what a forwarded request acts on: a connected client
// (AdminShow, AdminKick) or a session (AdminSession,
// AdminDeleteSession).
type forwardTarget struct {
	// find asks a node, without acting, whether it has the target.
	find string
	// what names the target of a client id in errors.
	what string
	// connectedOnly: the session record names the target's node only
	// while it says the client is connected (a client); a session is on
	// the node its record names, connected or offline.
	connectedOnly bool
	// wait bounds the answer to the request.
	wait time.Duration
}

// targetOf returns what a request of op acts on.
func targetOf(op string) forwardTarget {
	switch op {
	case cluster.AdminSession:
		return forwardTarget{find: cluster.AdminSession, what: "the session of client", wait: adminForwardTimeout}
	case cluster.AdminDeleteSession:
		return forwardTarget{find: cluster.AdminSession, what: "the session of client", wait: adminDeleteTimeout}
	}
	return forwardTarget{find: cluster.AdminShow, what: "client", connectedOnly: true, wait: adminForwardTimeout}
}

// forward has the node the client of req is connected to (whose session
// it holds, for the session requests) act on req, and decodes its answer
// into out. The error is admin.ErrNotFound when no node has it, one
// wrapping admin.ErrNoAnswer and naming the node when the node holding
// it, or one that might, did not answer; a session's delete's
// admin.ErrStillHeld or admin.ErrReconnected as the node gave it.
func (a adminSource) forward(ctx context.Context, req cluster.AdminRequest, out any) error {
	c := a.s.cluster
	t := targetOf(req.Op)
	self := c.node.Name()
	asked := []string{self} // this node has no such client (session): the API looked
	if owner := a.recordOwner(ctx, req.ClientID, t.connectedOnly); owner != "" && owner != self {
		found, err := a.askNode(ctx, owner, t, req, out)
		if err != nil || found {
			return err
		}
		asked = append(asked, owner)
	}
	holder, err := a.findHolder(ctx, t, req.ClientID, asked)
	if err != nil {
		return err
	}
	found, err := a.askNode(ctx, holder, t, req, out)
	if err == nil && !found {
		// It has just gone (or been taken over): as if it never was.
		return fmt.Errorf("%s %q left node %s: %w", t.what, req.ClientID, holder, admin.ErrNotFound)
	}
	return err
}

// recordOwner returns the node the session record of id names as its
// owner, with connectedOnly only while it says the client is connected;
// "" when there is no record, it says the client is offline
// (connectedOnly), or it cannot be read (the nodes are asked then).
func (a adminSource) recordOwner(ctx context.Context, id string, connectedOnly bool) string {
	ctx, cancel := context.WithTimeout(ctx, adminForwardTimeout)
	defer cancel()
	rec, _, err := cluster.NewSessionStore(a.s.cluster.node.Layout().Sessions).Get(ctx, id)
	if err != nil {
		if !errors.Is(err, cluster.ErrNoRecord) {
			a.s.log.Debug("reading a session record to find its node", logsafe.String("client_id", id), zap.Error(err))
		}
		return ""
	}
	if connectedOnly && !rec.Connected {
		return ""
	}
	return rec.Owner
}

// askNode forwards req, about t, to node and decodes its answer into out
// when it has it (found).
func (a adminSource) askNode(ctx context.Context, node string, t forwardTarget, req cluster.AdminRequest, out any) (found bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, t.wait)
	defer cancel()
	rep, err := cluster.AskAdmin(ctx, a.s.cluster.node.Link().Conn(), node, req)
	if errors.Is(err, cluster.ErrNoAnswer) {
		return false, fmt.Errorf("node %s holds %s %q but did not answer within %s: %w", node, t.what, req.ClientID, t.wait, admin.ErrNoAnswer)
	}
	if ae := (*cluster.AdminError)(nil); errors.As(err, &ae) && kindErr(ae.Kind) != nil { // admin_forward_sessions.go
		return true, fmt.Errorf("%w: %w", err, kindErr(ae.Kind))
	}
	if err != nil {
		return false, fmt.Errorf("asking node %s about %s %q: %w", node, t.what, req.ClientID, err)
	}
	if !rep.Found {
		return false, nil
	}
	if err := json.Unmarshal(rep.Body, out); err != nil {
		return false, fmt.Errorf("decoding node %s's answer about %s %q: %w", node, t.what, req.ClientID, err)
	}
	return true, nil
}

// findHolder asks every live node but those of asked, at once, whether
// it has t of client id, and returns the first that has it. The error
// is admin.ErrNotFound when all answered no, one wrapping
// admin.ErrNoAnswer naming those that did not answer otherwise.
func (a adminSource) findHolder(ctx context.Context, t forwardTarget, id string, asked []string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, adminForwardTimeout)
	defer cancel()
	live, err := cluster.LiveNodes(ctx, a.s.cluster.node.Layout().Nodes)
	if err != nil {
		return "", fmt.Errorf("finding the node of %s %q: %w", t.what, id, err)
	}
	live = slices.DeleteFunc(live, func(n string) bool { return slices.Contains(asked, n) })
	holder, silent := cluster.FindHolder(ctx, a.s.cluster.node.Link().Conn(), t.find, id, live)
	switch {
	case holder != "":
		return holder, nil
	case len(silent) > 0:
		return "", fmt.Errorf("%s %q is not on the nodes that answered; %s did not answer within %s: %w",
			t.what, id, strings.Join(silent, ", "), adminForwardTimeout, admin.ErrNoAnswer)
	}
	return "", fmt.Errorf("%s %q: %w", t.what, id, admin.ErrNotFound)
}

// serveAdminForward answers the admin requests the other nodes forward
// to this one until ctx ends: what this node's API would answer.
func (s *Server) serveAdminForward(ctx context.Context) {
	c := s.cluster
	srv, err := cluster.ServeAdmin(c.node.Link().Conn(), c.node.Name(),
		cluster.AdminLimits{InFlight: adminAnswerInFlight, Timeout: adminDeleteTimeout}, // each as long as its asker waits at most
		adminSource{s}.answerForwarded)
	if err != nil {
		s.log.Warn("this node's clients cannot be shown or kicked from other nodes", zap.Error(err))
		return
	}
	<-ctx.Done()
	srv.Stop()
}

// answerForwarded answers one admin request forwarded by another node,
// until ctx ends.
func (a adminSource) answerForwarded(ctx context.Context, req cluster.AdminRequest) cluster.AdminReply {
	var body any
	switch req.Op {
	case cluster.AdminSession, cluster.AdminDeleteSession:
		return a.answerSession(ctx, req) // admin_forward_sessions.go
	case cluster.AdminShow:
		d, ok := a.Client(req.ClientID)
		if !ok {
			return cluster.AdminReply{}
		}
		body = admin.DetailDocOf(&d)
	case cluster.AdminKick:
		code := mqtt.ReasonCode(req.Reason)
		if !admin.ServerMaySend(code) { // [MQTT-3.14.2-1]
			return cluster.AdminReply{Error: fmt.Sprintf("reason 0x%02X is not a DISCONNECT reason code a server may send", req.Reason)}
		}
		c, ok := a.Kick(req.ClientID, code)
		if !ok {
			return cluster.AdminReply{}
		}
		a.s.log.Info("admin kick forwarded by another node", logsafe.String("client_id", req.ClientID), zap.Stringer("reason_code", code))
		body = admin.KickResultOf(&c, code)
	default:
		return cluster.AdminReply{Error: fmt.Sprintf("unknown admin request %q", req.Op)}
	}
	return foundReply(body)
}

// foundReply is the answer of a node that has what a forwarded request
// is about: body, what its own API answers.
func foundReply(body any) cluster.AdminReply {
	b, err := json.Marshal(body)
	if err != nil {
		return cluster.AdminReply{Error: fmt.Sprintf("encoding the answer: %v", err)}
	}
	return cluster.AdminReply{Found: true, Body: b}
}
