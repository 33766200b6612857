package backend

import (
	"fmt"
	"testing"
	"time"

	"edgemq/gateway/broker"
	"edgemq/gateway/cluster/clustertest"
	"edgemq/mqtt"
)

// BenchmarkQoS2Outbound measures QoS 2 messages delivered to one session
// whose client completes each exchange at once (PUBREC, then PUBCOMP on
// PUBREL), with a window of 100: every PUBLISH and PUBREL waits for the
// session's record to hold it (outflight.go), one record write per
// batch. It reports the messages per second and the record writes per
// message.
func BenchmarkQoS2Outbound(b *testing.B) {
	nc := clustertest.Start(b, 3)
	n := startNodesOn(b, nc, []int{0}, 3)[0]
	c := newQoSClient()
	c.ev = make(chan qosEvent, 1<<16)
	s, _, err := n.be.Sessions().Open(broker.OpenRequest{ClientID: "bench-q2", Expiry: 300, Client: c, Owner: &broker.Owner{Identity: "b"}},
		func(*broker.Session, bool) {})
	if err != nil {
		b.Fatal(err)
	}
	subs := n.be.Subscriptions()
	_ = subs.Subscribing(func() error {
		subs.Subscribe(s, broker.NewSubscription(broker.SubOptions{Filter: "bench/#", QoS: 2}))
		subs.RetainedSeq()
		return nil
	})
	done := make(chan struct{})
	go func() {
		completed := 0
		for e := range c.ev {
			if e.rel {
				s.Acked(mqtt.PUBCOMP, e.pid, mqtt.Success, c)
				if completed++; completed == b.N {
					close(done)
					return
				}
				continue
			}
			s.Acked(mqtt.PUBREC, e.pid, mqtt.Success, c)
		}
	}()
	writes0 := n.be.sess.outWrites.Load()
	b.ResetTimer()
	start := time.Now()
	var buf []broker.Match
	for i := range b.N {
		m := broker.NewMessage(&mqtt.Publish{QoS: 2, Topic: "bench/x", Payload: []byte(fmt.Sprint(i))}, "p", time.Now())
		m.SetSeq(uint64(i + 1))
		n.b.Route(m, &buf)
	}
	select {
	case <-done:
	case <-time.After(time.Minute):
		b.Fatal("not all exchanges completed")
	}
	el := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/el.Seconds(), "msgs/s")
	b.ReportMetric(float64(n.be.sess.outWrites.Load()-writes0)/float64(b.N), "writes/msg")
}
