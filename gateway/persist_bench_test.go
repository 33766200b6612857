package gateway

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// BenchmarkQoS1Durability measures QoS 1 throughput, 4 publishers (each
// with 16, then 64, publishes in flight) to one persistent subscriber, in
// the three store.durability modes side by side, and logs their ratios:
//
//	go test -run '^$' -bench QoS1Durability -benchtime 40000x -v ./gateway/
//
// In sync mode a publish waits for a commit (fsync): throughput is about
// the publishes in flight divided by the commit time, so it grows with the
// publishers' windows.
func BenchmarkQoS1Durability(b *testing.B) {
	for _, window := range []int{16, 64} {
		b.Run(fmt.Sprintf("window=%d", window), func(b *testing.B) { benchDurability(b, 1, window) })
	}
}

// BenchmarkQoS2Durability is BenchmarkQoS1Durability at QoS 2: in sync
// mode each delivery also waits for the commit that holds its packet id
// before it leaves (persist_qos2.go).
//
//	go test -run '^$' -bench QoS2Durability -benchtime 20000x -v ./gateway/
func BenchmarkQoS2Durability(b *testing.B) {
	for _, window := range []int{16, 64} {
		b.Run(fmt.Sprintf("window=%d", window), func(b *testing.B) { benchDurability(b, 2, window) })
	}
}

func benchDurability(b *testing.B, qos byte, window int) {
	rate := map[string]float64{}
	for _, mode := range []string{"memory", "async", "sync"} {
		b.Run(mode, func(b *testing.B) {
			cfg := testConfig(b)
			cfg.Store.Durability = mode
			cfg.Store.FlushInterval = 100 * time.Millisecond
			cfg.Session.MaxOfflineMessages = 1 << 30
			cfg.Session.MaxOfflineBytes = 0
			ts := startServer(b, cfg)
			addr := ts.addr(b, "tcp")
			var got atomic.Int64
			all := make(chan struct{})
			n := int64(b.N)
			sub, err := crashDial(addr, &paho.Connect{ClientID: "bench-sub", CleanStart: true, KeepAlive: 60,
				Properties: &paho.ConnectProperties{SessionExpiryInterval: refOf(uint32(3600)), ReceiveMaximum: refOf(uint16(1000))}},
				func(*paho.Publish) {
					if got.Add(1) == n {
						close(all)
					}
				})
			if err != nil {
				b.Fatal(err)
			}
			defer sub.Disconnect(&paho.Disconnect{})
			if _, err := sub.Subscribe(context.Background(), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "bench/#", QoS: qos}}}); err != nil {
				b.Fatal(err)
			}
			const publishers = 4
			var pubs []*paho.Client
			for p := range publishers {
				c, err := crashDial(addr, &paho.Connect{ClientID: fmt.Sprintf("bench-pub-%d", p), CleanStart: true, KeepAlive: 60}, nil)
				if err != nil {
					b.Fatal(err)
				}
				defer c.Disconnect(&paho.Disconnect{})
				pubs = append(pubs, c)
			}
			payload := make([]byte, 256)
			var next atomic.Int64
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for p := range publishers {
				for range window {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for next.Add(1) <= n {
							if _, err := pubs[p].Publish(context.Background(), &paho.Publish{Topic: fmt.Sprintf("bench/%d", p), QoS: qos, Payload: payload}); err != nil {
								b.Error(err)
								return
							}
						}
					}()
				}
			}
			wg.Wait()
			select {
			case <-all:
			case <-time.After(60 * time.Second):
				b.Fatalf("subscriber got %d of %d", got.Load(), n)
			}
			el := time.Since(start)
			b.StopTimer()
			r := float64(n) / el.Seconds()
			b.ReportMetric(r, "msgs/s")
			rate[mode] = r
		})
	}
	if rate["memory"] > 0 && rate["sync"] > 0 && rate["async"] > 0 {
		b.Logf("QoS %d, 4 publishers, window %d: memory %.0f msgs/s, async %.0f (%.2fx slower), sync %.0f (%.2fx slower)",
			qos, window, rate["memory"], rate["async"], rate["memory"]/rate["async"], rate["sync"], rate["memory"]/rate["sync"])
	}
}
