package gateway

// The admin API (package admin) over this server: its listener's life,
// and adminSource, the adapter implementing the interfaces admin
// declares. The adapter is the only code that reads connections and
// sessions for the API; it takes each lock alone, briefly, and hands back
// copies: Server.mu to list the connections, then each session.mu in
// turn, a writeQueue.mu for its depth, retainedStore.mu; discarding a
// session takes registry.mu → session.mu, in the order of registry.go.
// No lock is held while calling into a connection: a kick (channel.kick)
// goes through the connection's own close path, as the drain does. A
// publish goes through the engine's Publisher seam, as a client's PUBLISH
// does (on a cluster node the backend's), and waits for its completion
// holding no lock.

import (
	"cmp"
	"context"
	"fmt"
	"iter"
	"net"
	"slices"
	"strings"
	"time"

	"edgemq/configs"
	"edgemq/gateway/admin"
	"edgemq/gateway/broker"
	"edgemq/gateway/conn"
	"edgemq/gateway/proto"
	"edgemq/listeners/web"
	"edgemq/mqtt"

	dto "github.com/prometheus/client_model/go"
)

// newAdmin binds the admin listener when admin.address is set.
func (s *Server) newAdmin() error {
	ac := s.config().Admin
	if ac.Address == "" {
		return nil
	}
	src := adminSource{s}
	a, err := admin.Listen(ac, admin.Backend{
		Clients: src, Sessions: src, Retained: src, Publisher: src, Control: src, Status: src,
		Dashboard: web.Dashboard(), Cluster: src.adminCluster(), // admin_cluster.go
		ClusterSessions: src.adminClusterSessions(), // admin_forward_sessions.go
	}, s.log)
	if err != nil {
		return err
	}
	s.admin = a
	return nil
}

// AdminAddr returns the bound address of the admin listener, or nil.
func (s *Server) AdminAddr() net.Addr {
	if s.admin == nil {
		return nil
	}
	return s.admin.Addr()
}

// startAdmin serves the admin listener until the returned stop is called.
func (s *Server) startAdmin() (stop func()) {
	if s.admin == nil {
		return func() {}
	}
	return s.admin.Start(adminURLFields(s.config().Admin.Address, s.admin.Addr())...) // endpoints.go
}

// dashboardPath is where the admin listener serves the operator
// dashboard (package listeners/web).
const dashboardPath = admin.DashboardPath

// closeAdmin closes an admin listener that was bound but never served.
func (s *Server) closeAdmin() {
	if s.admin != nil {
		s.admin.Close()
	}
}

// RequestDrain starts the graceful drain Run does when its context is
// cancelled (stop accepting, disconnect clients over drain.period); Run
// returns nil afterwards. It does not wait; calling it again does nothing.
func (s *Server) RequestDrain() {
	s.drainOnce.Do(func() { close(s.drainReq) })
}

// adminSource implements admin's Clients, Sessions, Retained, Publisher
// and Control over s.
type adminSource struct{ s *Server }

// adminConn is a connected client found for the admin API.
type adminConn struct {
	c  *conn.Conn
	at time.Time // when it connected
}

// neg, username and sess read what CONNECT set (markConnected).
func (ac adminConn) neg() *proto.Negotiated { return ac.c.Channel().Negotiated() }
func (ac adminConn) username() string       { return ac.c.Channel().Username() }
func (ac adminConn) sess() *broker.Session  { return ac.c.Channel().Session() }

// connected returns the connected clients, by client id: those whose
// connection holds their session (not one taken over or detaching).
// Server.mu is held only to list the connections, each session's lock
// alone, in turn, to check its owner: no lock pair.
func (a adminSource) connected() []adminConn {
	var out []adminConn
	for _, c := range a.s.connections() {
		if at, ok := c.ConnectedAt(); ok && !c.Channel().Kicked() && c.Channel().Session().HeldBy(c.Channel()) {
			out = append(out, adminConn{c, at})
		}
	}
	slices.SortFunc(out, func(x, y adminConn) int { return cmp.Compare(x.neg().ClientID, y.neg().ClientID) })
	return out
}

// find returns the connected client with id.
func (a adminSource) find(id string) (adminConn, bool) {
	for _, ac := range a.connected() {
		if ac.neg().ClientID == id {
			return ac, true
		}
	}
	return adminConn{}, false
}

func (ac adminConn) client() admin.Client {
	m := ac.c.Channel().Meta()
	n := ac.neg()
	out := admin.Client{
		ClientID: n.ClientID, Username: ac.username(), Listener: m.Listener, Transport: string(m.Transport),
		RemoteAddr: m.RemoteAddr, Version: n.Version, ConnectedAt: ac.at, KeepAlive: n.KeepAlive,
	}
	out.MessagesOut, out.BytesOut = ac.c.Sent()
	return out
}

// Clients implements admin.Clients.
func (a adminSource) Clients() []admin.Client {
	conns := a.connected()
	out := make([]admin.Client, len(conns))
	for i, ac := range conns {
		out[i] = ac.client()
		out[i].Node = a.s.clusterNodeName() // admin_cluster.go
	}
	return out
}

// Client implements admin.Clients.
func (a adminSource) Client(id string) (admin.ClientDetail, bool) {
	ac, ok := a.find(id)
	if !ok {
		return admin.ClientDetail{}, false
	}
	d := admin.ClientDetail{Client: ac.client(), TLS: ac.c.Channel().Meta().TLS, Negotiated: negotiatedOf(ac.neg()), Session: sessionOf(ac.sess())}
	d.Node = a.s.clusterNodeName()
	d.OutboundItems, d.OutboundBytes = ac.c.QueueDepth()
	return d, true
}

// Kick implements admin.Clients.
func (a adminSource) Kick(id string, code mqtt.ReasonCode) (admin.Client, bool) {
	ac, ok := a.find(id)
	if !ok {
		return admin.Client{}, false
	}
	ac.c.Channel().Kick(code)
	c := ac.client()
	c.Node = a.s.clusterNodeName() // admin_cluster.go
	return c, true
}

func negotiatedOf(n *proto.Negotiated) admin.Negotiated {
	return admin.Negotiated{
		AssignedClientID: n.AssignedClientID, CleanStart: n.CleanStart, SessionPresent: n.SessionPresent,
		ServerKeepAlive: n.ServerKeepAlive, SessionExpiryCapped: n.SessionExpiryCapped,
		ServerMaxPacketSize: n.ServerMaxPacketSize, ServerReceiveMaximum: n.ServerReceiveMaximum,
		ServerTopicAliasMaximum: n.ServerTopicAliasMaximum, MaximumQoS: n.MaximumQoS,
		RetainAvailable: n.RetainAvailable, WildcardAvailable: n.WildcardAvailable,
		SubIDsAvailable: n.SubIDsAvailable, SharedAvailable: n.SharedAvailable,
		ClientMaxPacketSize: n.ClientMaxPacketSize, ClientReceiveMaximum: n.ClientReceiveMaximum,
		ClientTopicAliasMaximum: n.ClientTopicAliasMaximum, OutboundTopicAliases: n.OutboundTopicAliases,
		OutboundInflight: n.OutboundInflight, ProblemInfo: n.ProblemInfo,
	}
}

// sessionOf copies ss under its lock (broker.Session.View).
func sessionOf(ss *broker.Session) admin.Session {
	v := ss.View()
	out := admin.Session{
		ClientID: ss.ClientID(), Connected: v.Connected, Expiry: v.Expiry,
		Inflight: v.Inflight, Queued: v.Queued, QueuedBytes: v.QueuedBytes, Owner: ss.OwnerIdentity(),
		Subscriptions: make([]admin.Subscription, len(v.Subs)),
	}
	for i, sub := range v.Subs {
		out.Subscriptions[i] = admin.Subscription{
			Filter: sub.Filter, QoS: sub.QoS, NoLocal: sub.NoLocal, RetainAsPublished: sub.RetainAsPublished,
			RetainHandling: sub.RetainHandling, Identifier: sub.ID,
		}
	}
	return out
}

// Sessions implements admin.Sessions.
func (a adminSource) Sessions(prefix, after string) iter.Seq[admin.Session] {
	return func(yield func(admin.Session) bool) {
		for _, ss := range a.s.eng.Broker().Sessions() {
			if id := ss.ClientID(); !strings.HasPrefix(id, prefix) || after != "" && id <= after {
				continue
			}
			v := sessionOf(ss)
			v.Node = a.s.clusterNodeName() // admin_cluster.go
			if !yield(v) {
				return
			}
		}
	}
}

// Session implements admin.Sessions.
func (a adminSource) Session(id string) (admin.Session, bool) {
	ss := a.s.eng.Broker().Lookup(id)
	if ss == nil {
		return admin.Session{}, false
	}
	v := sessionOf(ss)
	v.Node = a.s.clusterNodeName() // admin_cluster.go
	return v, true
}

// detachWait bounds how long DeleteSession waits for a kicked client's
// connection to release the session.
const detachWait = conn.CloseGrace + time.Second

// DeleteSession implements admin.Sessions: it kicks the connected client
// (0x98), waits for its connection to release the session, and ends the
// session as its expiry would (registry.discard).
func (a adminSource) DeleteSession(ctx context.Context, id string) (kicked bool, err error) {
	ss := a.s.eng.Broker().Lookup(id)
	for _, ac := range a.connected() {
		if ac.neg().ClientID == id {
			ac.c.Channel().Kick(mqtt.AdministrativeAction)
			kicked = true
		}
	}
	if ss == nil && !kicked {
		return false, admin.ErrNotFound
	}
	if ss != nil && kicked {
		ctx, cancel := context.WithTimeout(ctx, detachWait)
		defer cancel()
		if !ss.AwaitDetached(ctx) {
			return kicked, admin.ErrStillHeld
		}
	}
	if _, busy := a.s.eng.Broker().Discard(id); busy {
		return kicked, admin.ErrReconnected
	}
	return kicked, nil
}

// Retained implements admin.Retained.
func (a adminSource) Retained(filter string, now time.Time) []admin.RetainedMessage {
	msgs := a.s.eng.Broker().RetainedMatch(filter, now)
	out := make([]admin.RetainedMessage, len(msgs))
	for i, m := range msgs {
		out[i] = admin.RetainedMessage{Publish: m.Publish(), Expires: m.Expires()}
	}
	return out
}

// RemoveRetained implements admin.Retained: through the cluster's
// retained stream on a cluster node (cluster.go).
func (a adminSource) RemoveRetained(ctx context.Context, topic string) (bool, error) {
	if r := a.s.clusterRetained(); r != nil {
		return r.Remove(ctx, topic)
	}
	return a.s.eng.Broker().RemoveRetained(topic), nil
}

// Publish implements admin.Publisher through the engine's Publisher
// seam, the path of a client's PUBLISH (proto/channel.go): one store
// group for the routing, then the completion a QoS 1 or 2
// acknowledgement waits for (AfterCommit). On a cluster node the seam is
// the backend's (cluster.go): it routes to the other nodes with
// interest, stores QoS 1 and 2 in the messages stream and retained
// messages in the retained stream, and fails its completion while the
// node does not serve. No lock is held while waiting; the completion
// runs on the store's or NATS's goroutine and only sends on a buffered
// channel. A failed completion is the admin API's to report, not
// CommitFailed's (which speaks of a disconnected publisher).
func (a adminSource) Publish(ctx context.Context, from string, pub *mqtt.Publish) (int, bool, error) {
	p := a.s.eng.Publisher()
	now := a.s.eng.Clock().Now()
	needsStore := pub.QoS > 0 || pub.Retain
	end := p.Begin()
	var buf []broker.Match
	n := p.RouteAt(broker.NewMessage(pub, from, now), &buf, now)
	end() // nothing may wait for a completion before the group ends
	if !p.Durable() {
		return n, false, nil
	}
	done := make(chan error, 1)
	if !p.AfterCommit(from, func(err error) { done <- err }) {
		return n, false, nil
	}
	select {
	case err := <-done:
		if err != nil {
			return n, false, fmt.Errorf("storing the message: %w", err)
		}
		return n, needsStore, nil
	case <-ctx.Done():
		return n, false, fmt.Errorf("waiting for the message to be stored: %w", ctx.Err())
	}
}

// Config implements admin.Control.
func (a adminSource) Config() *configs.Config { return a.s.config() }

// Reload implements admin.Control (ReloadConfig).
func (a adminSource) Reload(ctx context.Context) (any, error) { return a.s.ReloadConfig(ctx) }

// Drain implements admin.Control (RequestDrain).
func (a adminSource) Drain() { a.s.RequestDrain() }

// listeners lists the configured listeners with their URLs (endpoints.go).
func (a adminSource) listeners() []admin.Listener {
	out := make([]admin.Listener, 0, len(a.s.lsts))
	for _, l := range a.s.lsts {
		url, page := listenerURLs(l.cfg, l.ln.Addr())
		out = append(out, admin.Listener{
			Name: l.cfg.Name, Type: l.cfg.Type, Address: l.ln.Addr().String(), URL: url, PageURL: page, TLS: l.cfg.TLS, Up: l.up.Load(),
		})
	}
	return out
}

func (a adminSource) version() string { return cmp.Or(a.s.sys.version, "dev") }

// Status implements admin.Status.
func (a adminSource) Status() admin.ServerStatus {
	s := a.s
	st := s.Stats()
	out := admin.ServerStatus{
		Version: a.version(), StartedAt: s.startedAt, Draining: s.isDraining(), Listeners: a.listeners(),
		Connections: st.Connections, Sessions: st.Sessions, Subscriptions: subscriptionCount(s),
		MessagesIn: st.MessagesIn, MessagesOut: st.MessagesOut, Dropped: st.Dropped,
	}
	out.Retained, out.RetainedBytes = s.eng.Broker().RetainedSize()
	out.Node, out.Cluster = s.clusterNodeName(), s.clusterNodes() // admin_cluster.go
	return out
}

// subscriptionCount returns the number of subscriptions of all of srv's
// sessions (broker.Broker.Gauges: approximate while they change).
func subscriptionCount(srv *Server) int {
	_, subs, _, _ := srv.eng.Broker().Gauges()
	return subs
}

// Overview implements admin.Status.
func (a adminSource) Overview() admin.ServerOverview {
	return admin.ServerOverview{Version: a.version(), Listeners: a.listeners(), AdmissionRefused: a.s.Stats().AdmissionRefused,
		Cluster: a.s.clusterNodes()} // admin_cluster.go
}

// Metrics implements admin.Status.
func (a adminSource) Metrics() ([]*dto.MetricFamily, error) { return a.s.metrics.Gather() }
