package proto

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"edgemq/configs"
	"edgemq/gateway/acl"
	"edgemq/gateway/broker"
	"edgemq/listeners"
	"edgemq/mqtt"
)

// discardOut is an outbound that accepts and drops everything, so that
// benchmarks measure the engine and not a socket.
type discardOut struct{}

func (discardOut) Send(mqtt.Packet) bool                       { return true }
func (discardOut) Deliver(*broker.Delivery) bool               { return true }
func (discardOut) Ack(mqtt.Type, uint16, mqtt.ReasonCode) bool { return true }
func (discardOut) Close(mqtt.Packet)                           {}
func (discardOut) Room() broker.QueueRoom                      { return broker.QueueRoom{Items: 1 << 20} }
func (discardOut) SetRefill(func())                            {}

// benchSession makes a connected session whose channel discards its
// packets.
func benchSession(tb testing.TB, e *Engine, id string) *broker.Session {
	tb.Helper()
	ch := &Channel{out: discardOut{}, env: e}
	ch.neg = Negotiated{Version: mqtt.V5, OutboundInflight: 65535, ClientReceiveMaximum: 65535}
	// The client id is its user name too, for ACL %u rules.
	ch.acl.SetView(testView(&listeners.Meta{Listener: "tcp"}, mqtt.V5, id, id))
	s, _, _ := e.broker.Open(broker.OpenRequest{ClientID: id, Clean: true, Client: ch, Owner: ch.ownerOf()}, func(*broker.Session, bool) {})
	ch.sess = s
	return s
}

func benchEngine(tb testing.TB) *Engine {
	tb.Helper()
	return testEngine() // acl_test.go: allow all
}

// BenchmarkMatch1M matches topics against a trie of one million
// subscriptions, most of them with wildcards: 1,000 sessions, each with
// 1,000 filters of the shapes devices see (site/+/device/+/temp,
// site/N/#, +/N/device/M/#, exact topics).
func BenchmarkMatch1M(b *testing.B) {
	e := benchEngine(b)
	const sessions, perSession = 1000, 1000
	for i := range sessions {
		s := benchSession(b, e, fmt.Sprintf("c%d", i))
		for j := range perSession {
			var f string
			switch j % 4 {
			case 0:
				f = fmt.Sprintf("site/%d/device/+/temp/%d", i, j)
			case 1:
				f = fmt.Sprintf("site/%d/device/%d/#", i, j)
			case 2:
				f = fmt.Sprintf("+/%d/device/%d/#", i, j)
			default:
				f = fmt.Sprintf("site/%d/device/%d/temp", i, j)
			}
			e.broker.Subscribe(s, broker.NewSubscription(broker.SubOptions{Filter: f, QoS: 1}))
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	topics := make([]string, 1024)
	for i := range topics {
		topics[i] = fmt.Sprintf("site/%d/device/%d/temp", rng.IntN(sessions), rng.IntN(perSession))
	}
	var buf []broker.Match
	b.ReportAllocs()
	b.ResetTimer()
	found := 0
	for i := 0; b.Loop(); i++ {
		buf = e.broker.Matches(buf[:0], topics[i%len(topics)])
		found += len(buf)
	}
	b.ReportMetric(float64(found)/float64(b.N), "matches/op")
}

// BenchmarkRouteFanout routes one QoS 0 message to K subscribers of the
// same filter, through the sessions to their (discarding) connections.
func BenchmarkRouteFanout(b *testing.B) { benchRouteFanout(b, nil) }

// benchRouteFanout is BenchmarkRouteFanout, under acl when it is not nil
// (BenchmarkRouteFanoutACL).
func benchRouteFanout(b *testing.B, acl *configs.ACL) {
	for _, k := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("subscribers=%d", k), func(b *testing.B) {
			e := benchEngine(b)
			if acl != nil {
				e.SetAuthorizer(mustStaticACL(b, *acl))
			}
			for i := range k {
				s := benchSession(b, e, fmt.Sprintf("c%d", i))
				e.broker.Subscribe(s, broker.NewSubscription(broker.SubOptions{Filter: "fan/+/out"}))
			}
			payload := make([]byte, 64)
			var buf []broker.Match
			b.ReportAllocs()
			for b.Loop() {
				m := broker.NewMessage(&mqtt.Publish{Topic: "fan/x/out", Payload: payload}, "pub", time.Now())
				if got := e.broker.Route(m, &buf); got != k {
					b.Fatalf("routed to %d, want %d", got, k)
				}
			}
			b.ReportMetric(float64(k), "deliveries/op")
		})
	}
}

// BenchmarkConnectPipeline runs validate → negotiate for a v5 CONNECT
// with properties, without a socket.
func BenchmarkConnectPipeline(b *testing.B) {
	cfg, err := configs.Default()
	if err != nil {
		b.Fatal(err)
	}
	p, err := NewProfile(cfg.MQTT)
	if err != nil {
		b.Fatal(err)
	}
	c := &mqtt.Connect{Version: mqtt.V5, ClientID: "bench-client", KeepAlive: 60, CleanStart: true}
	c.Properties.SetUint32(mqtt.PropSessionExpiryInterval, 3600)
	c.Properties.SetUint16(mqtt.PropReceiveMaximum, 100)
	b.ReportAllocs()
	for b.Loop() {
		var n Negotiated
		var ack mqtt.Properties
		if err := ValidateConnect(c, p, &n); err != nil {
			b.Fatal(err)
		}
		if err := Negotiate(c, p, &n, &ack); err != nil {
			b.Fatal(err)
		}
	}
	_ = time.Now
}

// benchACL is a static ACL with %u rules that allows the benchmarks'
// topics: each decision expands both %u rules before the third allows.
var benchACL = configs.ACL{Default: "deny", Rules: []configs.ACLRule{
	{Permission: "allow", Action: "all", Topic: "users/%u/#"},
	{Permission: "deny", Action: "all", Topic: "bench/%u/secret"},
	{Permission: "allow", Action: "all", Topic: "#"},
}}

// BenchmarkRouteFanoutACL is BenchmarkRouteFanout under benchACL: each
// delivery is checked against its session owner's read permission, from
// the subscription's cached decision.
func BenchmarkRouteFanoutACL(b *testing.B) { benchRouteFanout(b, &benchACL) }

// mustStaticACL is acl.NewStatic of a, failing tb on an error.
func mustStaticACL(tb testing.TB, a configs.ACL) acl.Authorizer {
	tb.Helper()
	authz, err := acl.NewStatic(a)
	if err != nil {
		tb.Fatalf("acl.NewStatic: %v", err)
	}
	return authz
}
