package conn

// Benchmarks of the message path through the connection layer: the
// inbound PUBLISH through the channel to the subscribers' write queues and
// writers, one delivery's encoding, and the publish limiter.

import (
	"context"
	"edgemq/configs"
	"edgemq/gateway/acl"
	"edgemq/gateway/auth"
	"edgemq/gateway/broker"
	"edgemq/gateway/limits"
	"edgemq/gateway/proto"
	"edgemq/listeners"
	"edgemq/mqtt"
	"fmt"
	"net"
	"testing"
	"time"

	"go.uber.org/zap"
)

// discardConn is a connection whose writes all succeed and go nowhere,
// so that benchmarks run the real write queue and encoder without a
// socket.
type discardConn struct{ net.Conn }

func (discardConn) Write(b []byte) (int, error)      { return len(b), nil }
func (discardConn) SetWriteDeadline(time.Time) error { return nil }
func (discardConn) SetReadDeadline(time.Time) error  { return nil }
func (discardConn) Close() error                     { return nil }

// benchEngine is the engine of the default configuration, with a broker
// of at most 1000 pending messages per session, allowing all.
func benchEngine(tb testing.TB) *proto.Engine {
	tb.Helper()
	cfg, err := configs.Default()
	if err != nil {
		tb.Fatal(err)
	}
	st := &proto.Stats{}
	b := broker.New(broker.Config{MaxPending: 1000, Clock: proto.WallClock{}}, &st.Counters, proto.OwnerReads{}, zap.NewNop())
	e, err := proto.NewEngine(cfg, proto.EngineConfig{Broker: b, Stats: st, Log: zap.NewNop()})
	if err != nil {
		tb.Fatal(err)
	}
	e.SetAuthorizer(nil) // allow all
	return e
}

// benchChannel connects a 3.1.1 client id on a channel of e whose
// packets go to out, as the connection's handshake does: its user name is
// id too, for ACL %u rules.
func benchChannel(tb testing.TB, e *proto.Engine, out proto.Outbound, wire *proto.Wire, id string) *proto.Channel {
	tb.Helper()
	prof, err := proto.NewProfile(mustDefault(tb).MQTT)
	if err != nil {
		tb.Fatal(err)
	}
	ch := &proto.Channel{}
	ch.Init(e, proto.ChannelConfig{Meta: &listeners.Meta{Listener: "tcp"}, Profile: prof, Auth: auth.NewChain(false, auth.Backend{Authenticator: allowAuth{}, Kind: auth.KindPlugin}),
		Out: out, Wire: wire, Log: zap.NewNop()})
	c := &mqtt.Connect{Version: mqtt.V311, ClientID: id, CleanStart: true, KeepAlive: 60, UsernameFlag: true, Username: id}
	if step := ch.Connect(context.Background(), c); !step.Connected {
		tb.Fatalf("%s not connected", id)
	}
	return ch
}

// allowAuth is an authenticator that lets every client in.
type allowAuth struct{}

func (allowAuth) Authenticate(context.Context, auth.ConnInfo) error { return nil }

// benchQueueSession makes a connected 3.1.1 session whose channel writes
// through a real write queue (batch pool included: pool, shared by the
// sessions of a run as a server's are) to a discardConn.
func benchQueueSession(tb testing.TB, e *proto.Engine, pool *BatchPool, id string) *broker.Session {
	tb.Helper()
	enc := encoder{Wire: proto.Wire{Version: mqtt.V311, ProblemInfo: true}, stats: e.Stats()}
	q := newWriteQueue(discardConn{}, enc, QueueLimits{Items: 1000})
	q.batches = pool
	return benchChannel(tb, e, q, &q.enc.Wire, id).Session()
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
				var pool BatchPool
				if acl != nil {
					e.SetAuthorizer(mustStaticACL(b, *acl))
				}
				for i := range k {
					s := benchQueueSession(b, e, &pool, fmt.Sprintf("c%d", i))
					// QoS 0 subscriptions: the subscribers need no acks
					// to stay in a steady state.
					e.Broker().Subscribe(s, broker.NewSubscription(broker.SubOptions{Filter: "bench/+/data"}))
				}
				pub := benchChannel(b, e, discardOut{}, &proto.Wire{}, "pub")
				payload := make([]byte, 64)
				b.ReportAllocs()
				for i := 0; b.Loop(); i++ {
					p := &mqtt.Publish{QoS: qos, Topic: "bench/dev-1/data", Payload: payload}
					if qos > 0 {
						p.PacketID = uint16(i%65535) + 1
					}
					if err := pub.Handle(p); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(k), "deliveries/op")
			})
		}
	}
}

// discardOut is an outbound that accepts and drops everything, so that
// benchmarks measure the engine and not a socket.
type discardOut struct{}

func (discardOut) Send(mqtt.Packet) bool                       { return true }
func (discardOut) Deliver(*broker.Delivery) bool               { return true }
func (discardOut) Ack(mqtt.Type, uint16, mqtt.ReasonCode) bool { return true }
func (discardOut) Close(mqtt.Packet)                           {}
func (discardOut) Room() broker.QueueRoom                      { return broker.QueueRoom{Items: 1 << 20} }
func (discardOut) SetRefill(func())                            {}

// mustDefault is the default configuration.
func mustDefault(tb testing.TB) *configs.Config {
	tb.Helper()
	cfg, err := configs.Default()
	if err != nil {
		tb.Fatal(err)
	}
	return cfg
}

// benchACL is a static ACL with %u rules that allows the benchmarks'
// topics: each decision expands both %u rules before the third allows
// (gateway/proto's route benchmarks use the same).
var benchACL = configs.ACL{Default: "deny", Rules: []configs.ACLRule{
	{Permission: "allow", Action: "all", Topic: "users/%u/#"},
	{Permission: "deny", Action: "all", Topic: "bench/%u/secret"},
	{Permission: "allow", Action: "all", Topic: "#"},
}}

// BenchmarkPublishPathACL is BenchmarkPublishPath under benchACL, where
// every delivery is checked against its session owner's read permission
// (proto/owner.go): the decision is cached per subscription, so the rules
// are evaluated once per subscription, not per message.
func BenchmarkPublishPathACL(b *testing.B) { benchPublishPath(b, &benchACL) }

// BenchmarkDeliveryEncode encodes one delivery for a connection: the
// per-message, per-subscriber cost of the write path. The payload is
// referenced (writev) from 512 bytes on, copied below.
func BenchmarkDeliveryEncode(b *testing.B) {
	for _, tc := range []struct {
		v    mqtt.Version
		size int
		qos  byte
	}{{mqtt.V311, 64, 0}, {mqtt.V5, 64, 1}, {mqtt.V5, 4096, 1}} {
		b.Run(fmt.Sprintf("v%d/%dB/qos%d", tc.v, tc.size, tc.qos), func(b *testing.B) {
			enc := &encoder{Wire: proto.Wire{Version: tc.v, ProblemInfo: true}, stats: &proto.Stats{}, writev: true}
			m := broker.NewMessage(&mqtt.Publish{Topic: "sensors/site-1/device-42/temp", Payload: make([]byte, tc.size), QoS: tc.qos}, "", time.Now())
			items := []outItem{{d: m.DeliveryFor(tc.qos, false, nil)}}
			var bt batch
			b.SetBytes(int64(tc.size))
			b.ReportAllocs()
			for b.Loop() {
				bt.reset()
				enc.encode(&bt, items)
			}
		})
	}
}

// BenchmarkPublishLimiter measures the limiter on a publish within the
// rate (allocations should be 0), and the read path without one.
func BenchmarkPublishLimiter(b *testing.B) {
	rl := limits.NewRateLimits(zap.NewNop())
	pub := &mqtt.Publish{Topic: "t", Payload: make([]byte, 100)}
	for _, bc := range []struct {
		name string
		lim  *limits.PubLimiter
	}{
		{"within", rl.NewLimiter("tcp", configs.PublishRate{MessagesPerSecond: 1e12, BytesPerSecond: 1e15})},
		{"off", rl.NewLimiter("tcp", configs.PublishRate{})},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c := &Conn{lim: bc.lim}
			b.ReportAllocs()
			for b.Loop() {
				if c.lim != nil {
					if err := c.throttle(pub); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// mustStaticACL is acl.NewStatic of a, failing tb on an error.
func mustStaticACL(tb testing.TB, a configs.ACL) acl.Authorizer {
	tb.Helper()
	authz, err := acl.NewStatic(a)
	if err != nil {
		tb.Fatalf("acl.NewStatic: %v", err)
	}
	return authz
}
