package backend

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"edgemq/gateway/broker"
	"edgemq/gateway/cluster"
	"edgemq/gateway/cluster/clustertest"
	"edgemq/mqtt"
)

// BenchmarkSharedQoS1Member measures QoS 1 messages handed to the
// members of a shared subscription group on one node (as the node's
// ingress does for its NATS queue group, round robin), whose clients
// acknowledge each at once, with a window of 100: one member with at
// most 100 (its window: nothing queued) or 1,000 (the default
// max_offline_messages: its queue holds the rest) handed and not
// acknowledged, and 100 members with 1,000. Each PUBLISH leaves once its
// session's record lists it (shared.go), one record write per batch of
// a session. It reports the messages per second and the record writes
// per message.
func BenchmarkSharedQoS1Member(b *testing.B) {
	for _, c := range []struct{ members, outstanding int }{{1, 100}, {1, 1000}, {100, 1000}} {
		b.Run(fmt.Sprintf("members=%d/outstanding=%d", c.members, c.outstanding), func(b *testing.B) {
			benchSharedMembers(b, c.members, c.outstanding)
		})
	}
}

func benchSharedMembers(b *testing.B, members, outstanding int) {
	nc := clustertest.Start(b, 3)
	n := startNodesOn(b, nc, []int{0}, 3)[0]
	done := make(chan struct{})
	room := make(chan struct{}, outstanding) // handed, not acknowledged
	var acked atomic.Int64
	subs := n.be.Subscriptions()
	for k := range members {
		c, s := openBenchMember(b, n.testNode, k)
		_ = subs.Subscribing(func() error {
			subs.Subscribe(s, broker.NewSubscription(broker.SubOptions{Filter: "$share/g/bench/#", QoS: 1}))
			subs.RetainedSeq()
			return nil
		})
		go func() {
			for e := range c.ev {
				s.Acked(mqtt.PUBACK, e.pid, mqtt.Success, c)
				<-room
				if acked.Add(1) == int64(b.N) {
					close(done)
					return
				}
			}
		}()
	}
	writes0 := n.be.sess.outWrites.Load()
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		room <- struct{}{}
		now := time.Now()
		m := broker.NewMessage(&mqtt.Publish{QoS: 1, Topic: "bench/x", Payload: []byte(fmt.Sprint(i))}, "p", now)
		m.SetSeq(uint64(i + 1))
		if !n.b.RouteGroup("g", "bench/#", m, now) {
			b.Fatal("the group has no member")
		}
	}
	select {
	case <-done:
	case <-time.After(time.Minute):
		b.Fatal("not all messages acknowledged")
	}
	el := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/el.Seconds(), "msgs/s")
	b.ReportMetric(float64(n.be.sess.outWrites.Load()-writes0)/float64(b.N), "writes/msg")
}

// BenchmarkSharedAcrossNodes measures QoS 1 messages published on one
// node to a shared subscription group with a member on each of two
// other nodes, whose clients acknowledge each at once, end to end: the
// stream's write, the hand-out to a node (durable=on: the group's
// consumer, each message confirmed once its member's record lists it;
// off: the NATS queue group alone), the record write, the PUBLISH.
// Publishers keep up to 100 unacknowledged. It reports the messages
// per second received.
func BenchmarkSharedAcrossNodes(b *testing.B) {
	for _, durable := range []bool{true, false} {
		b.Run(fmt.Sprintf("durable=%v", durable), func(b *testing.B) {
			o := testShared()
			if !durable {
				o.DurableGroups = 0
			}
			benchSharedAcrossNodes(b, o)
		})
	}
}

func benchSharedAcrossNodes(b *testing.B, o SharedOptions) {
	nc := clustertest.Start(b, 3)
	nodes := startNodesOnWith(b, nc, []int{0, 1, 2}, 3, func(_ int, be *Backend) { be.SetShared(o) })
	pubNode := nodes[2]
	done := make(chan struct{})
	var got atomic.Int64
	for k, n := range nodes[:2] {
		c, s := openBenchMember(b, n.testNode, k)
		n.subscribe(b, s, "$share/g/bench/#", 0)
		go func() {
			for e := range c.ev {
				s.Acked(mqtt.PUBACK, e.pid, mqtt.Success, c)
				if got.Add(1) == int64(b.N) {
					close(done)
				}
			}
		}()
	}
	for _, s := range nc.Servers {
		clustertest.Eventually(b, func() bool { return s.Interest(cluster.TopicSubject("bench/x")) >= 2 },
			func() string { return fmt.Sprintf("server %s does not see both members", s.Name()) })
	}
	pub := pubNode.be.Publisher()
	window := make(chan struct{}, 100)
	var buf []broker.Match
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		window <- struct{}{}
		now := time.Now()
		end := pub.Begin()
		pub.RouteAt(broker.NewMessage(&mqtt.Publish{QoS: 1, PacketID: uint16(i%65535 + 1), Topic: "bench/x", Payload: []byte(fmt.Sprint(i))}, "p", now), &buf, now)
		pub.AfterCommit("p", func(err error) {
			if err != nil {
				b.Error(err)
			}
			<-window
		})
		end()
	}
	select {
	case <-done:
	case <-time.After(time.Minute):
		b.Fatalf("%d of %d messages received", got.Load(), b.N)
	}
	el := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/el.Seconds(), "msgs/s")
}

// openBenchMember opens the persistent session bench-member-k on n, held
// by a qosClient with room for every event of a run.
func openBenchMember(b *testing.B, n *testNode, k int) (*qosClient, *broker.Session) {
	b.Helper()
	c := newQoSClient()
	c.ev = make(chan qosEvent, 1<<16)
	s, _, err := n.be.Sessions().Open(broker.OpenRequest{ClientID: fmt.Sprintf("bench-member-%d", k), Expiry: 300, Client: c,
		Owner: &broker.Owner{Identity: "b"}}, func(*broker.Session, bool) {})
	if err != nil {
		b.Fatal(err)
	}
	return c, s
}
