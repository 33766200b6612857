package gateway

import (
	"bufio"
	"fmt"
	"slices"
	"testing"
	"time"

	"edgemq/configs"
	"edgemq/gateway/cluster"
	"edgemq/mqtt"
)

// BenchmarkClusterInterestWindow measures, on loopback, how long after a
// SUBACK on one node the other NATS servers of a three-node cluster have
// the new subscription's interest: the window in which a message
// published on another node does not reach the new subscriber yet
// (NATS spreads interest between its servers asynchronously; SUBACK
// waits only for the node's own server). Reported: the share of
// SUBACKs after which a server still lacked the interest, the window's
// p50, p99 and max (0 where none lacked it; polled every 20µs or so), and
// SUBSCRIBE→SUBACK, in µs.
//
//	go test -run '^$' -bench ClusterInterestWindow -benchtime 200x ./gateway/
func BenchmarkClusterInterestWindow(b *testing.B) {
	c := startCluster(b, 3, nil)
	sub := connectV5(b, c.nodes[1], v5Connect("window"))
	others := []*cluster.Embedded{c.nats.Servers[0], c.nats.Servers[2]}
	windows := make([]time.Duration, 0, b.N)
	subacks := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		topic := fmt.Sprintf("window/%d", i)
		subject := cluster.TopicSubject(topic)
		start := time.Now()
		sub.subscribe(b, topic, 0)
		acked := time.Now()
		deadline := acked.Add(eventTimeout)
		polled := false
		for _, s := range others {
			for s.Interest(subject) == 0 {
				polled = true
				if time.Now().After(deadline) {
					b.Fatalf("no interest in %s on %s", subject, s.Name())
				}
				time.Sleep(20 * time.Microsecond) // a busy loop would starve the servers of a core
			}
		}
		var window time.Duration
		if late := time.Since(acked); polled {
			window = late
		}
		windows = append(windows, window)
		subacks = append(subacks, acked.Sub(start))
	}
	b.StopTimer()
	pct := func(ds []time.Duration, p float64) float64 {
		slices.Sort(ds)
		return float64(ds[int(p*float64(len(ds)-1))].Microseconds())
	}
	late := 0
	for _, w := range windows {
		if w > 0 {
			late++
		}
	}
	b.ReportMetric(100*float64(late)/float64(len(windows)), "late-%")
	b.ReportMetric(pct(windows, 0.5), "window-p50-µs")
	b.ReportMetric(pct(windows, 0.99), "window-p99-µs")
	b.ReportMetric(pct(windows, 1), "window-max-µs")
	b.ReportMetric(pct(subacks, 0.5), "suback-p50-µs")
	b.ReportMetric(pct(subacks, 0.99), "suback-p99-µs")
}

// BenchmarkClusterCrossNode measures one publisher on node e1 to one
// subscriber on node e2 of a three-node cluster (replicas 3, sync
// always), and beside it the same on a single node, with MQTT 5.0
// clients speaking the edgemq codec over TCP: QoS 0 (core NATS) with the
// publisher writing as fast as it can, and QoS 1 (the messages stream)
// with up to 1,000 unacknowledged PUBLISHes in flight; the subscriber's
// queues hold a whole run, so that what is measured is the path, not the
// drop policy of a full queue. Reported: messages per second delivered,
// and the share lost.
//
//	go test -run '^$' -bench ClusterCrossNode -benchtime 20000x ./gateway/
func BenchmarkClusterCrossNode(b *testing.B) {
	roomy := func(cfg *configs.Config) {
		cfg.Session.MaxOfflineMessages = 1 << 20
		cfg.Session.MaxOutboundQueue = 1 << 20
	}
	for _, qos := range []byte{0, 1} {
		b.Run(fmt.Sprintf("qos%d/cluster", qos), func(b *testing.B) {
			c := startCluster(b, 3, func(_ int, cfg *configs.Config) { roomy(cfg) })
			benchPubSub(b, c.nodes[0], c.nodes[1], qos, c.waitInterest)
		})
		b.Run(fmt.Sprintf("qos%d/single", qos), func(b *testing.B) {
			cfg := testConfig(b)
			roomy(cfg)
			ts := startServer(b, cfg)
			benchPubSub(b, ts, ts, qos, func(testing.TB, string) {})
		})
	}
}

// benchPubSub measures one publisher on pubTS to one subscriber on subTS
// (BenchmarkClusterCrossNode); waitInterest waits until a message to a
// topic reaches subTS.
func benchPubSub(b *testing.B, pubTS, subTS *testServer, qos byte, waitInterest func(testing.TB, string)) {
	topic := fmt.Sprintf("bench/qos%d", qos)
	sub := dialRawV5(b, subTS, "bench-sub")
	sub.send(b, &mqtt.Subscribe{PacketID: 1, Subscriptions: []mqtt.Subscription{{Filter: topic, QoS: qos}}})
	if p := sub.read(b); p == nil || p.Type() != mqtt.SUBACK {
		b.Fatalf("got %v, want SUBACK", p)
	}
	waitInterest(b, topic)
	pub := dialRawV5(b, pubTS, "bench-pub")
	payload := make([]byte, 64)
	type result struct {
		n    int
		last time.Time
	}
	received := make(chan result, 1)
	go func() {
		var r result
		rd := bufio.NewReaderSize(sub.conn, 64<<10)
		w := bufio.NewWriter(sub.conn)
		for r.n < b.N {
			if r.n%1000 == 0 {
				_ = sub.conn.SetReadDeadline(time.Now().Add(2 * time.Second))
			}
			p, err := mqtt.ReadPacket(rd, mqtt.V5, 0)
			if err != nil {
				break // idle: what was lost stays lost
			}
			if pp, ok := p.(*mqtt.Publish); ok {
				r.n++
				r.last = time.Now()
				if pp.QoS == 1 {
					_ = mqtt.WritePacket(w, &mqtt.Puback{PacketID: pp.PacketID}, mqtt.V5)
					if rd.Buffered() == 0 {
						_ = w.Flush()
					}
				}
			}
		}
		_ = w.Flush()
		received <- r
	}()
	window := make(chan struct{}, 1000)
	acksDone := make(chan struct{})
	if qos == 1 {
		go func() {
			defer close(acksDone)
			rd := bufio.NewReaderSize(pub.conn, 64<<10)
			_ = pub.conn.SetReadDeadline(time.Now().Add(time.Minute))
			for range b.N {
				if _, err := mqtt.ReadPacket(rd, mqtt.V5, 0); err != nil {
					return
				}
				<-window
			}
		}()
	}
	b.ResetTimer()
	start := time.Now()
	w := bufio.NewWriterSize(pub.conn, 64<<10)
	for i := range b.N {
		p := &mqtt.Publish{Topic: topic, QoS: qos, Payload: payload}
		if qos == 1 {
			p.PacketID = uint16(i%60000 + 1)
			select {
			case window <- struct{}{}:
			default:
				_ = w.Flush()
				window <- struct{}{}
			}
		}
		if err := mqtt.WritePacket(w, p, mqtt.V5); err != nil {
			b.Fatal(err)
		}
	}
	_ = w.Flush()
	r := <-received
	b.StopTimer()
	if qos == 1 {
		<-acksDone
	}
	if r.n == 0 {
		b.Fatal("nothing received")
	}
	b.Logf("drops on the subscriber's node: %+v", subTS.Stats().Dropped)
	b.ReportMetric(float64(r.n)/r.last.Sub(start).Seconds(), "msgs/s")
	b.ReportMetric(100*float64(b.N-r.n)/float64(b.N), "lost-%")
}
