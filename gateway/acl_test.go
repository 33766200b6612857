package gateway

// Tests of authorization (proto/acl.go): the channel's side of it, and the
// engine's answers to real paho.golang (v5) and paho.mqtt.golang (3.1.1)
// clients. The rules, the cache and filter coverage are tested in
// gateway/acl.

import (
	"context"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"edgemq/configs"
	"edgemq/mqtt"

	"github.com/eclipse/paho.golang/paho"
	mqtt3 "github.com/eclipse/paho.mqtt.golang"
	packets3 "github.com/eclipse/paho.mqtt.golang/packets"
)

// mustStaticACL builds the static ACL of acl or fails the test.
func mustStaticACL(tb testing.TB, acl configs.ACL) Authorizer {
	tb.Helper()
	a, err := NewStaticACL(acl)
	if err != nil {
		tb.Fatalf("NewStaticACL: %v", err)
	}
	return a
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

// aclConfig has users alice, bob, "+" (all with password secret), an
// anonymous listener, and rules for every test below; unmatched actions
// are denied.
func aclConfig(tb testing.TB) *configs.Config {
	tb.Helper()
	cfg := testConfig(tb)
	hash := bcryptHash(tb, "secret")
	for _, u := range []string{"alice", "bob", "+"} {
		cfg.Auth.Users = append(cfg.Auth.Users, configs.User{Username: u, PasswordHash: hash})
	}
	cfg.Listeners[0].AllowAnonymous = refOf(true)
	cfg.ACL = configs.ACL{Default: "deny", Rules: []configs.ACLRule{
		{Permission: "allow", Action: "all", Topic: "fence/#"},
		{Permission: "allow", Action: "all", Topic: "sync/#"},
		{Permission: "deny", Action: "publish", Topic: "open/readonly"},
		{Permission: "allow", Action: "all", Topic: "open/#"},
		{Permission: "allow", Action: "subscribe", Topic: "feeds/#"},
		{Permission: "allow", Action: "all", Topic: "users/%u/#"},
		{Permission: "allow", Action: "all", Topic: "clients/%c/#"},
		{Permission: "allow", Action: "all", Topic: "admin/#", Username: "alice"},
		{Permission: "allow", Action: "publish", Topic: "ctl/#", ClientID: "ctl-1"},
		{Permission: "allow", Action: "subscribe", Topic: "ctl/#"},
	}}
	return cfg
}

// withUser sets username and password secret on a v5 CONNECT.
func withUser(cp *paho.Connect, user string) *paho.Connect {
	cp.Username, cp.UsernameFlag = user, true
	cp.Password, cp.PasswordFlag = []byte("secret"), true
	return cp
}

// subscribeCodes sends one SUBSCRIBE of filters and returns the reason
// codes.
func (c *v5Client) subscribeCodes(tb testing.TB, filters ...string) []byte {
	tb.Helper()
	s := &paho.Subscribe{}
	for _, f := range filters {
		s.Subscriptions = append(s.Subscriptions, paho.SubscribeOptions{Topic: f, QoS: 1})
	}
	ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
	defer cancel()
	sa, err := c.Subscribe(ctx, s)
	if sa == nil {
		tb.Fatalf("subscribe %q: no SUBACK: %v", filters, err)
	}
	return sa.Reasons
}

// publishCode publishes at QoS 1 or 2 and returns the reason code of the
// PUBACK or PUBREC.
func (c *v5Client) publishCode(tb testing.TB, p *paho.Publish) byte {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
	defer cancel()
	r, err := c.Publish(ctx, p)
	if r == nil {
		tb.Fatalf("publish to %q: no answer: %v", p.Topic, err)
	}
	return r.ReasonCode
}

const (
	granted1 = byte(mqtt.GrantedQoS1)
	denied   = byte(mqtt.NotAuthorized)
)

// TestACLPaho5Subscribe checks SUBACK codes of v5 clients: 0x87 for each
// filter the rules refuse, in order [MQTT-3.9.3-1], the others granted.
func TestACLPaho5Subscribe(t *testing.T) {
	ts := startServer(t, aclConfig(t))
	rows := []struct {
		name    string
		cp      *paho.Connect
		filters []string
		want    []byte
	}{
		{"anonymous", v5Connect("s5-anon"),
			[]string{"open/+/x", "feeds/#", "open/#", "#", "+/x", "secret/x", "users/+/#"},
			[]byte{granted1, granted1, granted1, denied, denied, denied, denied}},
		{"client id", v5Connect("s5-c"),
			[]string{"clients/s5-c/#", "clients/s5-c/+/t", "clients/other/#", "clients/+/t"},
			[]byte{granted1, granted1, denied, denied}},
		{"username", withUser(v5Connect("s5-alice"), "alice"),
			[]string{"users/alice/#", "users/bob/#", "admin/x", "admin/#"},
			[]byte{granted1, denied, granted1, granted1}},
		{"other username", withUser(v5Connect("s5-bob"), "bob"),
			[]string{"users/bob/x", "users/alice/x", "admin/x"},
			[]byte{granted1, denied, denied}},
		// A '+' username is literal text: "users/%u/#" gives it nothing.
		{"wildcard username", withUser(v5Connect("s5-plus"), "+"),
			[]string{"users/+/#", "users/#"},
			[]byte{denied, denied}},
		{"shared subscription", v5Connect("s5-shared"),
			[]string{"$share/g/open/x", "$share/g/secret/x"},
			[]byte{granted1, denied}},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			c := connectV5(t, ts, row.cp)
			if got := c.subscribeCodes(t, row.filters...); !slices.Equal(got, row.want) {
				t.Fatalf("SUBACK % X for %q, want % X", got, row.filters, row.want)
			}
			// A refusal keeps the connection.
			c.roundTrip(t)
		})
	}
}

// TestACLPaho5Publish checks refused v5 publishes: PUBACK or PUBREC 0x87
// at QoS 1 and 2, QoS 0 dropped; all counted as
// denied, none routed nor retained.
func TestACLPaho5Publish(t *testing.T) {
	ts := startServer(t, aclConfig(t))
	sub := connectV5(t, ts, v5Connect("p5-sub"))
	sub.subscribe(t, "open/#", 2)
	sub.subscribe(t, "feeds/#", 2)
	sub.subscribe(t, "fence/p5", 2)
	pub := connectV5(t, ts, v5Connect("p5-pub"))
	before := ts.Stats().Dropped["denied"]

	ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
	defer cancel()
	r, err := pub.Publish(ctx, &paho.Publish{Topic: "feeds/a", QoS: 1, Payload: []byte("x")})
	if r == nil || r.ReasonCode != denied {
		t.Fatalf("QoS 1 to a subscribe-only topic: %+v, %v; want PUBACK 0x87", r, err)
	}
	if code := pub.publishCode(t, &paho.Publish{Topic: "open/readonly", QoS: 2, Payload: []byte("x")}); code != denied {
		t.Fatalf("QoS 2 to a denied topic: PUBREC 0x%02X, want 0x87", code)
	}
	pub.publish(t, &paho.Publish{Topic: "feeds/b", QoS: 0, Payload: []byte("x")})
	// Retained: refused, so not stored.
	if code := pub.publishCode(t, &paho.Publish{Topic: "feeds/r", QoS: 1, Retain: true, Payload: []byte("x")}); code != denied {
		t.Fatalf("retained QoS 1 to a denied topic: PUBACK 0x%02X, want 0x87", code)
	}
	pub.publish(t, &paho.Publish{Topic: "open/readonly", QoS: 0, Retain: true, Payload: []byte("x")})
	// Allowed ones go through, on the same connection.
	if code := pub.publishCode(t, &paho.Publish{Topic: "open/ok", QoS: 2, Payload: []byte("ok")}); code >= 0x80 {
		t.Fatalf("allowed QoS 2: 0x%02X", code)
	}
	pub.publish(t, &paho.Publish{Topic: "open/kept", QoS: 1, Retain: true, Payload: []byte("kept")})
	for _, want := range []string{"open/ok", "open/kept"} {
		if m := sub.expectMessage(t); m.Topic != want {
			t.Fatalf("got %q on %q, want %s", m.Payload, m.Topic, want)
		}
	}
	sub.expectFence(t, pub, "fence/p5")
	if n := ts.Stats().Dropped["denied"] - before; n != 5 {
		t.Errorf("%d publishes counted as denied, want 5", n)
	}

	late := connectV5(t, ts, v5Connect("p5-late"))
	late.subscribe(t, "feeds/#", 1)
	late.subscribe(t, "open/#", 1)
	late.subscribe(t, "fence/p5", 1)
	if m := late.expectMessage(t); m.Topic != "open/kept" || !m.Retain {
		t.Fatalf("got %q on %q (retain %v), want the retained open/kept only", m.Payload, m.Topic, m.Retain)
	}
	late.expectFence(t, pub, "fence/p5")
}

// TestACLPaho5Substitution checks %u and %c and the username and client
// id constraints with publishes of real clients.
func TestACLPaho5Substitution(t *testing.T) {
	ts := startServer(t, aclConfig(t))
	alice := connectV5(t, ts, withUser(v5Connect("alice-1"), "alice"))
	bob := connectV5(t, ts, withUser(v5Connect("bob-1"), "bob"))
	anon := connectV5(t, ts, v5Connect("anon-1"))
	ctl1 := connectV5(t, ts, v5Connect("ctl-1"))
	ctl2 := connectV5(t, ts, v5Connect("ctl-2"))
	rows := []struct {
		c     *v5Client
		topic string
		ok    bool
	}{
		{alice, "users/alice/t", true},
		{alice, "users/bob/t", false},
		{bob, "users/bob/t", true},
		{anon, "users/anon-1/t", false},
		{alice, "clients/alice-1/t", true},
		{alice, "clients/bob-1/t", false},
		{anon, "clients/anon-1/t", true},
		{alice, "admin/x", true},
		{bob, "admin/x", false},
		{ctl1, "ctl/x", true},
		{ctl2, "ctl/x", false},
		{anon, "nowhere", false}, // default deny
	}
	for _, row := range rows {
		code := row.c.publishCode(t, &paho.Publish{Topic: row.topic, QoS: 1, Payload: []byte("x")})
		if ok := code < 0x80; ok != row.ok {
			t.Errorf("client %q publish to %q: PUBACK 0x%02X, want allowed %v", row.c.ClientID(), row.topic, code, row.ok)
		}
	}
	// ctl-2 may subscribe to what it may not publish, and gets ctl-1's.
	ctl2.subscribe(t, "ctl/#", 1)
	ctl2.subscribe(t, "fence/sub", 1)
	ctl1.publish(t, &paho.Publish{Topic: "ctl/go", QoS: 1, Payload: []byte("go")})
	if m := ctl2.expectMessage(t); m.Topic != "ctl/go" {
		t.Fatalf("got %q, want ctl/go", m.Topic)
	}
	ctl2.expectFence(t, anon, "fence/sub")
}

// TestACLDefaultDeny checks an empty rule list with default deny
// refuses everything.
func TestACLDefaultDeny(t *testing.T) {
	cfg := testConfig(t)
	cfg.ACL = configs.ACL{Default: "deny"}
	ts := startServer(t, cfg)
	c := connectV5(t, ts, v5Connect("deny-all"))
	if got := c.subscribeCodes(t, "a", "#"); !slices.Equal(got, []byte{denied, denied}) {
		t.Errorf("SUBACK % X, want 87 87", got)
	}
	if code := c.publishCode(t, &paho.Publish{Topic: "a", QoS: 1}); code != denied {
		t.Errorf("PUBACK 0x%02X, want 0x87", code)
	}
}

// TestACLWill checks a will the client may not publish refuses its
// CONNECT: 0x87 for v5, return code 5 for 3.1.1. A $SYS will is refused
// whatever the rules.
func TestACLWill(t *testing.T) {
	ts := startServer(t, aclConfig(t))
	for _, topic := range []string{"feeds/w", "$SYS/broker/version"} {
		cp := v5Connect("will5-" + strings.ReplaceAll(topic, "/", "-"))
		cp.WillMessage = &paho.WillMessage{Topic: topic, QoS: 0, Payload: []byte("x")}
		_, ack, err := dialV5(t, ts, cp)
		if ack == nil || ack.ReasonCode != denied {
			t.Errorf("v5 will to %q: CONNACK %+v (%v), want 0x87", topic, ack, err)
		}
		_, ct, err := dialV3(t, ts, "will3-"+strings.ReplaceAll(topic, "/", "-"), func(o *mqtt3.ClientOptions) { o.SetWill(topic, "x", 0, false) })
		if ct.ReturnCode() != packets3.ErrRefusedNotAuthorised {
			t.Errorf("v3 will to %q: return code %d (%v), want 5", topic, ct.ReturnCode(), err)
		}
	}
	cp := v5Connect("will5-ok")
	cp.WillMessage = &paho.WillMessage{Topic: "open/w", QoS: 1, Payload: []byte("x")}
	connectV5(t, ts, cp)
}

// TestACLPaho3 checks 3.1.1 clients: a refused filter gets 0x80, a
// refused publish the normal acknowledgement (3.1.1 cannot say no) and is
// dropped [MQTT-3.3.5-2].
func TestACLPaho3(t *testing.T) {
	ts := startServer(t, aclConfig(t))
	sub := connectV3(t, ts, "acl3-sub", nil)
	if got := sub.subscribe(t, "open/#", 2); got != 2 {
		t.Errorf("allowed filter: granted %d, want 2", got)
	}
	if got := sub.subscribe(t, "secret/#", 1); got != mqtt.SubackFailureV3 {
		t.Errorf("refused filter: return code 0x%02X, want 0x80", got)
	}
	sub.subscribe(t, "feeds/#", 2)
	sub.subscribe(t, "fence/acl3", 1)
	pub := connectV3(t, ts, "acl3-pub", nil)
	before := ts.Stats().Dropped["denied"]
	pub.publish(t, "feeds/q1", 1, false, "x")
	pub.publish(t, "open/readonly", 2, false, "x")
	pub.publish(t, "feeds/q0", 0, false, "x")
	pub.publish(t, "feeds/r", 1, true, "x")
	pub.publish(t, "open/ok", 1, false, "ok")
	if m := sub.expectMessage(t); m.Topic() != "open/ok" {
		t.Fatalf("got %q on %q, want open/ok", m.Payload(), m.Topic())
	}
	sub.expectFence(t, pub, "fence/acl3")
	if n := ts.Stats().Dropped["denied"] - before; n != 4 {
		t.Errorf("%d publishes counted as denied, want 4", n)
	}
	late := connectV3(t, ts, "acl3-late", nil)
	late.subscribe(t, "feeds/#", 1)
	late.subscribe(t, "fence/acl3", 1)
	late.expectFence(t, pub, "fence/acl3") // feeds/r was not retained
}

// TestACLSetAuthorizer checks a plugin authorizer gets each connection's
// view and replaces the configured one while clients are connected.
func TestACLSetAuthorizer(t *testing.T) {
	cfg := testConfig(t)
	cfg.Auth.Users = []configs.User{{Username: "alice", PasswordHash: bcryptHash(t, "secret")}}
	ts := startServer(t, cfg)
	c := connectV5(t, ts, withUser(v5Connect("plug-1"), "alice"))
	if code := c.publishCode(t, &paho.Publish{Topic: "x/1", QoS: 1}); code >= 0x80 {
		t.Fatalf("default allow: PUBACK 0x%02X", code)
	}
	ca := &countingAuthorizer{allow: "ok/"}
	ts.SetAuthorizer(ca)
	for range 3 {
		if code := c.publishCode(t, &paho.Publish{Topic: "ok/1", QoS: 1}); code >= 0x80 {
			t.Fatalf("allowed: PUBACK 0x%02X", code)
		}
	}
	if code := c.publishCode(t, &paho.Publish{Topic: "x/1", QoS: 1}); code != denied {
		t.Fatalf("refused: PUBACK 0x%02X", code)
	}
	if n := ca.publish.Load(); n != 2 {
		t.Errorf("%d Authorize calls for 2 topics, want 2 (cached)", n)
	}
	ca.mu.Lock()
	v := ca.lastView
	ca.mu.Unlock()
	if v.ClientID() != "plug-1" || v.Username() != "alice" || !v.HasUsername() || v.ProtocolVersion() != mqtt.V5 || v.Listener() != "tcp" || v.Password() != nil {
		t.Errorf("view: %q %q %v %v %q %q", v.ClientID(), v.Username(), v.HasUsername(), v.ProtocolVersion(), v.Listener(), v.Password())
	}
	if got := c.subscribeCodes(t, "ok/#", "x/#"); !slices.Equal(got, []byte{granted1, denied}) {
		t.Errorf("SUBACK % X, want 01 87", got)
	}
	ts.SetAuthorizer(nil)
	if code := c.publishCode(t, &paho.Publish{Topic: "x/1", QoS: 1}); code >= 0x80 {
		t.Fatalf("nil authorizer: PUBACK 0x%02X", code)
	}
}
