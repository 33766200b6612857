package acl

import (
	"strings"
	"testing"
)

// prefixAuthorizer allows topics under prefix; as a QoSLimiter it grants
// at most maxQoS.
type prefixAuthorizer struct {
	prefix string
	maxQoS byte
	asked  *int
}

func (p prefixAuthorizer) Authorize(_ ConnInfo, _ Action, topic string, _ byte, _ bool) bool {
	if p.asked != nil {
		*p.asked++
	}
	return strings.HasPrefix(topic, p.prefix)
}

func (p prefixAuthorizer) SubscribeMaxQoS(_ ConnInfo, _ string, qos byte) byte {
	return min(qos, p.maxQoS)
}

// plainAuthorizer allows topics under prefix and limits no QoS.
type plainAuthorizer struct{ prefix string }

func (p plainAuthorizer) Authorize(_ ConnInfo, _ Action, topic string, _ byte, _ bool) bool {
	return strings.HasPrefix(topic, p.prefix)
}

// TestBoth: what both allow is allowed, the second is asked only about
// what the first allows, the granted QoS is the lower of the limiters',
// and an AllowAll or nil side leaves the other alone.
func TestBoth(t *testing.T) {
	var thenAsked int
	first := prefixAuthorizer{prefix: "a/", maxQoS: 2}
	then := prefixAuthorizer{prefix: "a/b", maxQoS: 1, asked: &thenAsked}
	b := Both(first, then)
	v := view("c", "u")
	tests := []struct {
		topic     string
		want      bool
		thenAsked int
	}{
		{"a/b/c", true, 1},
		{"a/x", false, 2},
		{"x/b", false, 2}, // first refuses: then is not asked
	}
	for _, tt := range tests {
		if got := b.Authorize(v, ActionPublish, tt.topic, 1, false); got != tt.want {
			t.Errorf("Authorize(%q) = %v, want %v", tt.topic, got, tt.want)
		}
		if thenAsked != tt.thenAsked {
			t.Errorf("after %q: then asked %d times, want %d", tt.topic, thenAsked, tt.thenAsked)
		}
	}
	if got := b.(QoSLimiter).SubscribeMaxQoS(v, "a/b/#", 2); got != 1 {
		t.Errorf("SubscribeMaxQoS = %d, want the lower, 1", got)
	}
	if got := Both(plainAuthorizer{"a/"}, then).(QoSLimiter).SubscribeMaxQoS(v, "a/b/#", 2); got != 1 {
		t.Errorf("SubscribeMaxQoS with one limiter = %d, want 1", got)
	}
	for _, tt := range []struct {
		name        string
		first, then Authorizer
		want        Authorizer
	}{
		{"allow all first", AllowAll{}, then, then},
		{"nil first", nil, then, then},
		{"nil then", first, nil, first},
	} {
		if got := Both(tt.first, tt.then); got != tt.want {
			t.Errorf("%s: Both = %#v, want %#v", tt.name, got, tt.want)
		}
	}
}
