package acl

import (
	"crypto/tls"
	"fmt"
	"net"
	"slices"
	"strings"

	"edgemq/listeners"
	"edgemq/mqtt"
)

// ConnInfo is what an Authorizer (and an authenticator) knows about a
// client. It is an alias of an interface literal, not a defined type, so
// that the ConnInfo of gateway/auth, declared the same way, is the very
// same type without either package importing the other: an Authorizer
// written against gateway.ConnInfo implements this package's Authorizer.
// Keep the method set identical to auth's; the root asserts it.
//
//   - Listener is the name of the listener the client came in on.
//   - Transport is tcp, tls, ws or wss.
//   - RemoteAddr is the client's real address.
//   - TLS is the connection's TLS state, nil for plain transports.
//   - ProtocolVersion is the MQTT version of CONNECT.
//   - ClientID is the client identifier (the assigned one when the
//     client sent none).
//   - Username and HasUsername report the CONNECT user name.
//   - Password and HasPassword report the CONNECT password.
//   - AuthMethod and AuthData are the v5 Authentication Method and Data.
//   - CertIdentity is the identity of the client's verified certificate
//     (the field named by the TLS source's client_auth.identity) when the
//     source maps it to authentication (client_auth.identity_as username
//     or client_id), else "". When it is not empty it has already
//     replaced the CONNECT user name (Username, HasUsername true) or the
//     client identifier (ClientID) as configured.
type ConnInfo = interface {
	Listener() string
	Transport() listeners.Transport
	RemoteAddr() net.Addr
	TLS() *tls.ConnectionState
	ProtocolVersion() mqtt.Version
	ClientID() string
	Username() string
	HasUsername() bool
	Password() []byte
	HasPassword() bool
	AuthMethod() string
	AuthData() []byte
	CertIdentity() string
}

// Action is what a client asks to do with a topic.
type Action uint8

const (
	// ActionPublish is a PUBLISH (or a will) to a topic name.
	ActionPublish Action = iota + 1
	// ActionSubscribe is one topic filter of a SUBSCRIBE.
	ActionSubscribe
)

// String returns publish or subscribe.
func (a Action) String() string {
	switch a {
	case ActionPublish:
		return "publish"
	case ActionSubscribe:
		return "subscribe"
	}
	return fmt.Sprintf("Action(%d)", uint8(a))
}

// Authorizer decides whether a connected client may publish to a topic or
// subscribe to a topic filter. It reports true to allow.
//
// The server calls Authorize for every topic filter of every SUBSCRIBE,
// for every inbound PUBLISH and for the will of every CONNECT. Its
// contract:
//
//   - Concurrency: it is called concurrently from the read goroutines of
//     many connections, so it must be safe for concurrent use.
//   - No blocking: it runs on the publish path, holding up the
//     connection's next packet. It must return quickly and must not wait
//     on I/O (network, disk) or on locks held across I/O. An authorizer
//     backed by a remote service decides from local state that it
//     refreshes in the background; that is why Authorize takes no
//     context. (Authenticator, which may block, takes one.)
//   - Arguments: for ActionPublish, topic is the topic name (Topic Alias
//     resolved) with the PUBLISH's QoS and RETAIN. For ActionSubscribe,
//     topic is the requested topic filter, for a shared subscription the
//     filter after "$share/{ShareName}/", with the requested maximum QoS;
//     retain is false. c is the client; its credentials are not kept past
//     authentication, so c.Password and c.AuthData return nil. c must not
//     be kept after Authorize returns.
//   - Determinism: the decision must depend on the arguments only. Each
//     connection caches its publish decisions by topic, QoS and RETAIN
//     until the server's authorizer is replaced (Server.SetAuthorizer) or
//     renewed (Server.RefreshAuthorizer).
//     Granted subscriptions are checked again, as ActionSubscribe with
//     the session owner's ConnInfo, whenever the authorizer is replaced
//     or the owner's credential changes: a message goes to a session only
//     while its owner may still subscribe to the filter it matched
//     (State.MayRead). That ConnInfo may be a session's stored owner after
//     a restart: its RemoteAddr and TLS are then nil.
//
// Refusals: a refused filter gets Not Authorized (0x87) in a v5 SUBACK,
// 0x80 in 3.x. A refused PUBLISH is not routed nor retained and is counted
// as dropped ("denied"); a v5 client gets PUBACK or PUBREC with 0x87 at
// QoS 1 or 2; a 3.x client, which cannot be told, gets the normal
// acknowledgement [MQTT-3.3.5-2 of 3.1.1]. A refused will refuses the
// CONNECT with Not Authorized (v5 0x87, 3.x return code 0x05).
type Authorizer interface {
	Authorize(c ConnInfo, a Action, topic string, qos byte, retain bool) bool
}

// QoSLimiter is implemented by an Authorizer that grants subscriptions at
// most some QoS (the static ACL's max_qos). After Authorize allowed a
// subscription to filter at the requested qos, the server grants
// SubscribeMaxQoS's answer (≤ qos) instead. The contract of Authorizer
// applies.
type QoSLimiter interface {
	SubscribeMaxQoS(c ConnInfo, filter string, qos byte) byte
}

// AllowAll is the Authorizer that allows everything. The server skips it
// altogether on the publish path.
type AllowAll struct{}

// Authorize allows.
func (AllowAll) Authorize(ConnInfo, Action, string, byte, bool) bool { return true }

// Claims are the topic filters a credential (a JWT's acl claim) carries:
// they narrow what the authorizer allows. A nil *Claims is no claims and
// narrows nothing. Its layout is that of the root's ACLClaims, so a
// pointer to one converts to a pointer to the other. Read-only once made.
type Claims struct {
	// Pub are the topic filters the client may publish to.
	Pub []string
	// Sub are the topic filters the client may subscribe to.
	Sub []string
}

// AllowsPublish reports whether the claims let the client publish to the
// topic name: one of Pub matches it. Nil claims allow.
func (c *Claims) AllowsPublish(topic string) bool {
	return c == nil || slices.ContainsFunc(c.Pub, func(f string) bool { return mqtt.Match(f, topic) })
}

// AllowsSubscribe reports whether the claims let the client subscribe to
// filter (not a shared one: the filter after "$share/{name}/"): one of
// Sub covers it (FilterCovers). Nil claims allow.
func (c *Claims) AllowsSubscribe(filter string) bool {
	return c == nil || slices.ContainsFunc(c.Sub, func(f string) bool { return FilterCovers(f, filter) })
}

// IsSysTopic reports whether topic is under $SYS, which only the server
// publishes to: a client's PUBLISH there is refused as not authorized.
func IsSysTopic(topic string) bool {
	return strings.HasPrefix(topic, "$SYS") && (len(topic) == 4 || topic[4] == '/')
}

// FilterCovers reports whether topic filter rule covers topic filter sub:
// every topic name sub matches, rule matches too. Both are taken as valid
// filters, not shared ones. "sensors/#" covers "sensors/+/temp",
// "sensors" and "sensors/#"; "sensors/+" does not cover "sensors/#".
// Wildcards at the first level do not match topics starting with '$'
// [MQTT-4.7.2-1], so "#" does not cover "$SYS/#".
func FilterCovers(rule, sub string) bool {
	if sub != "" && sub[0] == '$' && rule != "" && (rule[0] == '+' || rule[0] == '#') {
		return false
	}
	for {
		rl, rrest, rmore := cutLevel(rule)
		if rl == "#" {
			return true // "#" matches any remaining levels, and the parent
		}
		sl, srest, smore := cutLevel(sub)
		if sl == "#" {
			// Only "#" covers "#": it matches the parent and any depth.
			return false
		}
		// "+" covers one level: a name or "+". A name covers itself only.
		if rl != "+" && rl != sl {
			return false
		}
		switch {
		case !rmore && !smore:
			return true
		case !smore:
			// sub ends here: rule's remaining levels must match the
			// parent, which only a last "#" does ("a/#" matches "a").
			return rrest == "#"
		case !rmore:
			// rule ends here and sub goes deeper.
			return false
		}
		rule, sub = rrest, srest
	}
}

// cutLevel splits the first level off a topic name or filter.
func cutLevel(s string) (level, rest string, more bool) {
	if i := strings.IndexByte(s, '/'); i >= 0 {
		return s[:i], s[i+1:], true
	}
	return s, "", false
}
