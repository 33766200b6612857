package gateway

// Authorization: what a connected client may publish and subscribe to.
// The engine asks the server's Authorizer about every SUBSCRIBE filter,
// every inbound PUBLISH and the will of every CONNECT; the built-in ones
// are AllowAll and the static rule list of acl.rules (NewStaticACL).

import (
	"crypto/tls"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync/atomic"

	"edgemq/certs"
	"edgemq/configs"
	"edgemq/gateway/logsafe"
	"edgemq/gateway/stats"
	"edgemq/listeners"
	"edgemq/mqtt"

	"go.uber.org/zap"
)

// Action is what a client asks to do with a topic.
type Action uint8

const (
	// ActionPublish is a PUBLISH (or a will) to a topic name.
	ActionPublish Action = iota + 1
	// ActionSubscribe is one topic filter of a SUBSCRIBE.
	ActionSubscribe
)

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
//     (owner.go). That ConnInfo may be a session's stored owner after a
//     restart: its RemoteAddr and TLS are then nil.
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

// AllowAll is the Authorizer that allows everything. The server skips it
// altogether on the publish path.
type AllowAll struct{}

// Authorize allows.
func (AllowAll) Authorize(ConnInfo, Action, string, byte, bool) bool { return true }

// NewStaticACL returns the Authorizer of a static rule list (the acl
// section of the configuration):
//
//   - Rules are tried in order; the first that matches decides, by its
//     permission. When none matches, acl.Default does.
//   - A rule matches the actions of its action (publish, subscribe, all,
//     or retain: a publish with the RETAIN flag, so that a deny retain
//     before an allow publish refuses retained messages only), only the
//     user of its username, the client of its client_id and the client
//     whose verified certificate has its cert_identity (CertIdentity) when
//     these are set, and topics by its topic filter.
//   - An allow rule with max_qos refuses a publish above it and grants a
//     subscription at most it (the static ACL is a QoSLimiter).
//   - The rules of acl.file (loadACLFile) come after acl.rules.
//   - In the topic filter, %u is replaced by the client's username and %c
//     by its client id, as literal text: a '+' or '#' in either is no
//     wildcard, and a '/' would reach into another name's levels (user
//     "alice/x" under "users/%u/#" is inside "users/alice/#"), so such a
//     rule matches nothing for that client; a rule with %u does not apply
//     to a client without a username.
//   - A publish matches when the rule's filter matches the topic name
//     (with the $ rule [MQTT-4.7.2-1]: "#" does not match "$SYS/x"). A
//     subscribe matches when the rule's filter covers the requested
//     filter: every topic the requested filter matches, the rule's matches
//     too (see filterCovers). So a deny rule only stops the filters it
//     covers: with a deny for "a/secret" and an allow for "a/#", a
//     subscription to "a/+" is allowed and receives "a/secret".
//
// With no rules and acl.Default allow it returns AllowAll.
func NewStaticACL(acl configs.ACL) (Authorizer, error) {
	s := &staticACL{}
	switch acl.Default {
	case "allow":
		s.defaultAllow = true
	case "deny":
	default:
		return nil, fmt.Errorf("acl.default: %q is not allow or deny", acl.Default)
	}
	rules := acl.Rules
	if acl.File != "" {
		fileRules, err := loadACLFile(acl.File) // acl_file.go
		if err != nil {
			return nil, err
		}
		rules = append(slices.Clip(rules), fileRules...)
	}
	if len(rules) == 0 && s.defaultAllow {
		return AllowAll{}, nil
	}
	for i, rc := range rules {
		r := aclRule{filter: rc.Topic, username: rc.Username, clientID: rc.ClientID, certID: rc.CertIdentity, maxQoS: -1}
		if rc.MaxQoS != nil {
			if *rc.MaxQoS < 0 || *rc.MaxQoS > 2 {
				return nil, fmt.Errorf("acl.rules[%d].max_qos: %d is not 0, 1 or 2", i, *rc.MaxQoS)
			}
			r.maxQoS = int8(*rc.MaxQoS)
		}
		switch rc.Permission {
		case "allow":
			r.allow = true
		case "deny":
		default:
			return nil, fmt.Errorf("acl.rules[%d].permission: %q is not allow or deny", i, rc.Permission)
		}
		switch rc.Action {
		case "publish":
			r.publish = true
		case "subscribe":
			r.subscribe = true
		case "all":
			r.publish, r.subscribe = true, true
		case "retain":
			r.retain = true
		default:
			return nil, fmt.Errorf("acl.rules[%d].action: %q is not publish, subscribe, all or retain", i, rc.Action)
		}
		r.withUser = strings.Contains(rc.Topic, "%u")
		r.withClient = strings.Contains(rc.Topic, "%c")
		if err := mqtt.ValidTopicFilter(strings.NewReplacer("%u", "u", "%c", "c").Replace(rc.Topic)); err != nil {
			return nil, fmt.Errorf("acl.rules[%d].topic: %w", i, err)
		}
		s.rules = append(s.rules, r)
	}
	return s, nil
}

// staticACL is the Authorizer of the acl section.
type staticACL struct {
	rules        []aclRule
	defaultAllow bool
}

type aclRule struct {
	allow              bool
	publish, subscribe bool
	// filter is the topic filter, with %u and %c when withUser or
	// withClient.
	filter               string
	withUser, withClient bool
	// username and clientID limit the rule to one client; "": any.
	username, clientID string
	// certID limits the rule to a certificate identity; "": any.
	certID string
	// retain: the rule is about publishes with RETAIN (action retain).
	retain bool
	// maxQoS caps what an allow rule grants; -1: no cap.
	maxQoS int8
}

// Authorize applies the first matching rule. Rules without %u or %c cost
// no allocation; the others build their filter.
func (s *staticACL) Authorize(c ConnInfo, a Action, topic string, qos byte, retain bool) bool {
	r := s.match(c, a, topic, retain)
	if r == nil {
		return s.defaultAllow
	}
	// A publish above an allow rule's max_qos is refused; a subscription
	// is granted at most it (SubscribeMaxQoS).
	return r.allow && (a != ActionPublish || r.maxQoS < 0 || qos <= byte(r.maxQoS))
}

// SubscribeMaxQoS returns the highest QoS the rule allowing a
// subscription to filter grants: its max_qos, else qos (QoSLimiter).
func (s *staticACL) SubscribeMaxQoS(c ConnInfo, filter string, qos byte) byte {
	if r := s.match(c, ActionSubscribe, filter, false); r != nil && r.maxQoS >= 0 {
		return min(qos, byte(r.maxQoS))
	}
	return qos
}

// match returns the first rule matching, nil when none does.
func (s *staticACL) match(c ConnInfo, a Action, topic string, retain bool) *aclRule {
	for i := range s.rules {
		r := &s.rules[i]
		switch {
		case a == ActionPublish && !r.publish && !(r.retain && retain):
			continue
		case a == ActionSubscribe && !r.subscribe:
			continue
		}
		if r.certID != "" && c.CertIdentity() != r.certID {
			continue
		}
		if r.username != "" && (!c.HasUsername() || c.Username() != r.username) {
			continue
		}
		if r.clientID != "" && c.ClientID() != r.clientID {
			continue
		}
		filter := r.filter
		if r.withUser || r.withClient {
			var ok bool
			if filter, ok = r.expand(c); !ok {
				continue
			}
		}
		var hit bool
		if a == ActionPublish {
			hit = mqtt.Match(filter, topic)
		} else {
			hit = filterCovers(filter, topic)
		}
		if hit {
			return r
		}
	}
	return nil
}

// expand replaces %u and %c in the rule's filter. It reports false when
// the rule cannot match the client: %u without a username, or a value
// holding a wildcard character, which as literal text matches no topic
// name and covers no filter, or a level separator, which would widen the
// rule into the levels of another user's or client's name.
func (r *aclRule) expand(c ConnInfo) (string, bool) {
	var user, client string
	if r.withUser {
		if !c.HasUsername() || c.Username() == "" {
			return "", false
		}
		user = c.Username()
		if strings.ContainsAny(user, "+#/") {
			return "", false
		}
	}
	if r.withClient {
		client = c.ClientID()
		if client == "" || strings.ContainsAny(client, "+#/") {
			return "", false
		}
	}
	f := r.filter
	var b strings.Builder
	b.Grow(len(f) + len(user) + len(client))
	for {
		i := strings.IndexByte(f, '%')
		if i < 0 || i == len(f)-1 {
			b.WriteString(f)
			return b.String(), true
		}
		b.WriteString(f[:i])
		switch f[i+1] {
		case 'u':
			b.WriteString(user)
		case 'c':
			b.WriteString(client)
		default:
			b.WriteString(f[i : i+2])
		}
		f = f[i+2:]
	}
}

// filterCovers reports whether topic filter rule covers topic filter sub:
// every topic name sub matches, rule matches too. Both are taken as valid
// filters, not shared ones. "sensors/#" covers "sensors/+/temp",
// "sensors" and "sensors/#"; "sensors/+" does not cover "sensors/#".
// Wildcards at the first level do not match topics starting with '$'
// [MQTT-4.7.2-1], so "#" does not cover "$SYS/#".
func filterCovers(rule, sub string) bool {
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

// isSysTopic reports whether topic is under $SYS, which only the server
// publishes to (sys.go): a client's PUBLISH there is refused as not
// authorized.
func isSysTopic(topic string) bool {
	return strings.HasPrefix(topic, "$SYS") && (len(topic) == 4 || topic[4] == '/')
}

// aclState is the server's authorizer in force. Each Server.SetAuthorizer
// makes a new one; connections compare the pointer to drop cached
// decisions of a replaced authorizer.
type aclState struct {
	a        Authorizer
	allowAll bool
	// id orders authorizer states and session owner views (owner.go).
	id uint64
}

// aclHolder holds the server's authorizer; the zero value allows all.
// ids numbers the authorizer states and the owner views together, in
// the order they are made (owner.go).
type aclHolder struct {
	p   atomic.Pointer[aclState]
	ids atomic.Uint64
	// claims is set once a session owner with ACL claims was seen: from
	// then on deliveries are checked also under AllowAll (owner.go).
	claims atomic.Bool
}

func (h *aclHolder) set(a Authorizer) {
	if a == nil {
		a = AllowAll{}
	}
	_, all := a.(AllowAll)
	h.p.Store(&aclState{a: a, allowAll: all, id: h.ids.Add(1)})
}

// renew puts the authorizer in force again as a new state, so
// that every cached decision is made again (RefreshAuthorizer). A set
// meanwhile wins.
func (h *aclHolder) renew() {
	for {
		old := h.p.Load()
		if old == nil {
			return
		}
		next := &aclState{a: old.a, allowAll: old.allowAll, id: h.ids.Add(1)}
		if h.p.CompareAndSwap(old, next) {
			return
		}
	}
}

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

// aclCacheSize bounds a connection's cache of publish decisions.
const aclCacheSize = 64

// aclBits are the cached decisions for one topic: bit qos*2+retain says
// the decision is known, the same bit shifted by 8 that it allows.
type aclBits uint16

// chanACL is the authorization state of one connection: its view for the
// authorizer and its publish decisions. Only the connection's read
// goroutine uses it.
type chanACL struct {
	view aclView
	// from is the authorizer the cache was filled from.
	from  *aclState
	cache map[string]aclBits
}

// authorizeConnect sets up the client's authorization once it is
// authenticated, and checks its will [MQTT-3.1.2-8]: a will the client
// could not publish is refused with the CONNECT, Not Authorized.
func (ch *channel) authorizeConnect(c *mqtt.Connect, clientID, certID string) error {
	if certID == "" && ch.auth != nil {
		// Not handed to authentication (identity_as none): the verified
		// certificate's identity still matches rules' cert_identity.
		certID = certs.Identity(ch.meta.TLS, ch.auth.IdentityField())
	}
	ch.acl.view = aclView{
		meta: ch.meta, version: c.Version, clientID: clientID, certID: certID,
		username: c.Username, hasUsername: c.UsernameFlag, hasPassword: c.PasswordFlag,
		authMethod: c.Properties.AuthenticationMethod,
	}
	if w := c.Will; w != nil && !ch.authorized(ActionPublish, w.Topic, w.QoS, w.Retain) {
		return mqtt.Errorf(mqtt.NotAuthorized, "", "not authorized to publish the will to %q", w.Topic)
	}
	return nil
}

// authorized asks the authorizer, without the cache. $SYS topics are the
// server's own: a client may not publish there.
func (ch *channel) authorized(a Action, topic string, qos byte, retain bool) bool {
	if a == ActionPublish && isSysTopic(topic) {
		return false
	}
	st := ch.env.acl.p.Load()
	if st == nil || st.allowAll {
		return true
	}
	return st.a.Authorize(&ch.acl.view, a, topic, qos, retain)
}

// mayPublish reports whether the client may publish p, from the
// connection's cache when it can: a cache hit costs no allocation.
func (ch *channel) mayPublish(p *mqtt.Publish) bool {
	if isSysTopic(p.Topic) {
		return false
	}
	if cl := ch.credExp.acl; cl != nil && !slices.ContainsFunc(cl.Pub, func(f string) bool { return mqtt.Match(f, p.Topic) }) {
		// The credential's ACL claims narrow what the rules allow.
		return false
	}
	st := ch.env.acl.p.Load()
	if st == nil || st.allowAll {
		return true
	}
	c := &ch.acl
	if c.from != st {
		clear(c.cache)
		c.from = st
	}
	bit := aclBits(1) << (p.QoS*2 + b2u8(p.Retain))
	bits, known := c.cache[p.Topic]
	if bits&bit != 0 {
		return bits&(bit<<8) != 0
	}
	ok := st.a.Authorize(&c.view, ActionPublish, p.Topic, p.QoS, p.Retain)
	bits |= bit
	if ok {
		bits |= bit << 8
	}
	if known {
		c.cache[p.Topic] = bits
		return ok
	}
	if c.cache == nil {
		c.cache = make(map[string]aclBits)
	} else if len(c.cache) >= aclCacheSize {
		for k := range c.cache {
			delete(c.cache, k) // any one: the map's order is random
			break
		}
	}
	// A copy: the decoded topic shares its memory with the payload.
	c.cache[strings.Clone(p.Topic)] = bits
	return ok
}

func b2u8(b bool) byte {
	if b {
		return 1
	}
	return 0
}

// maySubscribe reports whether the client may subscribe to the filter of
// req; a shared subscription is judged by its topic filter. An authorizer
// that is a QoSLimiter may lower req.QoS.
func (ch *channel) maySubscribe(req *mqtt.Subscription) bool {
	filter := req.Filter
	if _, f, shared, err := mqtt.ParseShared(filter); shared && err == nil {
		filter = f
	}
	if cl := ch.credExp.acl; cl != nil && !slices.ContainsFunc(cl.Sub, func(f string) bool { return filterCovers(f, filter) }) {
		ch.logAt(zap.DebugLevel, "subscribe outside the credential's acl claims", logsafe.String("client_id", ch.neg.ClientID), logsafe.String("filter", req.Filter))
		return false
	}
	if ch.authorized(ActionSubscribe, filter, req.QoS, false) {
		if st := ch.env.acl.p.Load(); st != nil {
			if l, ok := st.a.(QoSLimiter); ok {
				req.QoS = l.SubscribeMaxQoS(&ch.acl.view, filter, req.QoS)
			}
		}
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

// aclView is the ConnInfo authorizers get: what CONNECT said, without the
// credentials. Its CertIdentity is the verified client certificate's
// identity (client_auth.identity) whenever there is one, also when the
// listener does not hand it to authentication (identity_as none).
type aclView struct {
	meta                     *listeners.Meta
	version                  mqtt.Version
	clientID                 string
	username                 string
	hasUsername, hasPassword bool
	authMethod               string
	certID                   string
}

func (v *aclView) Listener() string               { return v.meta.Listener }
func (v *aclView) Transport() listeners.Transport { return v.meta.Transport }
func (v *aclView) RemoteAddr() net.Addr           { return v.meta.RemoteAddr }
func (v *aclView) TLS() *tls.ConnectionState      { return v.meta.TLS }
func (v *aclView) ProtocolVersion() mqtt.Version  { return v.version }
func (v *aclView) ClientID() string               { return v.clientID }
func (v *aclView) Username() string               { return v.username }
func (v *aclView) HasUsername() bool              { return v.hasUsername }
func (v *aclView) Password() []byte               { return nil }
func (v *aclView) HasPassword() bool              { return v.hasPassword }
func (v *aclView) AuthMethod() string             { return v.authMethod }
func (v *aclView) AuthData() []byte               { return nil }
func (v *aclView) CertIdentity() string           { return v.certID }
