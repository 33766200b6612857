package admin

// Connected clients: GET /api/v1/clients, GET and DELETE
// /api/v1/clients/{id}.

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"edgemq/gateway/logsafe"
	"edgemq/mqtt"

	"go.uber.org/zap"
)

// ClientItem is a client in GET /api/v1/clients.
type ClientItem struct {
	ClientID    string    `json:"client_id"`
	Username    string    `json:"username"`
	Listener    string    `json:"listener"`
	Transport   string    `json:"transport"`
	RemoteAddr  string    `json:"remote_addr"`
	Protocol    string    `json:"protocol"` // 3.1, 3.1.1 or 5.0
	ConnectedAt time.Time `json:"connected_at"`
	// KeepAlive is the keep alive in force, in seconds.
	KeepAlive uint16 `json:"keep_alive"`
	// Node is the cluster node the client is connected to; absent on a
	// single node.
	Node string `json:"node,omitempty"`
}

// ItemOf returns c as GET /api/v1/clients lists it (and as a cluster
// node answers for it, ClusterClients).
func ItemOf(c *Client) ClientItem {
	it := ClientItem{
		ClientID: c.ClientID, Username: c.Username,
		Listener: c.Listener, Transport: c.Transport,
		Protocol: c.Version.String(), ConnectedAt: c.ConnectedAt.UTC(),
		KeepAlive: c.KeepAlive, Node: c.Node,
	}
	if c.RemoteAddr != nil {
		it.RemoteAddr = c.RemoteAddr.String()
	}
	return it
}

// protocolNames maps the protocol filter's accepted spellings to
// mqtt.Version.String.
var protocolNames = map[string]string{
	"3": "3.1", "3.1": "3.1", "4": "3.1.1", "3.1.1": "3.1.1", "5": "5.0", "5.0": "5.0",
}

// listClients lists connected clients by client id, paged, filtered by
// listener, transport, username, client_id (a prefix) and protocol;
// with scope=cluster, those of every node of a cluster (clients_cluster.go).
func (a *Server) listClients(w http.ResponseWriter, r *http.Request) {
	pp, err := parsePage(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "%v", err)
		return
	}
	q := r.URL.Query()
	protocol := q.Get("protocol")
	if protocol != "" {
		p, ok := protocolNames[protocol]
		if !ok {
			writeError(w, http.StatusBadRequest, "protocol %q is not 3.1, 3.1.1 or 5.0", protocol)
			return
		}
		protocol = p
	}
	all, missing, ok := a.clientsInScope(w, r)
	if !ok {
		return
	}
	var items []ClientItem
	for _, it := range all {
		if (q.Has("listener") && it.Listener != q.Get("listener")) ||
			(q.Has("transport") && it.Transport != q.Get("transport")) ||
			(q.Has("username") && it.Username != q.Get("username")) ||
			!strings.HasPrefix(it.ClientID, q.Get("client_id")) ||
			(protocol != "" && it.Protocol != protocol) {
			continue
		}
		items = append(items, it)
	}
	if missing == nil {
		writeJSON(w, http.StatusOK, paginate(items, func(it ClientItem) string { return it.ClientID }, pp))
		return
	}
	writeJSON(w, http.StatusOK, ClusterPage{Page: paginate(items, clusterKey, pp), MissingNodes: missing})
}

// ClientDetailDoc is the answer of GET /api/v1/clients/{id}.
type ClientDetailDoc struct {
	ClientItem
	TLS           *TLSInfo       `json:"tls,omitempty"`
	Negotiated    Negotiated     `json:"negotiated"`
	Subscriptions []Subscription `json:"subscriptions"`
	// Inflight counts outbound QoS 1/2 deliveries not acknowledged yet;
	// Queued (and QueuedBytes of payload) those waiting in the session
	// for the inflight window.
	Inflight    int   `json:"inflight"`
	Queued      int   `json:"queued"`
	QueuedBytes int64 `json:"queued_bytes"`
	// OutboundQueue is the connection's write queue.
	OutboundQueue QueueDepth `json:"outbound_queue"`
	// SessionExpiry is the Session Expiry Interval in force, in seconds
	// (4294967295: never).
	SessionExpiry uint32 `json:"session_expiry"`
}

// QueueDepth is the depth of a write queue: packets and payload bytes.
type QueueDepth struct {
	Items int   `json:"items"`
	Bytes int64 `json:"bytes"`
}

// TLSInfo is the TLS state of a tls or wss client.
type TLSInfo struct {
	Version     string `json:"version"`
	CipherSuite string `json:"cipher_suite"`
	ServerName  string `json:"server_name"` // SNI
	ALPN        string `json:"alpn"`
	// PeerSubject is the subject of the client certificate, if any.
	PeerSubject string `json:"peer_subject,omitempty"`
}

func tlsInfoOf(cs *tls.ConnectionState) *TLSInfo {
	if cs == nil {
		return nil
	}
	t := &TLSInfo{
		Version: tls.VersionName(cs.Version), CipherSuite: tls.CipherSuiteName(cs.CipherSuite),
		ServerName: cs.ServerName, ALPN: cs.NegotiatedProtocol,
	}
	if len(cs.PeerCertificates) > 0 {
		t.PeerSubject = cs.PeerCertificates[0].Subject.String()
	}
	return t
}

// DetailDocOf returns d as GET /api/v1/clients/{id} shows it (and as a
// cluster node answers for it, ClusterClient).
func DetailDocOf(d *ClientDetail) ClientDetailDoc {
	subs := d.Session.Subscriptions
	if subs == nil {
		subs = []Subscription{}
	}
	return ClientDetailDoc{
		ClientItem: ItemOf(&d.Client), TLS: tlsInfoOf(d.TLS), Negotiated: d.Negotiated,
		Subscriptions: subs, Inflight: d.Session.Inflight, Queued: d.Session.Queued, QueuedBytes: d.Session.QueuedBytes,
		OutboundQueue: QueueDepth{Items: d.OutboundItems, Bytes: d.OutboundBytes}, SessionExpiry: d.Session.Expiry,
	}
}

// getClient shows one connected client; with scope=cluster, one
// connected to any node of a cluster (clients_cluster.go).
func (a *Server) getClient(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	cluster, ok := a.clusterScope(w, r)
	if !ok {
		return
	}
	d, found := a.b.Clients.Client(id)
	if !found {
		if cluster {
			a.getClusterClient(w, r, id)
			return
		}
		writeError(w, http.StatusNotFound, "client %q is not connected", id)
		return
	}
	writeJSON(w, http.StatusOK, DetailDocOf(&d))
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

// ServerMaySend reports whether a server may send code in a DISCONNECT
// (MQTT 5.0 table 3-10) [MQTT-3.14.2-1].
func ServerMaySend(code mqtt.ReasonCode) bool { return serverDisconnectCodes[code] }

// KickResult is the answer of DELETE /api/v1/clients/{id}.
type KickResult struct {
	ClientID   string `json:"client_id"`
	Protocol   string `json:"protocol"`
	ReasonCode string `json:"reason_code"` // sent to a v5 client
	// Node is the cluster node the client was connected to; absent on a
	// single node.
	Node string `json:"node,omitempty"`
}

// KickResultOf returns the answer to a kick of c with code (and what a
// cluster node answers for it, ClusterKick).
func KickResultOf(c *Client, code mqtt.ReasonCode) KickResult {
	return KickResult{ClientID: c.ClientID, Protocol: c.Version.String(), ReasonCode: fmt.Sprintf("0x%02X", byte(code)), Node: c.Node}
}

// kickClient disconnects a client through its connection's own close
// path (Clients.Kick): a v5 client gets DISCONNECT with the reason code, a
// 3.x client is closed. With scope=cluster, a client connected to
// another node of a cluster is kicked there (clients_cluster.go).
func (a *Server) kickClient(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	code, ok := parseDisconnectCode(r)
	if !ok {
		writeError(w, http.StatusBadRequest, "reason %q is not a DISCONNECT reason code a server may send", r.URL.Query().Get("reason"))
		return
	}
	cluster, ok := a.clusterScope(w, r)
	if !ok {
		return
	}
	c, found := a.b.Clients.Kick(id, code)
	if !found {
		if cluster {
			a.kickClusterClient(w, r, id, code)
			return
		}
		writeError(w, http.StatusNotFound, "client %q is not connected", id)
		return
	}
	a.log.Info("admin kick", logsafe.String("client_id", id), zap.Stringer("reason_code", code))
	c.ClientID = id
	writeJSON(w, http.StatusOK, KickResultOf(&c, code))
}
