package gateway

// One session held by another cluster node, shown or deleted through
// this one (admin.ClusterSessions): forwarded as a client's actions are
// (admin_forward.go), to the node the session record names as its owner
// (connected there or offline), else to the live node that says it
// holds the session. The holding node answers as its own API would,
// naming itself; a delete's 409s (admin.ErrStillHeld,
// admin.ErrReconnected) travel as the reply's kind
// (cluster.AdminKindStillHeld, cluster.AdminKindReconnected).

import (
	"context"
	"errors"

	"edgemq/gateway/admin"
	"edgemq/gateway/cluster"
	"edgemq/gateway/logsafe"

	"go.uber.org/zap"
)

// adminClusterSessions returns what the admin API shows and deletes
// another node's sessions with: nil without a cluster.
func (a adminSource) adminClusterSessions() admin.ClusterSessions {
	if a.s.cluster == nil {
		return nil
	}
	return a
}

// NodeName implements admin.ClusterSessions.
func (a adminSource) NodeName() string { return a.s.clusterNodeName() }

// ClusterSession implements admin.ClusterSessions.
func (a adminSource) ClusterSession(ctx context.Context, id string) (admin.SessionDetail, error) {
	var d admin.SessionDetail
	err := a.forward(ctx, cluster.AdminRequest{Op: cluster.AdminSession, ClientID: id}, &d)
	return d, err
}

// ClusterDeleteSession implements admin.ClusterSessions.
func (a adminSource) ClusterDeleteSession(ctx context.Context, id string) (admin.SessionDeleteResult, error) {
	var res admin.SessionDeleteResult
	err := a.forward(ctx, cluster.AdminRequest{Op: cluster.AdminDeleteSession, ClientID: id}, &res)
	return res, err
}

// answerSession answers a forwarded AdminSession or AdminDeleteSession:
// what GET or DELETE /api/v1/sessions/{id} answers here, naming this
// node. A delete waits, until ctx ends or at most detachWait, for the
// kicked connection to release the session.
func (a adminSource) answerSession(ctx context.Context, req cluster.AdminRequest) cluster.AdminReply {
	var body any
	switch req.Op {
	case cluster.AdminSession:
		s, ok := a.Session(req.ClientID)
		if !ok {
			return cluster.AdminReply{}
		}
		body = admin.SessionDetailOf(&s)
	default: // cluster.AdminDeleteSession
		kicked, err := a.DeleteSession(ctx, req.ClientID)
		if errors.Is(err, admin.ErrNotFound) {
			return cluster.AdminReply{}
		}
		if err != nil {
			return cluster.AdminReply{Found: true, Error: err.Error(), Kind: replyKind(err)}
		}
		a.s.log.Info("admin session discarded, forwarded by another node", logsafe.String("client_id", req.ClientID), zap.Bool("kicked", kicked))
		body = admin.SessionDeleteResult{ClientID: req.ClientID, Kicked: kicked, Node: a.s.clusterNodeName()}
	}
	return foundReply(body) // admin_forward.go
}

// replyKind returns the kind a node's reply gives DeleteSession's err,
// for the asking node to answer as this one would; "" for another
// error.
func replyKind(err error) string {
	switch {
	case errors.Is(err, admin.ErrStillHeld):
		return cluster.AdminKindStillHeld
	case errors.Is(err, admin.ErrReconnected):
		return cluster.AdminKindReconnected
	}
	return ""
}

// kindErr returns the error of DeleteSession a reply's kind stands for;
// nil for none.
func kindErr(kind string) error {
	switch kind {
	case cluster.AdminKindStillHeld:
		return admin.ErrStillHeld
	case cluster.AdminKindReconnected:
		return admin.ErrReconnected
	}
	return nil
}
