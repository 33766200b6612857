package gateway

import (
	"fmt"
	"net"
	"testing"
	"time"

	"edgemq/configs"
	"edgemq/gateway/broker"
	"edgemq/gateway/proto"
	"edgemq/listeners"
	"edgemq/mqtt"
)

// discardConn is a connection whose writes all succeed and go nowhere,
// so that benchmarks run the real write queue and encoder without a
// socket.
type discardConn struct{ net.Conn }

func (discardConn) Write(b []byte) (int, error)      { return len(b), nil }
func (discardConn) SetWriteDeadline(time.Time) error { return nil }
func (discardConn) SetReadDeadline(time.Time) error  { return nil }
func (discardConn) Close() error                     { return nil }

// benchQueueSession makes a connected 3.1.1 session whose channel writes
// through a real write queue (batch pool included: pool, shared by the
// sessions of a run as a server's are) to a discardConn.
func benchQueueSession(tb testing.TB, e *engine, pool *batchPool, id string) *broker.Session {
	tb.Helper()
	enc := &encoder{Wire: proto.Wire{Version: mqtt.V311, ProblemInfo: true}, stats: e.stats}
	q := newWriteQueue(discardConn{}, enc, queueLimits{items: 1000}, time.Minute, e.stats)
	q.batches = pool
	ch := &channel{out: q, env: e}
	ch.neg = Negotiated{Version: mqtt.V311, OutboundInflight: 32, MaximumQoS: 2}
	// The client id is its user name too, for ACL %u rules.
	ch.acl.SetView(testView(&listeners.Meta{Listener: "tcp"}, mqtt.V311, id, id))
	s, _, _ := e.broker.Open(broker.OpenRequest{ClientID: id, Clean: true, Client: ch, Owner: ch.ownerOf()}, func(*broker.Session, bool) {})
	ch.sess = s
	return s
}

// BenchmarkPublishPath is the inbound PUBLISH path after decoding: the
// publisher's checks, newMessage, route, each subscriber's delivery into
// its write queue, the writers encoding and writing, and the publisher's
// PUBACK at QoS 1. Allocations are per published message; QoS 0 ones at
// the subscribers' writers are counted too (they run meanwhile).
func BenchmarkPublishPath(b *testing.B) { benchPublishPath(b, nil) }

// benchPublishPath is BenchmarkPublishPath, under acl when it is not nil
// (BenchmarkPublishPathACL; the publisher then has a user name for the
// %u rules).
func benchPublishPath(b *testing.B, acl *configs.ACL) {
	for _, qos := range []byte{0, 1} {
		for _, k := range []int{1, 100} {
			b.Run(fmt.Sprintf("qos%d/subscribers=%d", qos, k), func(b *testing.B) {
				e := benchEngine(b)
				var pool batchPool
				if acl != nil {
					e.setAuthorizer(mustStaticACL(b, *acl))
				}
				for i := range k {
					s := benchQueueSession(b, e, &pool, fmt.Sprintf("c%d", i))
					// QoS 0 subscriptions: the subscribers need no acks
					// to stay in a steady state.
					e.broker.Subscribe(s, broker.NewSubscription(broker.SubOptions{Filter: "bench/+/data"}))
				}
				pub := &channel{env: e, out: discardOut{}, prof: &proto.Profile{}}
				pub.neg = Negotiated{Version: mqtt.V311, MaximumQoS: 2, ClientID: "pub"}
				if acl != nil {
					pub.acl.SetView(testView(nil, 0, "pub", "pub"))
				}
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
