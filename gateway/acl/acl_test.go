package acl

// Unit tests of authorization: filter coverage, the static rule list, the
// authorizer in force and the per-connection cache of publish decisions.

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"unsafe"

	"edgemq/configs"
	"edgemq/listeners"
	"edgemq/mqtt"
)

func TestFilterCovers(t *testing.T) {
	tests := []struct {
		rule, sub string
		want      bool
	}{
		{"sensors/#", "sensors/+/temp", true},
		{"sensors/#", "sensors/a/temp", true},
		{"sensors/#", "sensors/#", true},
		{"sensors/#", "sensors", true}, // "sensors/#" matches its parent
		{"sensors/#", "sensors/+", true},
		{"sensors/#", "other/#", false},
		{"sensors/#", "#", false},
		{"sensors/+", "sensors/#", false},
		{"sensors/+", "sensors/a", true},
		{"sensors/+", "sensors/+", true},
		{"sensors/+", "sensors", false},
		{"sensors/+", "sensors/a/b", false},
		{"sensors/+", "sensors/", true}, // an empty level is a level
		{"sensors/a", "sensors/+", false},
		{"sensors/a", "sensors/a", true},
		{"sensors/a", "sensors/a/#", false},
		{"sensors/a", "sensors/ab", false},
		{"sensors/+/temp", "sensors/x/temp", true},
		{"sensors/+/temp", "sensors/+/temp", true},
		{"sensors/+/temp", "sensors/+/+", false},
		{"sensors/+/#", "sensors/x", true}, // "+/#" matches the parent level too
		{"sensors/+/#", "sensors/+", true},
		{"sensors/+/#", "sensors/#", false}, // "sensors/#" matches "sensors"
		{"sensors/+/#", "sensors", false},
		{"+/+", "a/b", true},
		{"+/+", "+/+", true},
		{"+/+", "a/#", false},
		{"+", "+", true},
		{"+", "#", false},
		{"#", "#", true},
		{"#", "a/+/#", true},
		{"#", "/", true},
		{"a//b", "a//b", true},
		{"a/+/b", "a//b", true},
		// Wildcards at the first level do not match $ topics
		// [MQTT-4.7.2-1]: they cover no filter for them.
		{"#", "$SYS/#", false},
		{"#", "$SYS/broker/uptime", false},
		{"+/broker", "$SYS/broker", false},
		{"$SYS/#", "$SYS/broker/+", true},
		{"$SYS/+", "$SYS/#", false},
		// A filter starting with a wildcard never matches $ topics, so
		// "#" covers it whole.
		{"#", "+/broker", true},
		{"$SYS/#", "+/broker", false},
	}
	for _, tt := range tests {
		if got := FilterCovers(tt.rule, tt.sub); got != tt.want {
			t.Errorf("FilterCovers(%q, %q) = %v, want %v", tt.rule, tt.sub, got, tt.want)
		}
		// Coverage agrees with matching on topic names.
		if !mqtt.HasWildcard(tt.sub) {
			if got := mqtt.Match(tt.rule, tt.sub); got != tt.want {
				t.Errorf("mqtt.Match(%q, %q) = %v, but FilterCovers says %v", tt.rule, tt.sub, got, tt.want)
			}
		}
	}
}

// view is a client for Authorize calls in unit tests.
func view(clientID, username string) *View {
	return &View{meta: &listeners.Meta{Listener: "tcp"}, version: mqtt.V5, clientID: clientID, username: username, hasUsername: username != ""}
}

func mustStatic(tb testing.TB, acl configs.ACL) Authorizer {
	tb.Helper()
	a, err := NewStatic(acl)
	if err != nil {
		tb.Fatalf("NewStatic: %v", err)
	}
	return a
}

func TestStaticACL(t *testing.T) {
	a := mustStatic(t, configs.ACL{Default: "deny", Rules: []configs.ACLRule{
		{Permission: "deny", Action: "publish", Topic: "open/readonly"},
		{Permission: "allow", Action: "all", Topic: "open/#"},
		{Permission: "allow", Action: "subscribe", Topic: "feeds/#"},
		{Permission: "allow", Action: "all", Topic: "users/%u/#"},
		{Permission: "allow", Action: "all", Topic: "clients/%c/#"},
		{Permission: "allow", Action: "publish", Topic: "mix/%u/%c/x%"},
		{Permission: "allow", Action: "publish", Topic: "pct/%z/%u"},
		{Permission: "allow", Action: "all", Topic: "admin/#", Username: "alice"},
		{Permission: "allow", Action: "publish", Topic: "ctl/#", ClientID: "ctl-1"},
		{Permission: "deny", Action: "all", Topic: "#", Username: "mallory"},
		{Permission: "allow", Action: "subscribe", Topic: "+/public"},
	}})
	alice, bob, anon := view("alice-1", "alice"), view("bob-1", "bob"), view("anon-1", "")
	tests := []struct {
		c     *View
		a     Action
		topic string
		want  bool
	}{
		// First match wins: the deny before the allow.
		{anon, ActionPublish, "open/readonly", false},
		{anon, ActionSubscribe, "open/readonly", true},
		{anon, ActionPublish, "open/x", true},
		{anon, ActionSubscribe, "open/+/x", true},
		{anon, ActionSubscribe, "open/#", true},
		{anon, ActionSubscribe, "#", false},
		// Subscribe-only rule.
		{anon, ActionPublish, "feeds/a", false},
		{anon, ActionSubscribe, "feeds/a", true},
		// Default deny.
		{anon, ActionPublish, "elsewhere", false},
		{anon, ActionSubscribe, "elsewhere/#", false},
		// %u and %c.
		{alice, ActionPublish, "users/alice/t", true},
		{alice, ActionSubscribe, "users/alice/#", true},
		{alice, ActionPublish, "users/bob/t", false},
		{alice, ActionSubscribe, "users/+/t", false},
		{bob, ActionPublish, "users/bob/t", true},
		{anon, ActionPublish, "users//t", false}, // %u needs a username
		{alice, ActionPublish, "clients/alice-1/t", true},
		{alice, ActionPublish, "clients/bob-1/t", false},
		{anon, ActionSubscribe, "clients/anon-1/#", true},
		{alice, ActionPublish, "mix/alice/alice-1/x%", true},
		{bob, ActionPublish, "mix/alice/alice-1/x%", false},
		{alice, ActionPublish, "pct/%z/alice", true}, // only %u and %c are replaced
		// Wildcard characters in a username or client id are literal: the
		// rule covers nothing for them.
		{view("c", "+"), ActionSubscribe, "users/+/#", false},
		{view("c", "#"), ActionSubscribe, "users/#", false},
		{view("+", "u"), ActionSubscribe, "clients/+/#", false},
		// A '/' in a client id or user name would reach into the levels of
		// another id ("clients/a/b/t" is client "a"'s): the rule covers
		// nothing for it.
		{view("a/b", "u"), ActionPublish, "clients/a/b/t", false},
		{view("a/b", "u"), ActionPublish, "clients/a/t", false},
		{view("c", "alice/x"), ActionPublish, "users/alice/x/t", false},
		// Username and client id constraints.
		{alice, ActionSubscribe, "admin/x", true},
		{bob, ActionSubscribe, "admin/x", false},
		{anon, ActionPublish, "admin/x", false},
		{view("ctl-1", ""), ActionPublish, "ctl/x", true},
		{view("ctl-2", ""), ActionPublish, "ctl/x", false},
		{view("ctl-1", ""), ActionSubscribe, "ctl/x", false},
		// A constrained deny before a general allow.
		{view("m", "mallory"), ActionSubscribe, "a/public", false},
		{bob, ActionSubscribe, "a/public", true},
		// The $ rule: "+/public" does not cover a $ topic.
		{bob, ActionSubscribe, "$SYS/public", false},
	}
	for _, tt := range tests {
		if got := a.Authorize(tt.c, tt.a, tt.topic, 1, false); got != tt.want {
			t.Errorf("%s (user %q, client %q) %s %q = %v, want %v", tt.a, tt.c.username, tt.c.clientID, tt.a, tt.topic, got, tt.want)
		}
	}

	if _, ok := mustStatic(t, configs.ACL{Default: "allow"}).(AllowAll); !ok {
		t.Errorf("no rules and default allow: not AllowAll")
	}
	all := mustStatic(t, configs.ACL{Default: "allow", Rules: []configs.ACLRule{{Permission: "deny", Action: "publish", Topic: "x"}}})
	if all.Authorize(anon, ActionPublish, "x", 0, false) || !all.Authorize(anon, ActionPublish, "y", 0, false) {
		t.Errorf("default allow with a deny rule: wrong decisions")
	}
	for _, bad := range []configs.ACL{
		{Default: "maybe"},
		{Default: "deny", Rules: []configs.ACLRule{{Permission: "permit", Action: "all", Topic: "#"}}},
		{Default: "deny", Rules: []configs.ACLRule{{Permission: "allow", Action: "read", Topic: "#"}}},
		{Default: "deny", Rules: []configs.ACLRule{{Permission: "allow", Action: "all", Topic: "a/#/b"}}},
	} {
		if _, err := NewStatic(bad); err == nil {
			t.Errorf("NewStatic(%+v) succeeded, want an error", bad)
		}
	}
}

// aclChannel is a connected channel of clientID for username, socket

// aclClient is the authorization state of a connected client clientID
// of username, with a holder whose authorizer is a.
func aclClient(a Authorizer, clientID, username string) (*Client, *testHolder) {
	h := &testHolder{}
	h.Set(a)
	c := &Client{}
	c.SetView(*view(clientID, username))
	return c, h
}

// countingAuthorizer counts publish decisions and allows topics under
// allow.
type countingAuthorizer struct {
	allow    string
	publish  atomic.Int64
	mu       sync.Mutex
	lastView ConnInfo
}

func (c *countingAuthorizer) Authorize(ci ConnInfo, a Action, topic string, _ byte, _ bool) bool {
	if a == ActionPublish {
		c.publish.Add(1)
	}
	c.mu.Lock()
	c.lastView = ci
	c.mu.Unlock()
	return strings.HasPrefix(topic, c.allow)
}

func TestClientCache(t *testing.T) {
	ca := &countingAuthorizer{allow: "ok/"}
	c, h := aclClient(ca, "cache-1", "")
	pub := func(topic string, qos byte, retain bool) bool {
		return c.MayPublish(h.Load(), nil, &mqtt.Publish{Topic: topic, QoS: qos, Retain: retain})
	}
	if !pub("ok/a", 1, false) || !pub("ok/a", 1, false) || pub("no/a", 1, false) || pub("no/a", 1, false) {
		t.Fatalf("wrong decisions")
	}
	if n := ca.publish.Load(); n != 2 {
		t.Errorf("%d Authorize calls for 2 topics published twice, want 2", n)
	}
	// QoS and RETAIN are part of the decision.
	pub("ok/a", 0, false)
	pub("ok/a", 1, true)
	pub("ok/a", 1, true)
	if n := ca.publish.Load(); n != 4 {
		t.Errorf("%d Authorize calls, want 4", n)
	}
	// $SYS is refused before the authorizer.
	if pub("$SYS/broker/uptime", 0, false) || pub("$SYS", 0, false) {
		t.Errorf("$SYS publish allowed")
	}
	for topic, want := range map[string]bool{"$SYS": true, "$SYS/x": true, "$SYSTEM/x": false, "$SYS2": false, "a/$SYS/x": false} {
		if IsSysTopic(topic) != want {
			t.Errorf("IsSysTopic(%q) = %v, want %v", topic, !want, want)
		}
	}
	// The cache is bounded.
	for i := range 3 * cacheSize {
		pub(fmt.Sprintf("ok/%d", i), 1, false)
	}
	if n := len(c.cache); n > cacheSize {
		t.Errorf("cache holds %d topics, want at most %d", n, cacheSize)
	}
	// A cached topic does not keep the packet's memory: the key is a copy.
	body := []byte("ok/copied and the payload")
	p := &mqtt.Publish{Topic: unsafe.String(&body[0], len("ok/copied")), QoS: 1} // as the decoder makes it
	c.MayPublish(h.Load(), nil, p)
	found := false
	for k := range c.cache {
		if k == "ok/copied" {
			found = true
			if unsafe.StringData(k) == &body[0] {
				t.Errorf("cache key shares the packet's memory")
			}
		}
	}
	if !found {
		t.Errorf("ok/copied not cached")
	}
	// Replacing the authorizer drops the cached decisions.
	deny := &countingAuthorizer{allow: "nothing/"}
	h.Set(deny)
	if pub("ok/a", 1, false) {
		t.Errorf("decision of the replaced authorizer still used")
	}
	if n := deny.publish.Load(); n != 1 {
		t.Errorf("%d calls to the new authorizer, want 1", n)
	}
	// The view has the client, not the credentials.
	v := deny.lastView
	if v.ClientID() != "cache-1" || v.Password() != nil || v.AuthData() != nil || v.Listener() != "tcp" {
		t.Errorf("view: client %q password %q listener %q", v.ClientID(), v.Password(), v.Listener())
	}
	// Without an authorizer everything is allowed.
	var bare Client
	if !bare.MayPublish((*testHolder)(nil).Load(), nil, &mqtt.Publish{Topic: "x"}) {
		t.Errorf("no authorizer: publish refused")
	}
}

// TestClaims: a credential's claims narrow what the authorizer allows,
// for publishes and for the owner's read check; nil claims narrow
// nothing.
func TestClaims(t *testing.T) {
	cl := &Claims{Pub: []string{"dev/+/up"}, Sub: []string{"dev/#"}}
	var st *State // allow all
	v := view("c", "u")
	c := &Client{}
	c.SetView(*v)
	tests := []struct {
		name   string
		claims *Claims
		topic  string
		pub    bool
		read   bool
	}{
		{"within both", cl, "dev/1/up", true, true},
		{"read only", cl, "dev/1/down", false, true},
		{"outside", cl, "other/x", false, false},
		{"shared read judged by its filter", cl, "$share/g/dev/#", false, true},
		{"no claims", nil, "other/x", true, true},
	}
	for _, tt := range tests {
		if got := c.MayPublish(st, tt.claims, &mqtt.Publish{Topic: tt.topic}); got != tt.pub {
			t.Errorf("%s: MayPublish(%q) = %v, want %v", tt.name, tt.topic, got, tt.pub)
		}
		if got := st.MayRead(v, tt.claims, tt.topic, 1); got != tt.read {
			t.Errorf("%s: MayRead(%q) = %v, want %v", tt.name, tt.topic, got, tt.read)
		}
	}
}

// testHolder holds the state in force as the server's one holder (the
// broker's read policy, broker.Reads) does: NewState on Set, Renewed on
// Renew.
type testHolder struct{ st *State }

func (h *testHolder) Set(a Authorizer) { h.st = NewState(a) }
func (h *testHolder) Renew()           { h.st = h.st.Renewed() }
func (h *testHolder) Load() *State {
	if h == nil {
		return nil
	}
	return h.st
}

// TestState: Renewed makes a new state of the same authorizer (so that
// connections drop their cached decisions), NewState(nil) allows all.
func TestState(t *testing.T) {
	var h testHolder
	if st := h.Load(); st != nil || !st.AllowsAll() {
		t.Fatalf("zero holder: %+v", st)
	}
	h.Renew() // nothing to renew
	if h.Load() != nil {
		t.Fatal("Renew of an empty holder set a state")
	}
	deny := mustStatic(t, configs.ACL{Default: "deny"})
	h.Set(deny)
	first := h.Load()
	if first.AllowsAll() || first.Authorizer() != deny {
		t.Fatalf("deny state: allows all %v, authorizer %v", first.AllowsAll(), first.Authorizer())
	}
	h.Renew()
	renewed := h.Load()
	if renewed == first || renewed.Authorizer() != deny || renewed.AllowsAll() {
		t.Errorf("Renew: same state %v, authorizer %v", renewed == first, renewed.Authorizer())
	}
	h.Set(nil)
	if all := h.Load(); !all.AllowsAll() {
		t.Error("Set(nil) does not allow all")
	}
}

// BenchmarkAuthorizePublish measures the publish path's authorization:
// a cache hit must cost no allocation.
func BenchmarkAuthorizePublish(b *testing.B) {
	acl := configs.ACL{Default: "deny", Rules: []configs.ACLRule{
		{Permission: "deny", Action: "publish", Topic: "$internal/#"},
		{Permission: "allow", Action: "subscribe", Topic: "feeds/#"},
		{Permission: "allow", Action: "all", Topic: "admin/#", Username: "admin"},
		{Permission: "allow", Action: "publish", Topic: "telemetry/+/temp"},
		{Permission: "allow", Action: "all", Topic: "devices/%u/#"},
	}}
	static, err := NewStatic(acl)
	if err != nil {
		b.Fatal(err)
	}
	run := func(b *testing.B, a Authorizer, topic string) {
		c, h := aclClient(a, "bench-1", "sensor")
		p := &mqtt.Publish{Topic: topic, QoS: 1}
		if !c.MayPublish(h.Load(), nil, p) {
			b.Fatalf("%s refused", topic)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			if !c.MayPublish(h.Load(), nil, p) {
				b.Fatal("refused")
			}
		}
	}
	b.Run("cached", func(b *testing.B) { run(b, static, "devices/sensor/temp") })
	b.Run("allow-all", func(b *testing.B) { run(b, AllowAll{}, "devices/sensor/temp") })
	uncached := func(b *testing.B, topic string) {
		v := view("bench-1", "sensor")
		b.ReportAllocs()
		for b.Loop() {
			if !static.Authorize(v, ActionPublish, topic, 1, false) {
				b.Fatal("refused")
			}
		}
	}
	b.Run("uncached", func(b *testing.B) { uncached(b, "telemetry/x/temp") })
	b.Run("uncached-template", func(b *testing.B) { uncached(b, "devices/sensor/temp") })
}
