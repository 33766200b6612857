// Package configs loads, defaults and validates the edgemq YAML configuration.
//
// The types here are plain data: the gateway reads them, never writes them.
// Every field is documented in the example file edgemq.yaml, which is also
// the embedded default configuration used when no file is given.
package configs

import "time"

// Config is the whole edgemq configuration.
type Config struct {
	// Log selects the logger.
	Log Log `yaml:"log"`
	// DataDir holds generated and persistent state (certificates, store).
	DataDir string `yaml:"data_dir"`
	// MQTT is the default limit profile, used by every listener that does
	// not name a profile, and the base that named profiles override.
	MQTT Limits `yaml:"mqtt"`
	// Profiles are named partial overrides of MQTT, chosen per listener.
	Profiles map[string]Profile `yaml:"profiles"`
	// Session holds engine-wide session settings.
	Session Session `yaml:"session"`
	// Retained bounds the retained message store.
	Retained Retained `yaml:"retained"`
	// Store selects the persistence of sessions, in-flight and queued
	// messages and retained messages.
	Store Store `yaml:"store"`
	// Auth configures authentication shared by all listeners.
	Auth Auth `yaml:"auth"`
	// ACL is the static authorization rule list.
	ACL ACL `yaml:"acl"`
	// Sys configures the $SYS topics.
	Sys Sys `yaml:"sys"`
	// TLS are the named certificate sources of tls and wss listeners.
	TLS map[string]TLSSource `yaml:"tls"`
	// Limits protect the gateway before authentication (admission.go).
	Limits Admission `yaml:"limits"`
	// Ops is the operations HTTP listener: metrics and health (ops.go).
	Ops Ops `yaml:"ops"`
	// Admin is the admin API listener (admin.go).
	Admin Admin `yaml:"admin"`
	// Listeners are the sockets edgemq serves.
	Listeners []Listener `yaml:"listeners"`
	// ShutdownTimeout bounds the graceful shutdown on SIGINT/SIGTERM.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// Drain spreads the disconnects of a graceful shutdown over a period.
	Drain Drain `yaml:"drain"`
	// Cluster makes this node one of several acting as one broker over
	// NATS JetStream (cluster.go); off unless cluster.node is set.
	Cluster Cluster `yaml:"cluster"`
	// Overload refuses new clients and sheds QoS 0 traffic while memory
	// or goroutines are past their high-water marks (ratelimit.go).
	Overload Overload `yaml:"overload"`
}

// Drain configures the graceful drain on SIGINT/SIGTERM: the server stops
// accepting, then disconnects its clients spread evenly over Period so
// that they do not all reconnect at once.
type Drain struct {
	// Period is how long the disconnects are spread over; 0 disconnects
	// every client at once.
	Period time.Duration `yaml:"period"`
	// ServerReference, when set, is sent to v5 clients as the Server
	// Reference of a DISCONNECT 0x9C (Use another server) instead of
	// 0x8B (Server shutting down).
	ServerReference string `yaml:"server_reference"`
}

// Log selects the zap logger.
type Log struct {
	// Level is debug, info, warn or error.
	Level string `yaml:"level"`
	// Format is console or json.
	Format string `yaml:"format"`
}

// Limits is a complete MQTT limit profile: everything negotiated in CONNECT
// and CONNACK. Each value is both advertised (v5 CONNACK) and enforced.
type Limits struct {
	// MaxPacketSize is the largest packet the server accepts, in bytes,
	// including the fixed header. Advertised as Maximum Packet Size.
	MaxPacketSize uint32 `yaml:"max_packet_size"`
	// ReceiveMaximum is how many inbound QoS 1/2 publishes may be
	// unacknowledged at once. Advertised as Receive Maximum.
	ReceiveMaximum uint16 `yaml:"receive_maximum"`
	// MaxInflight caps outbound unacknowledged QoS 1/2 publishes per
	// client, below the client's own Receive Maximum.
	MaxInflight uint16 `yaml:"max_inflight"`
	// TopicAliasMaximum is the highest inbound topic alias accepted.
	TopicAliasMaximum uint16 `yaml:"topic_alias_maximum"`
	// MaxOutboundTopicAliases caps the topic aliases the server assigns
	// on PUBLISH to a v5 client, below the client's Topic Alias Maximum;
	// 0 turns outbound aliases off.
	MaxOutboundTopicAliases uint16 `yaml:"max_outbound_topic_aliases"`
	// MaximumQoS is the highest QoS accepted on PUBLISH (0, 1 or 2).
	MaximumQoS byte `yaml:"maximum_qos"`
	// RetainAvailable says whether retained messages are supported.
	RetainAvailable bool `yaml:"retain_available"`
	// WildcardSubscriptionAvailable allows + and # in filters.
	WildcardSubscriptionAvailable bool `yaml:"wildcard_subscription_available"`
	// SubscriptionIdentifiersAvailable allows Subscription Identifiers.
	SubscriptionIdentifiersAvailable bool `yaml:"subscription_identifiers_available"`
	// SharedSubscriptionAvailable allows $share/ filters.
	SharedSubscriptionAvailable bool `yaml:"shared_subscription_available"`
	// ValidatePayloadFormat checks that a v5 PUBLISH (or will) whose
	// Payload Format Indicator says UTF-8 has a UTF-8 payload, refusing it
	// with Payload Format Invalid (0x99) otherwise.
	ValidatePayloadFormat bool `yaml:"validate_payload_format"`
	// MaxSessionExpiry caps the Session Expiry Interval a client asks for.
	// 0xFFFFFFFF seconds (or more) means "never expires" is allowed.
	MaxSessionExpiry time.Duration `yaml:"max_session_expiry"`
	// KeepAlive bounds the client's Keep Alive.
	KeepAlive KeepAlive `yaml:"keep_alive"`
	// ClientID validates client identifiers.
	ClientID ClientID `yaml:"client_id"`
	// ConnectTimeout is how long a new socket may take to send CONNECT.
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
	// ResponseInformation, when set, is returned to v5 clients that set
	// Request Response Information; the client id is appended.
	ResponseInformation string `yaml:"response_information"`
	// ConnackUserProperties are sent, in order, as User Property pairs in
	// the CONNACK of every accepted v5 client.
	ConnackUserProperties []UserProperty `yaml:"connack_user_properties"`
	// Redirect, when Server is set, refuses every CONNECT with Use Another
	// Server (0x9C) or Server Moved (0x9D) and a Server Reference.
	Redirect Redirect `yaml:"redirect"`
	// PublishRate limits each client's PUBLISH messages and bytes per
	// second (ratelimit.go); a credential's rate_limit overrides it.
	PublishRate PublishRate `yaml:"publish_rate"`
}

// KeepAlive bounds the client's Keep Alive, in seconds on the wire.
type KeepAlive struct {
	// Min raises a smaller non-zero client keep alive (v5: Server Keep Alive).
	Min time.Duration `yaml:"min"`
	// Max lowers a larger or zero client keep alive (v5: Server Keep Alive).
	// 0 means no maximum.
	Max time.Duration `yaml:"max"`
}

// ClientID validates client identifiers.
type ClientID struct {
	// MaxLength is the longest accepted client id, in bytes.
	MaxLength int `yaml:"max_length"`
	// MaxLengthV31 is the longest accepted 3.1 client id (the 3.1
	// specification says 23).
	MaxLengthV31 int `yaml:"max_length_v31"`
	// Pattern, when set, is a regular expression the whole id must match.
	Pattern string `yaml:"pattern"`
	// AssignedPrefix prefixes client ids the server makes.
	AssignedPrefix string `yaml:"assigned_prefix"`
}

// UserProperty is one MQTT 5 User Property name/value pair.
type UserProperty struct {
	Key   string `yaml:"key"`
	Value string `yaml:"value"`
}

// Redirect makes the server refuse every CONNECT with a Server Reference.
type Redirect struct {
	// Server is the Server Reference sent to v5 clients.
	Server string `yaml:"server"`
	// Permanent selects Server Moved (0x9D) over Use Another Server (0x9C).
	Permanent bool `yaml:"permanent"`
}

// Profile overrides some fields of the default Limits. A nil field keeps
// the default value.
type Profile struct {
	MaxPacketSize                    *uint32         `yaml:"max_packet_size"`
	ReceiveMaximum                   *uint16         `yaml:"receive_maximum"`
	MaxInflight                      *uint16         `yaml:"max_inflight"`
	TopicAliasMaximum                *uint16         `yaml:"topic_alias_maximum"`
	MaxOutboundTopicAliases          *uint16         `yaml:"max_outbound_topic_aliases"`
	MaximumQoS                       *byte           `yaml:"maximum_qos"`
	RetainAvailable                  *bool           `yaml:"retain_available"`
	WildcardSubscriptionAvailable    *bool           `yaml:"wildcard_subscription_available"`
	SubscriptionIdentifiersAvailable *bool           `yaml:"subscription_identifiers_available"`
	SharedSubscriptionAvailable      *bool           `yaml:"shared_subscription_available"`
	ValidatePayloadFormat            *bool           `yaml:"validate_payload_format"`
	MaxSessionExpiry                 *time.Duration  `yaml:"max_session_expiry"`
	KeepAliveMin                     *time.Duration  `yaml:"keep_alive_min"`
	KeepAliveMax                     *time.Duration  `yaml:"keep_alive_max"`
	ClientIDMaxLength                *int            `yaml:"client_id_max_length"`
	ConnectTimeout                   *time.Duration  `yaml:"connect_timeout"`
	ResponseInformation              *string         `yaml:"response_information"`
	ConnackUserProperties            *[]UserProperty `yaml:"connack_user_properties"`
	RedirectServer                   *string         `yaml:"redirect_server"`
	RedirectPermanent                *bool           `yaml:"redirect_permanent"`
	// PublishRate replaces mqtt.publish_rate as a whole.
	PublishRate *PublishRate `yaml:"publish_rate"`
}

// Apply returns base with the profile's set fields replacing base's.
func (p Profile) Apply(base Limits) Limits {
	l := base
	set(&l.MaxPacketSize, p.MaxPacketSize)
	set(&l.ReceiveMaximum, p.ReceiveMaximum)
	set(&l.MaxInflight, p.MaxInflight)
	set(&l.TopicAliasMaximum, p.TopicAliasMaximum)
	set(&l.MaxOutboundTopicAliases, p.MaxOutboundTopicAliases)
	set(&l.MaximumQoS, p.MaximumQoS)
	set(&l.RetainAvailable, p.RetainAvailable)
	set(&l.WildcardSubscriptionAvailable, p.WildcardSubscriptionAvailable)
	set(&l.SubscriptionIdentifiersAvailable, p.SubscriptionIdentifiersAvailable)
	set(&l.SharedSubscriptionAvailable, p.SharedSubscriptionAvailable)
	set(&l.ValidatePayloadFormat, p.ValidatePayloadFormat)
	set(&l.MaxSessionExpiry, p.MaxSessionExpiry)
	set(&l.KeepAlive.Min, p.KeepAliveMin)
	set(&l.KeepAlive.Max, p.KeepAliveMax)
	set(&l.ClientID.MaxLength, p.ClientIDMaxLength)
	set(&l.ConnectTimeout, p.ConnectTimeout)
	set(&l.ResponseInformation, p.ResponseInformation)
	set(&l.ConnackUserProperties, p.ConnackUserProperties)
	set(&l.Redirect.Server, p.RedirectServer)
	set(&l.Redirect.Permanent, p.RedirectPermanent)
	set(&l.PublishRate, p.PublishRate)
	return l
}

func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// Session holds engine-wide session settings.
type Session struct {
	// MaxOfflineMessages bounds the queue of a session without a connection.
	MaxOfflineMessages int `yaml:"max_offline_messages"`
	// MaxOfflineBytes bounds the payload bytes of that queue; 0 means no
	// bound.
	MaxOfflineBytes int64 `yaml:"max_offline_bytes"`
	// MaxOutboundQueue bounds a connected client's outbound queue; QoS 0
	// messages beyond it are dropped and counted.
	MaxOutboundQueue int `yaml:"max_outbound_queue"`
	// MaxOutboundBytes bounds the payload bytes of that queue; 0 means no
	// bound.
	MaxOutboundBytes int64 `yaml:"max_outbound_bytes"`
	// SharedSubscriptionStrategy chooses the member of a shared
	// subscription group that gets a message: round_robin or random.
	SharedSubscriptionStrategy string `yaml:"shared_subscription_strategy"`
	// MaxSubscriptions bounds the subscriptions of one session; 0 means
	// no bound (gateway/quota.go).
	MaxSubscriptions int `yaml:"max_subscriptions"`
	// MaxSubscriptionBytes bounds the bytes of the filters of one
	// session; 0 means no bound.
	MaxSubscriptionBytes int `yaml:"max_subscription_bytes"`
	// MaxSessionsPerIP and MaxSessionsPerUser bound the sessions opened
	// from one remote address and by one user name; 0 means no bound.
	MaxSessionsPerIP   int `yaml:"max_sessions_per_ip"`
	MaxSessionsPerUser int `yaml:"max_sessions_per_user"`
	// OwnerBinding is whether a session belongs to the identity that
	// created it: strict refuses a CONNECT of another identity that would
	// resume, take over or discard it; any lets every identity do so.
	OwnerBinding string `yaml:"owner_binding"`
}

// Retained bounds the retained message store. 0 means no bound.
type Retained struct {
	// MaxMessages is the most retained messages (one per topic).
	MaxMessages int `yaml:"max_messages"`
	// MaxBytes bounds the retained messages' topics and payloads.
	MaxBytes int64 `yaml:"max_bytes"`
	// MaxPerClient bounds the retained topics whose message one client id
	// published; 0 means no bound.
	MaxPerClient int `yaml:"max_per_client"`
}

// Store selects persistence (the embedded store DataDir/edgemq.db).
type Store struct {
	// Durability is sync (a QoS 1/2 PUBLISH is acknowledged once it is
	// on disk; group commit), async (written every FlushInterval) or
	// memory (no store). Empty means memory.
	Durability string `yaml:"durability"`
	// FlushInterval is how often async mode writes: the most recent
	// changes lost in a crash.
	FlushInterval time.Duration `yaml:"flush_interval"`
}

// Auth configures authentication.
type Auth struct {
	// Users is a static user list. Passwords are bcrypt hashes, never
	// plain text.
	Users []User `yaml:"users"`
	// Backends are the named authentication backends listeners chain
	// (Listener.Auth); see AuthBackend (auth.go).
	Backends map[string]AuthBackend `yaml:"backends"`
	// SCRAM configures MQTT 5 enhanced authentication (enhauth.go).
	SCRAM SCRAMAuth `yaml:"scram"`
	// BruteForce delays the answer to failed authentications.
	BruteForce BruteForce `yaml:"brute_force"`
	// Concurrency caps the authentications in progress (auth_limits.go).
	Concurrency AuthConcurrency `yaml:"concurrency"`
	// HashMemory is the memory, in bytes, that the password hashes
	// (argon2id, bcrypt) being computed at once may take; further ones
	// wait, holding no hash memory. 0 means 64 MiB.
	HashMemory int64 `yaml:"hash_memory"`
	// HashWorkers caps the password hashes computed at once; 0 means one
	// per CPU (GOMAXPROCS).
	HashWorkers int `yaml:"hash_workers"`
}

// User is one static user.
type User struct {
	// Username is the MQTT username; unique.
	Username string `yaml:"username"`
	// PasswordHash is a bcrypt hash ("$2a$", "$2b$" or "$2y$").
	PasswordHash string `yaml:"password_hash"`
}

// ACL is an ordered static rule list; the first matching rule decides.
// With no rules every action is allowed.
type ACL struct {
	// Rules are tried in order.
	Rules []ACLRule `yaml:"rules"`
	// Default is allow or deny, for actions no rule matches.
	Default string `yaml:"default"`
	// File, when set, is a YAML file with more rules ("rules:" as here),
	// tried after Rules and reloaded when it changes.
	File string `yaml:"file"`
	// ReloadInterval is how often File's size and modification time are
	// checked; 0 never reloads.
	ReloadInterval time.Duration `yaml:"reload_interval"`
}

// Sys configures the $SYS/broker/ topics the server publishes.
type Sys struct {
	// Interval is how often the $SYS messages are published; 0 disables
	// them.
	Interval time.Duration `yaml:"interval"`
}

// ACLRule allows or denies publish or subscribe on topics matching Topic.
type ACLRule struct {
	// Permission is allow or deny.
	Permission string `yaml:"permission"`
	// Action is publish, subscribe, all (publish and subscribe) or
	// retain (a publish with the RETAIN flag).
	Action string `yaml:"action"`
	// Topic is a topic filter; %u and %c are replaced by the username
	// and client id.
	Topic string `yaml:"topic"`
	// Username, when set, limits the rule to that user.
	Username string `yaml:"username"`
	// ClientID, when set, limits the rule to that client id.
	ClientID string `yaml:"client_id"`
	// CertIdentity, when set, limits the rule to clients whose verified
	// certificate has that identity (client_auth.identity).
	CertIdentity string `yaml:"cert_identity"`
	// MaxQoS, when set, is the highest QoS an allow rule grants: a
	// publish above it is denied, a subscription granted at most it.
	MaxQoS *int `yaml:"max_qos"`
}

// Listener is one socket edgemq serves.
type Listener struct {
	// Name identifies the listener in logs and metrics; unique.
	Name string `yaml:"name"`
	// Type is the transport: tcp, tls, ws or wss.
	Type string `yaml:"type"`
	// Address is host:port to bind.
	Address string `yaml:"address"`
	// Profile names an entry of Profiles; empty means the default.
	Profile string `yaml:"profile"`
	// AllowAnonymous lets clients without credentials in. When unset it
	// is true on loopback addresses and false elsewhere; a non-loopback
	// listener with no users configured must set it explicitly.
	AllowAnonymous *bool `yaml:"allow_anonymous"`
	// Auth names, in order, the authentication backends of the listener
	// (keys of auth.backends, or "users" for auth.users); empty means
	// [users].
	Auth []string `yaml:"auth"`
	// MaxConnections caps concurrent connections; 0 means no cap.
	MaxConnections int `yaml:"max_connections"`
	// Limits overrides the per-IP admission limits of the top-level
	// limits section for this listener; nil keeps them (ratelimit.go).
	Limits *ListenerAdmission `yaml:"limits"`
	// TLS names the entry of the top-level tls map that tls and wss
	// listeners take certificates from.
	TLS string `yaml:"tls"`
	// WebSocket configures ws and wss listeners.
	WebSocket WebSocket `yaml:"websocket"`
	// ProxyProtocol accepts PROXY protocol headers from trusted proxies
	// (tcp, tls, ws).
	ProxyProtocol ProxyProtocol `yaml:"proxy_protocol"`
	// TrustedProxies are the CIDRs whose TrustedProxyHeader is believed
	// (ws, wss).
	TrustedProxies []string `yaml:"trusted_proxies"`
	// TrustedProxyHeader is the one header read from them:
	// x-forwarded-for (also when empty) or forwarded (RFC 7239).
	TrustedProxyHeader string `yaml:"trusted_proxy_header"`
}
