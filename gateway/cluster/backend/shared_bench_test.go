package backend

import (
	"fmt"
	"testing"
	"time"

	"edgemq/gateway/broker"
	"edgemq/gateway/cluster/clustertest"
	"edgemq/mqtt"
)

// BenchmarkSharedQoS1Member measures QoS 1 messages handed to the one
// member of a shared subscription group (as the node's ingress does for
// its NATS queue group) whose client acknowledges each at once, with a
// window of 100, with at most 100 (the window: nothing queued) or 1,000
// (the default max_offline_messages: a member's queue holds the rest)
// handed and not acknowledged: each PUBLISH leaves once the session's
// record lists it (shared.go), one record write per batch. It reports
// the messages per second and the record writes per message.
func BenchmarkSharedQoS1Member(b *testing.B) {
	for _, outstanding := range []int{100, 1000} {
		b.Run(fmt.Sprintf("outstanding=%d", outstanding), func(b *testing.B) { benchSharedMember(b, outstanding) })
	}
}

func benchSharedMember(b *testing.B, outstanding int) {
	nc := clustertest.Start(b, 3)
	n := startNodesOn(b, nc, []int{0}, 3)[0]
	c := newQoSClient()
	c.ev = make(chan qosEvent, 1<<16)
	s, _, err := n.be.Sessions().Open(broker.OpenRequest{ClientID: "bench-member", Expiry: 300, Client: c, Owner: &broker.Owner{Identity: "b"}},
		func(*broker.Session, bool) {})
	if err != nil {
		b.Fatal(err)
	}
	subs := n.be.Subscriptions()
	_ = subs.Subscribing(func() error {
		subs.Subscribe(s, broker.NewSubscription(broker.SubOptions{Filter: "$share/g/bench/#", QoS: 1}))
		subs.RetainedSeq()
		return nil
	})
	done := make(chan struct{})
	room := make(chan struct{}, outstanding) // handed, not acknowledged
	go func() {
		acked := 0
		for e := range c.ev {
			s.Acked(mqtt.PUBACK, e.pid, mqtt.Success, c)
			<-room
			if acked++; acked == b.N {
				close(done)
				return
			}
		}
	}()
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
