package gateway

// Slow consumers: a client that does not read, or does not acknowledge,
// must cost the gateway a bounded amount of memory and must not hold up
// the publisher or the other subscribers. The assertions are about
// bounds and counts, never about time.

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"testing"
	"time"

	"edgemq/mqtt"

	"github.com/eclipse/paho.golang/paho"
)

// heapInUse returns the heap in use after two collections (the second
// empties what sync.Pools moved to their victim caches in the first).
func heapInUse() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapInuse)
}

// TestSlowConsumerQoS0 checks that a QoS 0 subscriber that never reads
// its socket costs the gateway a bounded queue (session.max_outbound_queue
// deliveries, beyond which QoS 0 messages are dropped and counted
// "queue_full"), while the publisher is never held up (every publish is
// read and answered, a final QoS 1 one with PUBACK) and a subscriber that
// reads gets every message, in order [MQTT-4.6.0-5, MQTT-4.6.0-6].
//
// The heap bound: what the slow subscriber holds is its write queue, at
// most maxQueue deliveries, plus the batch its writer took out of the
// queue and is stuck writing, at most as many again (conn/writequeue.go). Each
// delivery keeps its message alive: the payload (msgSize) and less than
// 512 bytes of message, PUBLISH and delivery structs, topic and encoded
// header. So it holds less than 2 × maxQueue × (msgSize + 512) bytes,
// about 300 KB here; 6 MB of slack covers the runtime, buffer pools, the
// test's own clients and what the package's earlier tests leave in the
// process (TestRetainedFlood). Without the bound the queue would keep
// most of the 20 MB published (all but what the socket buffers absorb).
func TestSlowConsumerQoS0(t *testing.T) {
	const (
		maxQueue = 100
		msgSize  = 1024
		total    = 20000
		// The publisher sends in rounds of chunk messages and waits for
		// the reading subscriber to get each round, so that the reading
		// subscriber's own queue (bounded alike) never fills: any drop is
		// the slow one's.
		chunk = maxQueue / 2
		slack = 6 << 20
	)
	bound := int64(2*maxQueue*(msgSize+512) + slack)

	cfg := testConfig(t)
	cfg.Session.MaxOutboundQueue = maxQueue
	ts := startServer(t, cfg)

	slow, _ := dialSess(t, ts, "tcp", sessConnect(mqtt.V5, "slow", true, 0))
	slow.subscribe(t, "flow/#", 0, mqtt.GrantedQoS0)
	// A small receive buffer so that the kernel absorbs little; from now
	// on the slow subscriber reads nothing.
	if tc, ok := slow.nc.(*net.TCPConn); ok {
		tc.SetReadBuffer(4096)
	}

	reader, _ := dialSess(t, ts, "tcp", sessConnect(mqtt.V5, "reader", true, 0))
	reader.subscribe(t, "flow/#", 0, mqtt.GrantedQoS0)
	pub, _ := dialSess(t, ts, "tcp", sessConnect(mqtt.V5, "flow-pub", true, 0))
	pub.ping(t)
	waitConnections(t, ts, 3)

	// The reading subscriber counts what it gets, checking the order.
	got := make(chan int, total)
	readErr := make(chan error, 1)
	go func() {
		rd := mqtt.NewReader(bufio.NewReaderSize(reader.nc, 64<<10), 0, nil)
		for i := range total {
			reader.nc.SetReadDeadline(time.Now().Add(eventTimeout))
			p, err := rd.ReadPacket(mqtt.V5)
			if err != nil {
				readErr <- err
				return
			}
			pp, ok := p.(*mqtt.Publish)
			if !ok || len(pp.Payload) != msgSize || binary.BigEndian.Uint64(pp.Payload) != uint64(i) {
				readErr <- fmt.Errorf("message %d: got %v %+v", i, p.Type(), p)
				return
			}
			got <- i
		}
	}()

	before := heapInUse()
	dropsBefore := ts.Stats().Dropped["queue_full"]
	payload := make([]byte, msgSize)
	var buf []byte
	received := 0
	for sent := 0; sent < total; {
		buf = buf[:0]
		for range chunk {
			binary.BigEndian.PutUint64(payload, uint64(sent))
			var err error
			if buf, err = mqtt.Append(buf, &mqtt.Publish{Topic: "flow/t", Payload: payload}, mqtt.V5); err != nil {
				t.Fatal(err)
			}
			sent++
		}
		if _, err := pub.nc.Write(buf); err != nil {
			t.Fatalf("publisher: writing: %v", err)
		}
		timeout := time.NewTimer(eventTimeout)
		for received < sent {
			select {
			case <-got:
				received++
			case err := <-readErr:
				t.Fatalf("reading subscriber: %v", err)
			case <-timeout.C:
				t.Fatalf("reading subscriber: %d of %d messages after %v", received, sent, eventTimeout)
			}
		}
		timeout.Stop()
	}
	// The publisher was read all along: its QoS 1 publish is answered.
	pub.send(t, &mqtt.Publish{Topic: "flow/last", QoS: 1, PacketID: 1, Payload: []byte("last")})
	if ack := nextOf[*mqtt.Puback](t, pub); ack.PacketID != 1 || ack.ReasonCode.IsError() {
		t.Fatalf("publisher: got %+v, want PUBACK 1", ack)
	}
	after := heapInUse()

	// Still connected: the slow subscriber was held at its bound, not
	// disconnected, while everything was published.
	if n := ts.Stats().Connections; n != 3 {
		t.Fatalf("%d connections, want 3: the measurement needs the slow subscriber connected", n)
	}
	if drops := ts.Stats().Dropped["queue_full"] - dropsBefore; drops == 0 {
		t.Errorf("Dropped[queue_full] did not grow: the slow subscriber's queue did not fill")
	} else {
		t.Logf("queue_full drops: %d of %d", drops, total)
	}
	growth := after - before
	t.Logf("heap in use grew by %d bytes (bound %d)", growth, bound)
	if growth > bound {
		t.Errorf("heap in use grew by %d bytes, over the bound of %d: the slow subscriber's queue is not bounded", growth, bound)
	}
}

// TestSlowConsumerQoS1 checks that a QoS 1 subscriber that never
// acknowledges holds at most max_inflight messages in flight (its own
// Receive Maximum being larger) [MQTT-3.3.4-9], and at most
// max_offline_messages waiting behind them, the newer ones dropped and
// counted "queue_full"; the publisher is not held up (every publish gets
// its PUBACK); and once it acknowledges, it gets exactly what was kept,
// in order.
func TestSlowConsumerQoS1(t *testing.T) {
	const (
		maxInflight = 5
		maxPending  = 50
		total       = 200
	)
	cfg := testConfig(t)
	cfg.MQTT.MaxInflight = maxInflight
	cfg.Session.MaxOfflineMessages = maxPending
	ts := startServer(t, cfg)
	pub := connectV5(t, ts, v5Connect("flowq-pub"))
	pub.roundTrip(t)
	sub, _ := dialSess(t, ts, "tcp", sessConnect(mqtt.V5, "flowq-sub", true, 0))
	sub.subscribe(t, "flowq/#", 1, mqtt.GrantedQoS1)
	sub.subscribe(t, "fence/flowq", 0, mqtt.GrantedQoS0)

	dropsBefore := ts.Stats().Dropped["queue_full"]
	for i := range total {
		pub.publish(t, &paho.Publish{Topic: "flowq/t", QoS: 1, Payload: []byte(strconv.Itoa(i))})
	}
	var inflight []*mqtt.Publish
	for i := range maxInflight {
		p := nextOf[*mqtt.Publish](t, sub)
		if string(p.Payload) != strconv.Itoa(i) {
			t.Fatalf("got %q, want %d", p.Payload, i)
		}
		inflight = append(inflight, p)
	}
	// Nothing more in flight [MQTT-3.3.4-9].
	sub.expectFence(t, pub, "fence/flowq")
	if drops := ts.Stats().Dropped["queue_full"] - dropsBefore; drops != total-maxInflight-maxPending {
		t.Errorf("Dropped[queue_full] grew by %d, want %d: %d in flight, %d pending", drops, total-maxInflight-maxPending, maxInflight, maxPending)
	}
	// Acknowledged one by one, the kept messages follow in order, and
	// no more than those.
	for next := maxInflight; len(inflight) > 0; {
		sub.send(t, &mqtt.Puback{PacketID: inflight[0].PacketID})
		inflight = inflight[1:]
		if next < maxInflight+maxPending {
			p := nextOf[*mqtt.Publish](t, sub)
			if string(p.Payload) != strconv.Itoa(next) {
				t.Fatalf("got %q, want %d", p.Payload, next)
			}
			inflight = append(inflight, p)
			next++
		}
	}
	sub.ping(t)
	sub.expectFence(t, pub, "fence/flowq")
}
