package gateway

import (
	"fmt"
	"testing"
	"time"

	"edgemq/configs"
	"edgemq/mqtt"
)

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
func BenchmarkRouteFanoutACL(b *testing.B) {
	for _, k := range []int{1, 100, 1000} {
		b.Run(fmt.Sprintf("subscribers=%d", k), func(b *testing.B) {
			e := benchEngine(b)
			e.acl.set(mustStaticACL(b, benchACL))
			for i := range k {
				s := benchSession(b, e.sessions, fmt.Sprintf("c%d", i))
				e.router.subscribe(s, &subscription{filter: "fan/+/out", qos: 0})
			}
			payload := make([]byte, 64)
			var buf []match
			b.ReportAllocs()
			for b.Loop() {
				m := newMessage(&mqtt.Publish{Topic: "fan/x/out", Payload: payload}, "pub", time.Now())
				if got := e.route(m, &buf); got != k {
					b.Fatalf("routed to %d, want %d", got, k)
				}
			}
			b.ReportMetric(float64(k), "deliveries/op")
		})
	}
}

// BenchmarkPublishPathACL is BenchmarkPublishPath under benchACL, the case where every delivery is checked against its
// session owner's read permission (owner.go): the decision is cached per
// subscription, so the rules are evaluated once per subscription, not
// per message.
func BenchmarkPublishPathACL(b *testing.B) {
	for _, qos := range []byte{0, 1} {
		for _, k := range []int{1, 100} {
			b.Run(fmt.Sprintf("qos%d/subscribers=%d", qos, k), func(b *testing.B) {
				e := benchEngine(b)
				e.acl.set(mustStaticACL(b, benchACL))
				for i := range k {
					s := benchQueueSession(b, e, fmt.Sprintf("c%d", i))
					e.router.subscribe(s, &subscription{filter: "bench/+/data", qos: 0})
				}
				pub := &channel{env: e, out: discardOut{}, prof: &profile{}}
				pub.neg = Negotiated{Version: mqtt.V311, MaximumQoS: 2, ClientID: "pub"}
				pub.acl.view = aclView{clientID: "pub", username: "pub", hasUsername: true}
				payload := make([]byte, 64)
				b.ReportAllocs()
				for i := 0; b.Loop(); i++ {
					p := &mqtt.Publish{QoS: qos, Topic: "bench/dev-1/data", Payload: payload}
					if qos > 0 {
						p.PacketID = uint16(i%65535) + 1
					}
					if err := pub.publish(p); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(k), "deliveries/op")
			})
		}
	}
}
