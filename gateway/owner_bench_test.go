package gateway

import (
	"fmt"
	"testing"

	"edgemq/configs"
	"edgemq/mqtt"
)

// BenchmarkPublishPathACL is BenchmarkPublishPath under a static ACL with
// %u rules, the case where every delivery is checked against its
// session owner's read permission (owner.go): the decision is cached per
// subscription, so the rules are evaluated once per subscription, not
// per message.
func BenchmarkPublishPathACL(b *testing.B) {
	acl := configs.ACL{Default: "deny", Rules: []configs.ACLRule{
		{Permission: "allow", Action: "all", Topic: "users/%u/#"},
		{Permission: "deny", Action: "all", Topic: "bench/%u/secret"},
		{Permission: "allow", Action: "all", Topic: "bench/#"},
	}}
	for _, qos := range []byte{0, 1} {
		for _, k := range []int{1, 100} {
			b.Run(fmt.Sprintf("qos%d/subscribers=%d", qos, k), func(b *testing.B) {
				e := benchEngine(b)
				e.acl.set(mustStaticACL(b, acl))
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
