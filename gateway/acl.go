package gateway

// Authorization: what a connected client may publish and subscribe to is
// gateway/acl's. The engine asks the server's Authorizer about every
// SUBSCRIBE filter, every inbound PUBLISH and the will of every CONNECT;
// the built-in ones are AllowAll and the static rule list of acl.rules
// (NewStaticACL). This file is the channel's side of it and the names an
// embedding program uses.

import (
	"edgemq/certs"
	"edgemq/configs"
	"edgemq/gateway/acl"
	"edgemq/gateway/logsafe"
	"edgemq/gateway/stats"
	"edgemq/mqtt"

	"go.uber.org/zap"
)

// Action is what a client asks to do with a topic (acl.Action).
type Action = acl.Action

const (
	// ActionPublish is a PUBLISH (or a will) to a topic name.
	ActionPublish = acl.ActionPublish
	// ActionSubscribe is one topic filter of a SUBSCRIBE.
	ActionSubscribe = acl.ActionSubscribe
)

// Authorizer decides whether a connected client may publish to a topic or
// subscribe to a topic filter; its contract is acl.Authorizer's.
type Authorizer = acl.Authorizer

// QoSLimiter is an Authorizer that grants subscriptions at most some QoS
// (acl.QoSLimiter).
type QoSLimiter = acl.QoSLimiter

// AllowAll is the Authorizer that allows everything (acl.AllowAll).
type AllowAll = acl.AllowAll

// ConnInfo and acl.ConnInfo must be one type, so that an Authorizer
// written against either is the other's: function types are assignable
// only when identical.
var _ func(ConnInfo) = func(acl.ConnInfo) {}

// NewStaticACL returns the Authorizer of a static rule list (the acl
// section of the configuration): acl.NewStatic.
func NewStaticACL(c configs.ACL) (Authorizer, error) { return acl.NewStatic(c) }

// The engine's names for the acl package's types (owner.go, channel.go).
type (
	aclHolder = acl.Holder
	aclState  = acl.State
	aclView   = acl.View
	chanACL   = acl.Client
)

// SetAuthorizer replaces the server's authorizer, which New builds from
// the acl section of the configuration; nil allows everything. It is safe
// while the server runs: each connection drops its cached decisions on its
// next PUBLISH, and every subscription's read decision is made again before
// its next delivery (owner.go): a subscription the new rules refuse
// receives nothing more, and what is queued for it is dropped. An
// authorizer of the embedding program (WithAuthorizer) stays in force
// behind a.
func (s *Server) SetAuthorizer(a Authorizer) {
	s.eng.setAuthorizer(s.ext.authorizer(a)) // engine_broker.go
}

// claimsOf returns the credential's ACL claims as the acl package's
// type, whose layout is the same; nil for none.
func claimsOf(c *ACLClaims) *acl.Claims { return (*acl.Claims)(c) }

// authorizeConnect sets up the client's authorization once it is
// authenticated, and checks its will [MQTT-3.1.2-8]: a will the client
// could not publish is refused with the CONNECT, Not Authorized.
func (ch *channel) authorizeConnect(c *mqtt.Connect, clientID, certID string) error {
	if certID == "" && ch.auth != nil {
		// Not handed to authentication (identity_as none): the verified
		// certificate's identity still matches rules' cert_identity.
		certID = certs.Identity(ch.meta.TLS, ch.auth.IdentityField())
	}
	ch.acl.SetView(acl.NewView(ch.meta, c, clientID, certID))
	if w := c.Will; w != nil && !ch.authorized(ActionPublish, w.Topic, w.QoS, w.Retain) {
		return mqtt.Errorf(mqtt.NotAuthorized, "", "not authorized to publish the will to %q", w.Topic)
	}
	return nil
}

// authorized asks the authorizer, without the cache. $SYS topics are the
// server's own: a client may not publish there.
func (ch *channel) authorized(a Action, topic string, qos byte, retain bool) bool {
	return ch.acl.Authorized(ch.env.acl.Load(), a, topic, qos, retain)
}

// mayPublish reports whether the client may publish p, from the
// connection's cache when it can: a cache hit costs no allocation.
func (ch *channel) mayPublish(p *mqtt.Publish) bool {
	return ch.acl.MayPublish(ch.env.acl.Load(), claimsOf(ch.credExp.acl), p)
}

// maySubscribe reports whether the client may subscribe to the filter of
// req; a shared subscription is judged by its topic filter. An authorizer
// that is a QoSLimiter may lower req.QoS.
func (ch *channel) maySubscribe(req *mqtt.Subscription) bool {
	filter := req.Filter
	if _, f, shared, err := mqtt.ParseShared(filter); shared && err == nil {
		filter = f
	}
	if !claimsOf(ch.credExp.acl).AllowsSubscribe(filter) {
		ch.logAt(zap.DebugLevel, "subscribe outside the credential's acl claims", logsafe.String("client_id", ch.neg.ClientID), logsafe.String("filter", req.Filter))
		return false
	}
	st := ch.env.acl.Load()
	if ch.acl.Authorized(st, ActionSubscribe, filter, req.QoS, false) {
		req.QoS = st.SubscribeMaxQoS(ch.acl.View(), filter, req.QoS)
		return true
	}
	ch.logAt(zap.DebugLevel, "subscribe not authorized", logsafe.String("client_id", ch.neg.ClientID), logsafe.String("filter", req.Filter))
	return false
}

// denyPublish refuses a PUBLISH the client may not make: it is dropped
// and counted as denied; a v5 client gets Not Authorized at QoS 1 and 2,
// ending a QoS 2 exchange at PUBREC (4.3.3); a 3.x client gets the normal
// acknowledgement [MQTT-3.3.5-2 of 3.1.1].
func (ch *channel) denyPublish(p *mqtt.Publish) {
	ch.logAt(zap.DebugLevel, "publish not authorized", logsafe.String("client_id", ch.neg.ClientID), logsafe.String("topic", p.Topic))
	ch.refusePublish(p, mqtt.NotAuthorized, stats.DropDenied)
}

// isSysTopic reports whether topic is under $SYS, which only the server
// publishes to (acl.IsSysTopic).
func isSysTopic(topic string) bool { return acl.IsSysTopic(topic) }
