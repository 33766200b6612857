package admin

// The interfaces the admin API works over, and the copies they return.
// Every method is safe for concurrent use by any number of requests, from
// goroutines holding none of the server's locks; an implementation takes
// the server's locks one at a time, briefly, and returns copies the
// caller owns (except where a doc comment says shared, read only). What
// a method returns is a snapshot: the server may change right after.

import (
	"context"
	"crypto/tls"
	"errors"
	"iter"
	"net"
	"net/http"
	"time"

	"edgemq/configs"
	"edgemq/mqtt"

	dto "github.com/prometheus/client_model/go"
)

// Clients is the connected clients. A connected client is one through
// CONNACK whose connection holds its session: not one being taken over,
// kicked or detaching. Safe for concurrent use; the caller holds none of
// the server's locks. Not found is ok == false, never an error.
type Clients interface {
	// Clients returns the connected clients sorted by client id.
	Clients() []Client
	// Client returns the connected client with id and its detail; ok is
	// false when no connected client has that id.
	Client(id string) (d ClientDetail, ok bool)
	// Kick disconnects the connected client with id through its
	// connection's own close path, as the drain does: a v5 client gets
	// DISCONNECT with code, a 3.x client is closed. Its session stays per
	// its expiry, and its will is handled as on any server-side close. It
	// returns at once, without waiting for the connection to end, with the
	// client as it was; ok is false when no connected client has that id.
	Kick(id string, code mqtt.ReasonCode) (c Client, ok bool)
}

// Client is a connected client, copied.
type Client struct {
	ClientID  string
	Username  string
	Listener  string
	Transport string
	// RemoteAddr is the client's address (the proxied one where a
	// trusted proxy said so); nil when unknown.
	RemoteAddr  net.Addr
	Version     mqtt.Version
	ConnectedAt time.Time
	// KeepAlive is the keep alive in force, in seconds.
	KeepAlive uint16
	// MessagesOut and BytesOut are what was written to the client since
	// it connected: PUBLISH packets, and encoded bytes of every packet.
	MessagesOut int64
	BytesOut    int64
	// Node is the cluster node the client is connected to; "" on a
	// single node.
	Node string
}

// ClientDetail is a connected client with its connection's and session's
// state.
type ClientDetail struct {
	Client
	// TLS is the connection's TLS state, shared, read only; nil for tcp
	// and ws clients.
	TLS        *tls.ConnectionState
	Negotiated Negotiated
	// Session is the client's session, copied under its lock.
	Session Session
	// OutboundItems and OutboundBytes are the packets waiting in the
	// connection's write queue and their payload bytes.
	OutboundItems int
	OutboundBytes int64
}

// Negotiated is what CONNECT and CONNACK settled for a connection, both
// ways (MQTT 5.0 3.1.2 and 3.2.2), as the API shows it.
type Negotiated struct {
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

// Subscription is a subscription and its options.
type Subscription struct {
	Filter            string `json:"filter"`
	QoS               byte   `json:"qos"`
	NoLocal           bool   `json:"no_local"`
	RetainAsPublished bool   `json:"retain_as_published"`
	RetainHandling    byte   `json:"retain_handling"`
	// Identifier is the Subscription Identifier; 0: none.
	Identifier uint32 `json:"identifier"`
}

// Session is a session, connected or not, copied under its lock.
type Session struct {
	ClientID  string
	Connected bool
	// Expiry is the Session Expiry Interval in force, in seconds
	// (4294967295: never).
	Expiry uint32
	// Subscriptions are sorted by filter.
	Subscriptions []Subscription
	// Inflight counts outbound QoS 1/2 deliveries not acknowledged yet;
	// Queued (and QueuedBytes of payload) those waiting in the session for
	// the inflight window or for the client to come back.
	Inflight    int
	Queued      int
	QueuedBytes int64
	// Owner is the identity the session is bound to ("user:<name>",
	// "cert:<identity>", "anonymous:<listener>"); "" for a session
	// restored from a record without one.
	Owner string
	// Node is the cluster node holding the session; "" on a single node.
	Node string
}

// Errors of Sessions.DeleteSession.
var (
	// ErrNotFound: there is no session and no connected client of the id.
	ErrNotFound = errors.New("not found")
	// ErrStillHeld: the kicked client's connection did not release its
	// session in time.
	ErrStillHeld = errors.New("session still held by the kicked connection")
	// ErrReconnected: a connection holds the session again.
	ErrReconnected = errors.New("session held by a new connection")
)

// Sessions is the sessions, connected or not. Safe for concurrent use;
// the caller holds none of the server's locks.
type Sessions interface {
	// Sessions yields the sessions whose client id starts with prefix and
	// sorts after after (from the first when after is ""), in client id
	// order. The set of sessions is copied when the iteration starts;
	// each session is copied under its own lock when it is yielded, so a
	// caller that stops early copies no more. A session that ends
	// meanwhile may still be yielded (not connected); one that starts
	// meanwhile is not.
	Sessions(prefix, after string) iter.Seq[Session]
	// Session returns the session of id, copied under its lock; ok is
	// false when there is none.
	Session(id string) (s Session, ok bool)
	// DeleteSession ends the session of id as its expiry would, through
	// the same path [MQTT-3.1.2-23]: a connected client is kicked first
	// (0x98 Administrative action for v5, a close for 3.x), and
	// DeleteSession waits, until ctx ends or at most the connection's
	// close grace, for its connection to release the session. A will
	// without delay goes when the connection closes, a delayed one when
	// the session ends [MQTT-3.1.3-9]. kicked says a client was kicked.
	// The error is ErrNotFound when there is neither a session nor a
	// connected client of id, ErrStillHeld when the kicked connection did
	// not release the session in time, ErrReconnected when a connection
	// holds the session again.
	DeleteSession(ctx context.Context, id string) (kicked bool, err error)
}

// RetainedMessage is a retained message as stored.
type RetainedMessage struct {
	// Publish is the stored PUBLISH: shared, read only.
	Publish *mqtt.Publish
	// Expires is when its Message Expiry Interval ends; zero: never.
	Expires time.Time
}

// Retained is the retained messages. Safe for concurrent use; the
// caller holds none of the server's locks.
type Retained interface {
	// Retained returns the retained messages matching filter that are
	// unexpired at now, in no order. A filter starting with a wildcard
	// does not match topics starting with '$' [MQTT-4.7.2-1].
	Retained(filter string, now time.Time) []RetainedMessage
	// RemoveRetained deletes topic's retained message, in memory and in
	// the store, reporting false when there was none. In a cluster it
	// deletes it on every node, as an empty retained PUBLISH would, and
	// waits, until ctx ends, for the cluster to store the deletion: the
	// error says it did not (the message is gone here, perhaps not on
	// the other nodes).
	RemoveRetained(ctx context.Context, topic string) (found bool, err error)
}

// Publisher routes messages as a client's PUBLISH would be. Safe for
// concurrent use; the caller holds none of the server's locks.
type Publisher interface {
	// Publish routes pub, a valid PUBLISH, as a message from client id
	// from (for No Local), through the path a client's PUBLISH takes (on
	// a cluster node: to the other nodes' subscribers, the messages
	// stream for QoS 1 and 2, the cluster's retained store), storing it
	// when it is retained [MQTT-3.3.1-5]. It then waits, until ctx ends,
	// until the message is as durable as a client's PUBLISH of its QoS
	// is when acknowledged [MQTT-4.3.2-2, MQTT-4.3.3-8]: what it changed
	// committed to the store, or to the cluster's streams. It does not
	// wait for any subscriber to receive it. pub belongs to the callee
	// afterwards.
	//
	// deliveredTo is the number of sessions and shared subscription
	// groups it went to on this node; on a cluster node with none here,
	// 1 when another node has a subscriber for it (how many this node
	// does not know). stored is true once the wait succeeded for a
	// message that needs it (QoS 1 or 2, or retained) on a server with a
	// store or a cluster; false for a QoS 0 message not retained, or
	// without a store. err says the message was routed (perhaps already
	// delivered to some subscribers) but is not known to be stored: the
	// node cannot reach the cluster, the store or stream failed, or ctx
	// ended first.
	Publish(ctx context.Context, from string, pub *mqtt.Publish) (deliveredTo int, stored bool, err error)
}

// Control is the server's configuration and life. Safe for concurrent
// use; the caller holds none of the server's locks.
type Control interface {
	// Config returns the configuration in force: shared, read only.
	Config() *configs.Config
	// Reload re-reads and applies the configuration, bounded by ctx. It
	// returns what the reload found and did, a value encoding/json
	// encodes; the error is ctx's when ctx ended, otherwise the reason a
	// new configuration was refused.
	Reload(ctx context.Context) (result any, err error)
	// Drain starts the graceful drain and returns at once; calling it
	// again does nothing.
	Drain()
}

// Status is the server as a whole. Safe for concurrent use; the caller
// holds none of the server's locks.
type Status interface {
	// Status copies the server's version, start, listeners and counts
	// (GET /api/v1/status). The counts are read one at a time, so they
	// need not agree with each other.
	Status() ServerStatus
	// Overview copies what the operator dashboard polls besides the
	// metrics: version, listeners and admission refusals. It reads no
	// session.
	Overview() ServerOverview
	// Metrics gathers the samples the ops listener's /metrics shows, from
	// the server's registry.
	Metrics() ([]*dto.MetricFamily, error)
}

// Listener is a configured listener.
type Listener struct {
	Name    string
	Type    string // tcp, tls, ws or wss
	Address string // bound
	// URL is what a client on this machine uses as written (mqtt://,
	// mqtts://, ws://…/mqtt, wss://…/mqtt); PageURL the diagnostic
	// page's, "" when the listener does not serve it.
	URL     string
	PageURL string
	TLS     string // the tls entry of tls and wss listeners
	Up      bool   // serving
}

// ServerStatus is the server's version, life, listeners and counts.
type ServerStatus struct {
	Version   string
	StartedAt time.Time
	Draining  bool
	Listeners []Listener
	// Connections are the tracked connections; Sessions (connected and
	// offline) and their Subscriptions; Retained messages and their
	// RetainedBytes; MessagesIn and MessagesOut the messages received and
	// routed; Dropped the dropped messages by reason.
	Connections   int64
	Sessions      int
	Subscriptions int
	Retained      int
	RetainedBytes int64
	MessagesIn    int64
	MessagesOut   int64
	Dropped       map[string]int64
	// Node is this node's name in a cluster (cluster.node); "" on a
	// single node.
	Node string
	// Cluster are the nodes of the cluster; none on a single node.
	Cluster []ClusterNode
}

// ClusterNode is a node of the cluster.
type ClusterNode struct {
	Name string
	Up   bool
	// Self marks this node.
	Self bool
}

// ServerOverview is the server's version, listeners and the sockets
// refused before CONNECT by reason.
type ServerOverview struct {
	Version          string
	Listeners        []Listener
	AdmissionRefused map[string]int64
	// Cluster are the nodes of the cluster; none on a single node.
	Cluster []ClusterNode
}

// ClusterClients lists the connected clients of a whole cluster, and
// shows or kicks one connected to another node. Safe for concurrent use;
// the caller holds none of the server's locks.
type ClusterClients interface {
	// ClusterClients returns the connected clients of every live node
	// (this one's included), each naming its node, in no order; it waits
	// for the other nodes' answers until ctx ends. missing lists the live
	// nodes that did not answer in time. The error is set when the other
	// nodes could not be asked at all.
	ClusterClients(ctx context.Context) (items []ClientItem, missing []string, err error)
	// ClusterClient returns the client with id connected to another node
	// of the cluster as that node shows it (GET /api/v1/clients/{id}
	// there, its node named), asking over NATS until ctx ends. The error
	// is ErrNotFound when every live node answered that no client of id
	// is connected to it; one wrapping ErrNoAnswer, naming the node, when
	// the node holding the client (or one that might) did not answer.
	ClusterClient(ctx context.Context, id string) (ClientDetailDoc, error)
	// ClusterKick kicks the client with id connected to another node of
	// the cluster, on that node, as its Clients.Kick does (a v5 client
	// gets DISCONNECT with code, a 3.x client is closed, the session
	// stays per its expiry), and returns that node's answer. Errors as
	// ClusterClient's.
	ClusterKick(ctx context.Context, id string, code mqtt.ReasonCode) (KickResult, error)
}

// ErrNoAnswer is wrapped by ClusterClient's and ClusterKick's errors
// (ClusterSessions': ClusterSession's, ClusterDeleteSession's) when a
// node that holds the client (session), or might, did not answer in time.
var ErrNoAnswer = errors.New("the node did not answer")

// Backend is what the API works over; one value may implement them all.
// Every field is required but Dashboard, Cluster and ClusterSessions.
type Backend struct {
	Clients   Clients
	Sessions  Sessions
	Retained  Retained
	Publisher Publisher
	Control   Control
	Status    Status
	// Dashboard serves the operator dashboard's files at /dashboard/,
	// without the token: they hold no data, and the page asks for the
	// token to call the API. nil: no dashboard.
	Dashboard http.Handler
	// Cluster lists the clients of every node of a cluster, and shows
	// and kicks a client connected to another node (scope=cluster on
	// /api/v1/clients and /api/v1/clients/{id}); nil on a single node,
	// where that scope is this node.
	Cluster ClusterClients
	// ClusterSessions shows and deletes a session held by another node
	// of a cluster (scope=cluster on /api/v1/sessions/{id}); nil on a
	// single node, where that scope is this node.
	ClusterSessions ClusterSessions
}
