package proto

// The channel's side of authorization: what a connected client may
// publish and subscribe to is gateway/acl's. The channel asks the
// authorizer in force (Engine.Authorizer) about every SUBSCRIBE filter,
// every inbound PUBLISH and the will of every CONNECT.

import (
	"edgemq/certs"
	"edgemq/gateway/acl"
	"edgemq/gateway/auth"
	"edgemq/gateway/logsafe"
	"edgemq/gateway/stats"
	"edgemq/mqtt"

	"go.uber.org/zap"
)

// claimsOf returns the credential's ACL claims as the acl package's
// type, whose layout is the same; nil for none.
func claimsOf(c *auth.ACLClaims) *acl.Claims { return (*acl.Claims)(c) }

// authorizeConnect sets up the client's authorization once it is
// authenticated, and checks its will [MQTT-3.1.2-8]: a will the client
// could not publish is refused with the CONNECT, Not Authorized.
func (ch *Channel) authorizeConnect(c *mqtt.Connect, clientID, certID string) error {
	if certID == "" && ch.auth != nil {
		// Not handed to authentication (identity_as none): the verified
		// certificate's identity still matches rules' cert_identity.
		certID = certs.Identity(ch.meta.TLS, ch.auth.IdentityField())
	}
	// One copy of the view, the channel's and its session owner's
	// (owner.go): never changed once made.
	ch.owner = &ownerView{View: acl.NewView(ch.meta, c, clientID, certID), claims: ch.aclClaims()}
	ch.acl.ShareView(&ch.owner.View)
	if w := c.Will; w != nil && !ch.authorized(acl.ActionPublish, w.Topic, w.QoS, w.Retain) {
		return mqtt.Errorf(mqtt.NotAuthorized, "", "not authorized to publish the will to %q", w.Topic)
	}
	return nil
}

// authorized asks the authorizer, without the cache. $SYS topics are the
// server's own: a client may not publish there.
func (ch *Channel) authorized(a acl.Action, topic string, qos byte, retain bool) bool {
	return ch.acl.Authorized(ch.env.Authorizer(), a, topic, qos, retain)
}

// mayPublish reports whether the client may publish p, from the
// connection's cache when it can: a cache hit costs no allocation.
func (ch *Channel) mayPublish(p *mqtt.Publish) bool {
	return ch.acl.MayPublish(ch.env.Authorizer(), claimsOf(ch.aclClaims()), p)
}

// maySubscribe reports whether the client may subscribe to the filter of
// req; a shared subscription is judged by its topic filter. An authorizer
// that is a QoSLimiter may lower req.QoS.
func (ch *Channel) maySubscribe(req *mqtt.Subscription) bool {
	filter := req.Filter
	if _, f, shared, err := mqtt.ParseShared(filter); shared && err == nil {
		filter = f
	}
	if !claimsOf(ch.aclClaims()).AllowsSubscribe(filter) {
		ch.LogAt(zap.DebugLevel, "subscribe outside the credential's acl claims", logsafe.String("client_id", ch.neg.ClientID), logsafe.String("filter", req.Filter))
		return false
	}
	st := ch.env.Authorizer()
	if ch.acl.Authorized(st, acl.ActionSubscribe, filter, req.QoS, false) {
		req.QoS = st.SubscribeMaxQoS(ch.acl.View(), filter, req.QoS)
		return true
	}
	ch.LogAt(zap.DebugLevel, "subscribe not authorized", logsafe.String("client_id", ch.neg.ClientID), logsafe.String("filter", req.Filter))
	return false
}

// denyPublish refuses a PUBLISH the client may not make: it is dropped
// and counted as denied; a v5 client gets Not Authorized at QoS 1 and 2,
// ending a QoS 2 exchange at PUBREC (4.3.3); a 3.x client gets the normal
// acknowledgement [MQTT-3.3.5-2 of 3.1.1].
func (ch *Channel) denyPublish(p *mqtt.Publish) {
	ch.LogAt(zap.DebugLevel, "publish not authorized", logsafe.String("client_id", ch.neg.ClientID), logsafe.String("topic", p.Topic))
	ch.refusePublish(p, mqtt.NotAuthorized, stats.DropDenied)
}
