package acl

// The static rule list of the acl section (acl.rules, then acl.file).

import (
	"fmt"
	"slices"
	"strings"

	"edgemq/configs"
	"edgemq/mqtt"
)

// NewStatic returns the Authorizer of a static rule list (the acl
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
//   - The rules of acl.file (LoadFile) come after acl.rules.
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
//     too (see FilterCovers). So a deny rule only stops the filters it
//     covers: with a deny for "a/secret" and an allow for "a/#", a
//     subscription to "a/+" is allowed and receives "a/secret".
//
// With no rules and acl.Default allow it returns AllowAll.
func NewStatic(acl configs.ACL) (Authorizer, error) {
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
		fileRules, err := LoadFile(acl.File) // file.go
		if err != nil {
			return nil, err
		}
		rules = append(slices.Clip(rules), fileRules...)
	}
	if len(rules) == 0 && s.defaultAllow {
		return AllowAll{}, nil
	}
	for i, rc := range rules {
		r := rule{filter: rc.Topic, username: rc.Username, clientID: rc.ClientID, certID: rc.CertIdentity, maxQoS: -1}
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
	rules        []rule
	defaultAllow bool
}

type rule struct {
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
func (s *staticACL) match(c ConnInfo, a Action, topic string, retain bool) *rule {
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
			hit = FilterCovers(filter, topic)
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
func (r *rule) expand(c ConnInfo) (string, bool) {
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
