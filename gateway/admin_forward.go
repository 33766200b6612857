package gateway

// The admin API's actions on one client of another cluster node
// (admin.ClusterClients' ClusterClient and ClusterKick): the node that
// received the HTTP request finds the node the client is connected to
// and forwards the action to it over NATS (cluster.AskAdmin), which
// answers with what its own API would (cluster.ServeAdmin, below). The
// node is found from the client's session record, which names the node
// holding a persistent session; otherwise (no record, a record that
// names this node or says the client is offline, or a node that no
// longer has the client) every other live node is asked whether it has
// the client, and the one that has it acts.
//
// Trust: the admin token was checked by the node that received the HTTP
// request. The forwarded request travels inside the cluster's NATS
// account, which only the cluster's nodes reach (embedded servers'
// routes, or the external servers' credentials), and is answered without
// a token of its own, as a node's kick of a session it claimed is.
//
// Answering reads the connections as GET /api/v1/clients/{id} does
// (adminSource.Client, Kick: Server.mu, then each session.mu alone), on
// the NATS subscription's goroutine; a kick does not wait for the
// connection to close.

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
// client: reading the session record, one node's answer, the other
// nodes' answers to whether they have the client.
const adminForwardTimeout = 2 * time.Second

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

// forward has the node the client of req is connected to act on req,
// and decodes its answer into out. The error is admin.ErrNotFound when
// no node has the client, one wrapping admin.ErrNoAnswer and naming the
// node when the node holding it, or one that might, did not answer.
func (a adminSource) forward(ctx context.Context, req cluster.AdminRequest, out any) error {
	c := a.s.cluster
	self := c.node.Name()
	asked := []string{self} // this node has no such client: the API looked
	if owner := a.recordOwner(ctx, req.ClientID); owner != "" && owner != self {
		found, err := a.askNode(ctx, owner, req, out)
		if err != nil || found {
			return err
		}
		asked = append(asked, owner)
	}
	holder, err := a.findHolder(ctx, req.ClientID, asked)
	if err != nil {
		return err
	}
	found, err := a.askNode(ctx, holder, req, out)
	if err == nil && !found {
		// It has just gone (or been taken over): as if it never was.
		return fmt.Errorf("client %q left node %s: %w", req.ClientID, holder, admin.ErrNotFound)
	}
	return err
}

// recordOwner returns the node the session record of id says its client
// is connected to; "" when there is no record, it says the client is
// offline, or it cannot be read (the nodes are asked then).
func (a adminSource) recordOwner(ctx context.Context, id string) string {
	ctx, cancel := context.WithTimeout(ctx, adminForwardTimeout)
	defer cancel()
	rec, _, err := cluster.NewSessionStore(a.s.cluster.node.Layout().Sessions).Get(ctx, id)
	if err != nil {
		if !errors.Is(err, cluster.ErrNoRecord) {
			a.s.log.Debug("reading a session record to find its node", logsafe.String("client_id", id), zap.Error(err))
		}
		return ""
	}
	if !rec.Connected {
		return ""
	}
	return rec.Owner
}

// askNode forwards req to node and decodes its answer into out when it
// has the client (found).
func (a adminSource) askNode(ctx context.Context, node string, req cluster.AdminRequest, out any) (found bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, adminForwardTimeout)
	defer cancel()
	rep, err := cluster.AskAdmin(ctx, a.s.cluster.node.Link().Conn(), node, req)
	if errors.Is(err, cluster.ErrNoAnswer) {
		return false, fmt.Errorf("node %s holds client %q but did not answer within %s: %w", node, req.ClientID, adminForwardTimeout, admin.ErrNoAnswer)
	}
	if err != nil {
		return false, fmt.Errorf("asking node %s about client %q: %w", node, req.ClientID, err)
	}
	if !rep.Found {
		return false, nil
	}
	if err := json.Unmarshal(rep.Body, out); err != nil {
		return false, fmt.Errorf("decoding node %s's answer about client %q: %w", node, req.ClientID, err)
	}
	return true, nil
}

// findHolder asks every live node but those of asked, at once, whether
// the client id is connected to it, and returns the first that has it.
// The error is admin.ErrNotFound when all answered no, one wrapping
// admin.ErrNoAnswer naming those that did not answer otherwise.
func (a adminSource) findHolder(ctx context.Context, id string, asked []string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, adminForwardTimeout)
	defer cancel()
	live, err := cluster.LiveNodes(ctx, a.s.cluster.node.Layout().Nodes)
	if err != nil {
		return "", fmt.Errorf("finding the node of client %q: %w", id, err)
	}
	live = slices.DeleteFunc(live, func(n string) bool { return slices.Contains(asked, n) })
	holder, silent := cluster.FindClient(ctx, a.s.cluster.node.Link().Conn(), id, live)
	switch {
	case holder != "":
		return holder, nil
	case len(silent) > 0:
		return "", fmt.Errorf("client %q is not connected to the nodes that answered; %s did not answer within %s: %w",
			id, strings.Join(silent, ", "), adminForwardTimeout, admin.ErrNoAnswer)
	}
	return "", fmt.Errorf("client %q: %w", id, admin.ErrNotFound)
}

// serveAdminForward answers the admin requests the other nodes forward
// to this one until ctx ends: what this node's API would answer.
func (s *Server) serveAdminForward(ctx context.Context) {
	c := s.cluster
	srv, err := cluster.ServeAdmin(c.node.Link().Conn(), c.node.Name(), adminSource{s}.answerForwarded)
	if err != nil {
		s.log.Warn("this node's clients cannot be shown or kicked from other nodes", zap.Error(err))
		return
	}
	<-ctx.Done()
	srv.Stop()
}

// answerForwarded answers one admin request forwarded by another node.
func (a adminSource) answerForwarded(req cluster.AdminRequest) cluster.AdminReply {
	var body any
	switch req.Op {
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
	b, err := json.Marshal(body)
	if err != nil {
		return cluster.AdminReply{Error: fmt.Sprintf("encoding the answer: %v", err)}
	}
	return cluster.AdminReply{Found: true, Body: b}
}
