package proto

// Tests of the channel's side of authorization (acl.go).

import (
	"edgemq/configs"
	"edgemq/gateway/acl"
	"edgemq/gateway/auth"
	"edgemq/gateway/broker"
	"edgemq/listeners"
	"edgemq/mqtt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"go.uber.org/zap"
)

// aclChannel is a connected channel of clientID for username, socket
// free, on an engine with authorizer a.
func aclChannel(a acl.Authorizer, clientID, username string) *Channel {
	eng := testEngine()
	eng.SetAuthorizer(a)
	ch := &Channel{env: eng, log: zap.NewNop()}
	ch.acl.SetView(testView(&listeners.Meta{Listener: "tcp"}, mqtt.V5, clientID, username))
	return ch
}

// testView is the ACL view of a client clientID of username ("" for
// none) that connected with version on the connection of meta.
func testView(meta *listeners.Meta, version mqtt.Version, clientID, username string) acl.View {
	return acl.NewView(meta, &mqtt.Connect{Version: version, Username: username, UsernameFlag: username != ""}, clientID, "")
}

// testEngine is an engine without a configuration: a broker of at most
// 1000 pending messages per session, allow all, the wall clock.
func testEngine() *Engine {
	st := &Stats{}
	e := &Engine{stats: st, log: zap.NewNop(), clock: WallClock{}}
	e.setBroker(broker.New(broker.Config{MaxPending: 1000, Clock: e.clock}, &st.Counters, OwnerReads{}, zap.NewNop()), Seams{})
	e.SetAuthorizer(nil) // allow all
	return e
}

// countingAuthorizer counts publish decisions and allows topics under
// allow.
type countingAuthorizer struct {
	allow    string
	publish  atomic.Int64
	mu       sync.Mutex
	lastView acl.ConnInfo
}

func (c *countingAuthorizer) Authorize(ci acl.ConnInfo, a acl.Action, topic string, _ byte, _ bool) bool {
	if a == acl.ActionPublish {
		c.publish.Add(1)
	}
	c.mu.Lock()
	c.lastView = ci
	c.mu.Unlock()
	return strings.HasPrefix(topic, c.allow)
}

// TestChannelACL: the channel's side of authorization (acl.go) over the
// acl package: publish decisions are cached per connection (a cache hit
// costs no allocation) and dropped when the authorizer is replaced, $SYS
// and the credential's claims refuse before the authorizer, and the
// authorizer sees the client's view.
func TestChannelACL(t *testing.T) {
	ca := &countingAuthorizer{allow: "ok/"}
	ch := aclChannel(ca, "chan-1", "alice")
	pub := func(topic string) bool { return ch.mayPublish(&mqtt.Publish{Topic: topic, QoS: 1}) }
	if !pub("ok/a") || !pub("ok/a") || pub("no/a") || pub("$SYS/x") {
		t.Fatal("wrong decisions")
	}
	if n := ca.publish.Load(); n != 2 {
		t.Errorf("%d Authorize calls, want 2 (cached, $SYS refused before)", n)
	}
	p := &mqtt.Publish{Topic: "ok/a", QoS: 1}
	if n := testing.AllocsPerRun(100, func() { ch.mayPublish(p) }); n != 0 {
		t.Errorf("%v allocations per cached publish decision", n)
	}
	if v := ca.lastView; v.ClientID() != "chan-1" || v.Username() != "alice" || v.Listener() != "tcp" {
		t.Errorf("view: client %q user %q listener %q", v.ClientID(), v.Username(), v.Listener())
	}
	ch.credOrNew().acl = &auth.ACLClaims{Pub: []string{"ok/b"}, Sub: []string{"ok/#"}}
	if pub("ok/a") || !pub("ok/b") {
		t.Error("the credential's claims do not narrow the publish decisions")
	}
	for filter, want := range map[string]bool{"ok/+": true, "$share/g/ok/#": true, "no/#": false, "#": false} {
		if got := ch.maySubscribe(&mqtt.Subscription{Filter: filter, QoS: 1}); got != want {
			t.Errorf("maySubscribe(%q) = %v, want %v", filter, got, want)
		}
	}
	ch.env.SetAuthorizer(&countingAuthorizer{allow: "nothing/"})
	if pub("ok/b") {
		t.Error("decision of the replaced authorizer still used")
	}
}

// TestEngineAuthorizerOneHolder: the authorizer in force is held once,
// by the broker's read policy: the channel's decisions and the broker's
// read check see the same state, a new one after SetAuthorizer and after
// RenewAuthorizer (so that both drop what they cached), of the same
// authorizer after a renewal.
func TestEngineAuthorizerOneHolder(t *testing.T) {
	e := testEngine()
	held := func() *acl.State {
		t.Helper()
		st, ok := e.Broker().Reads().Policy().State.(*acl.State)
		if !ok {
			t.Fatalf("the read policy's state is %T, want *acl.State", e.Broker().Reads().Policy().State)
		}
		if st != e.Authorizer() {
			t.Fatalf("the channel's authorizer state %p is not the read policy's %p", e.Authorizer(), st)
		}
		return st
	}
	if !held().AllowsAll() {
		t.Fatal("testEngine's authorizer does not allow all")
	}
	deny := mustStaticACL(t, configs.ACL{Default: "deny"})
	e.SetAuthorizer(deny)
	first := held()
	if first.AllowsAll() || first.Authorizer() != deny {
		t.Fatalf("after SetAuthorizer: allows all %v, authorizer %v", first.AllowsAll(), first.Authorizer())
	}
	e.RenewAuthorizer()
	renewed := held()
	if renewed == first || renewed.Authorizer() != deny {
		t.Errorf("after RenewAuthorizer: same state %v, authorizer %v", renewed == first, renewed.Authorizer())
	}
}
