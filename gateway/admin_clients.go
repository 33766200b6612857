package gateway

// Admin API: connected clients (GET /api/v1/clients, GET and DELETE
// /api/v1/clients/{id}).

import (
	"cmp"
	"crypto/tls"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"edgemq/gateway/broker"
	"edgemq/gateway/logsafe"
	"edgemq/mqtt"

	"go.uber.org/zap"
)

// markConnected publishes the connection to the admin API. It runs on the
// connection's goroutine once the handshake succeeded: what CONNECT set
// (channel.neg, its username, its session) is never written again, so
// another goroutine that loads a non-zero conn.connectedAt may read them.
func (c *conn) markConnected() { c.connectedAt.Store(time.Now().UnixNano()) }

// adminConn is a connected client found by the admin API.
type adminConn struct {
	c  *conn
	at time.Time // when it connected
}

// neg, username and sess read what CONNECT set (markConnected).
func (ac adminConn) neg() *Negotiated      { return &ac.c.ch.neg }
func (ac adminConn) username() string      { return ac.c.ch.acl.view.username }
func (ac adminConn) sess() *broker.Session { return ac.c.ch.sess }

// connectedClients returns the connected clients, by client id: those
// whose connection holds their session (not one taken over or
// detaching). Server.mu is held only to list the connections, each
// session's lock alone, in turn, to check its owner: no lock pair.
func (s *Server) connectedClients() []adminConn {
	var out []adminConn
	for _, c := range s.connections() {
		if at := c.connectedAt.Load(); at != 0 && !c.ch.kicked.Load() && c.ch.sess.HeldBy(&c.ch) {
			out = append(out, adminConn{c, time.Unix(0, at)})
		}
	}
	slices.SortFunc(out, func(a, b adminConn) int { return cmp.Compare(a.neg().ClientID, b.neg().ClientID) })
	return out
}

// clientItem is a client in GET /api/v1/clients.
type clientItem struct {
	ClientID    string    `json:"client_id"`
	Username    string    `json:"username"`
	Listener    string    `json:"listener"`
	Transport   string    `json:"transport"`
	RemoteAddr  string    `json:"remote_addr"`
	Protocol    string    `json:"protocol"` // 3.1, 3.1.1 or 5.0
	ConnectedAt time.Time `json:"connected_at"`
	// KeepAlive is the keep alive in force, in seconds.
	KeepAlive uint16 `json:"keep_alive"`
}

func itemOf(ac adminConn) clientItem {
	m := ac.c.ch.meta
	it := clientItem{
		ClientID: ac.neg().ClientID, Username: ac.username(),
		Listener: m.Listener, Transport: string(m.Transport),
		Protocol: ac.neg().Version.String(), ConnectedAt: ac.at.UTC(),
		KeepAlive: ac.neg().KeepAlive,
	}
	if m.RemoteAddr != nil {
		it.RemoteAddr = m.RemoteAddr.String()
	}
	return it
}

// protocolNames maps the protocol filter's accepted spellings to
// mqtt.Version.String.
var protocolNames = map[string]string{
	"3": "3.1", "3.1": "3.1", "4": "3.1.1", "3.1.1": "3.1.1", "5": "5.0", "5.0": "5.0",
}

// adminListClients lists connected clients by client id, paged, filtered
// by listener, transport, username, client_id (a prefix) and protocol.
func (s *Server) adminListClients(w http.ResponseWriter, r *http.Request) {
	pp, err := parseAdminPage(r)
	if err != nil {
		writeAdminError(w, http.StatusBadRequest, "%v", err)
		return
	}
	q := r.URL.Query()
	protocol := q.Get("protocol")
	if protocol != "" {
		p, ok := protocolNames[protocol]
		if !ok {
			writeAdminError(w, http.StatusBadRequest, "protocol %q is not 3.1, 3.1.1 or 5.0", protocol)
			return
		}
		protocol = p
	}
	var items []clientItem
	for _, ac := range s.connectedClients() {
		it := itemOf(ac)
		if (q.Has("listener") && it.Listener != q.Get("listener")) ||
			(q.Has("transport") && it.Transport != q.Get("transport")) ||
			(q.Has("username") && it.Username != q.Get("username")) ||
			!strings.HasPrefix(it.ClientID, q.Get("client_id")) ||
			(protocol != "" && it.Protocol != protocol) {
			continue
		}
		items = append(items, it)
	}
	writeAdminJSON(w, http.StatusOK, paginateAdmin(items, func(it clientItem) string { return it.ClientID }, pp))
}

// clientDetail is GET /api/v1/clients/{id}.
type clientDetail struct {
	clientItem
	TLS           *tlsInfo          `json:"tls,omitempty"`
	Negotiated    negotiatedDoc     `json:"negotiated"`
	Subscriptions []subscriptionDoc `json:"subscriptions"`
	// Inflight counts outbound QoS 1/2 deliveries not acknowledged yet;
	// Queued (and QueuedBytes of payload) those waiting in the session
	// for the inflight window.
	Inflight    int   `json:"inflight"`
	Queued      int   `json:"queued"`
	QueuedBytes int64 `json:"queued_bytes"`
	// OutboundQueue is the connection's write queue.
	OutboundQueue queueDepth `json:"outbound_queue"`
	// SessionExpiry is the Session Expiry Interval in force, in seconds
	// (4294967295: never).
	SessionExpiry uint32 `json:"session_expiry"`
}

type queueDepth struct {
	Items int   `json:"items"`
	Bytes int64 `json:"bytes"`
}

// tlsInfo is the TLS state of a tls or wss client.
type tlsInfo struct {
	Version     string `json:"version"`
	CipherSuite string `json:"cipher_suite"`
	ServerName  string `json:"server_name"` // SNI
	ALPN        string `json:"alpn"`
	// PeerSubject is the subject of the client certificate, if any.
	PeerSubject string `json:"peer_subject,omitempty"`
}

func tlsInfoOf(cs *tls.ConnectionState) *tlsInfo {
	if cs == nil {
		return nil
	}
	t := &tlsInfo{
		Version: tls.VersionName(cs.Version), CipherSuite: tls.CipherSuiteName(cs.CipherSuite),
		ServerName: cs.ServerName, ALPN: cs.NegotiatedProtocol,
	}
	if len(cs.PeerCertificates) > 0 {
		t.PeerSubject = cs.PeerCertificates[0].Subject.String()
	}
	return t
}

// negotiatedDoc is Negotiated in JSON.
type negotiatedDoc struct {
	AssignedClientID        bool   `json:"assigned_client_id"`
	CleanStart              bool   `json:"clean_start"`
	SessionPresent          bool   `json:"session_present"`
	ServerKeepAlive         bool   `json:"server_keep_alive"`
	SessionExpiryCapped     bool   `json:"session_expiry_capped"`
	ServerMaxPacketSize     uint32 `json:"server_max_packet_size"`
	ServerReceiveMaximum    uint16 `json:"server_receive_maximum"`
	ServerTopicAliasMaximum uint16 `json:"server_topic_alias_maximum"`
	MaximumQoS              byte   `json:"maximum_qos"`
	RetainAvailable         bool   `json:"retain_available"`
	WildcardAvailable       bool   `json:"wildcard_subscription_available"`
	SubIDsAvailable         bool   `json:"subscription_identifiers_available"`
	SharedAvailable         bool   `json:"shared_subscription_available"`
	ClientMaxPacketSize     uint32 `json:"client_max_packet_size"`
	ClientReceiveMaximum    uint16 `json:"client_receive_maximum"`
	ClientTopicAliasMaximum uint16 `json:"client_topic_alias_maximum"`
	OutboundTopicAliases    uint16 `json:"outbound_topic_aliases"`
	OutboundInflight        uint16 `json:"outbound_inflight"`
	ProblemInfo             bool   `json:"problem_info"`
}

func negotiatedDocOf(n *Negotiated) negotiatedDoc {
	return negotiatedDoc{
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

// subscriptionDoc is a subscription and its options.
type subscriptionDoc struct {
	Filter            string `json:"filter"`
	QoS               byte   `json:"qos"`
	NoLocal           bool   `json:"no_local"`
	RetainAsPublished bool   `json:"retain_as_published"`
	RetainHandling    byte   `json:"retain_handling"`
	// Identifier is the Subscription Identifier; 0: none.
	Identifier uint32 `json:"identifier"`
}

// subscriptionDocs turns a session view's subscriptions into their
// document form, by filter.
func subscriptionDocs(subs []broker.SubscriptionView) []subscriptionDoc {
	out := make([]subscriptionDoc, 0, len(subs))
	for _, sub := range subs {
		out = append(out, subscriptionDoc{
			Filter: sub.Filter, QoS: sub.QoS, NoLocal: sub.NoLocal, RetainAsPublished: sub.RetainAsPublished,
			RetainHandling: sub.RetainHandling, Identifier: sub.ID,
		})
	}
	return out
}

// findClient returns the connected client with id.
func (s *Server) findClient(id string) (adminConn, bool) {
	for _, ac := range s.connectedClients() {
		if ac.neg().ClientID == id {
			return ac, true
		}
	}
	return adminConn{}, false
}

// adminGetClient shows one connected client.
func (s *Server) adminGetClient(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	ac, ok := s.findClient(id)
	if !ok {
		writeAdminError(w, http.StatusNotFound, "client %q is not connected", id)
		return
	}
	v := ac.sess().View()
	writeAdminJSON(w, http.StatusOK, clientDetail{
		clientItem: itemOf(ac), TLS: tlsInfoOf(ac.c.ch.meta.TLS), Negotiated: negotiatedDocOf(ac.neg()),
		Subscriptions: subscriptionDocs(v.Subs), Inflight: v.Inflight, Queued: v.Queued, QueuedBytes: v.QueuedBytes,
		OutboundQueue: ac.c.out.depth(), SessionExpiry: v.Expiry,
	})
}

// serverDisconnectCodes are the DISCONNECT reason codes a server may send
// (MQTT 5.0 table 3-10) [MQTT-3.14.2-1].
var serverDisconnectCodes = map[mqtt.ReasonCode]bool{
	mqtt.NormalDisconnection: true, mqtt.UnspecifiedError: true, mqtt.MalformedPacket: true,
	mqtt.ProtocolError: true, mqtt.ImplementationSpecificError: true, mqtt.NotAuthorized: true,
	mqtt.ServerBusy: true, mqtt.ServerShuttingDown: true, mqtt.KeepAliveTimeout: true,
	mqtt.SessionTakenOver: true, mqtt.TopicFilterInvalid: true, mqtt.TopicNameInvalid: true,
	mqtt.ReceiveMaximumExceeded: true, mqtt.TopicAliasInvalid: true, mqtt.PacketTooLarge: true,
	mqtt.MessageRateTooHigh: true, mqtt.QuotaExceeded: true, mqtt.AdministrativeAction: true,
	mqtt.PayloadFormatInvalid: true, mqtt.RetainNotSupported: true, mqtt.QoSNotSupported: true,
	mqtt.UseAnotherServer: true, mqtt.ServerMoved: true, mqtt.SharedSubscriptionsNotSupported: true,
	mqtt.ConnectionRateExceeded: true, mqtt.MaximumConnectTime: true,
	mqtt.SubscriptionIdentifiersNotSupported: true, mqtt.WildcardSubscriptionsNotSupported: true,
}

// parseDisconnectCode reads the reason query parameter (0x98 or 152;
// default 0x98 Administrative action).
func parseDisconnectCode(r *http.Request) (mqtt.ReasonCode, bool) {
	v := r.URL.Query().Get("reason")
	if v == "" {
		return mqtt.AdministrativeAction, true
	}
	n, err := strconv.ParseUint(v, 0, 8)
	code := mqtt.ReasonCode(n)
	return code, err == nil && serverDisconnectCodes[code]
}

// kickResult is the answer of DELETE /api/v1/clients/{id}.
type kickResult struct {
	ClientID   string `json:"client_id"`
	Protocol   string `json:"protocol"`
	ReasonCode string `json:"reason_code"` // sent to a v5 client
}

// adminKickClient disconnects a client through its connection's own
// close path, as the drain does: a v5 client gets DISCONNECT with the
// reason code, a 3.x client is closed. Its session stays per its expiry,
// and its will is handled as on any server-side close.
func (s *Server) adminKickClient(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	code, ok := parseDisconnectCode(r)
	if !ok {
		writeAdminError(w, http.StatusBadRequest, "reason %q is not a DISCONNECT reason code a server may send", r.URL.Query().Get("reason"))
		return
	}
	ac, found := s.findClient(id)
	if !found {
		writeAdminError(w, http.StatusNotFound, "client %q is not connected", id)
		return
	}
	s.log.Info("admin kick", logsafe.String("client_id", id), zap.Stringer("reason_code", code))
	ac.c.ch.kick(code)
	writeAdminJSON(w, http.StatusOK, kickResult{ClientID: id, Protocol: ac.neg().Version.String(), ReasonCode: fmt.Sprintf("0x%02X", byte(code))})
}
