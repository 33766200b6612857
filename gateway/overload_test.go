package gateway

// Overload protection (overload.go) over real sockets. The overload state
// is switched on with a memory high-water mark of one byte through
// setOverload, the method a configuration reload calls.

import (
	"bytes"
	"io"
	"testing"
	"time"

	"edgemq/configs"
	"edgemq/mqtt"

	"github.com/eclipse/paho.golang/paho"
)

// overloadOn sets a one-byte memory high-water mark and waits for the
// sampler to see it.
func overloadOn(tb testing.TB, ts *testServer, base *configs.Config) {
	tb.Helper()
	cfg := *base
	cfg.Overload = configs.Overload{MemoryHighWater: 1, CheckInterval: 10 * time.Millisecond}
	ts.setOverload(&cfg)
	eventually(tb, "the overload state", func() bool { return ts.Stats().Overloaded })
}

// While overloaded, a new v5 client gets CONNACK 0x89 Server busy and a
// 3.1.1 client return code 3 Server unavailable, while a client connected
// before keeps publishing; once the overload is turned off (a reload),
// clients get in again.
func TestOverloadRefusesNewClients(t *testing.T) {
	cfg := testConfig(t)
	cfg.Ops.Address = "127.0.0.1:0"
	ts := startServer(t, cfg)
	old := connectV5(t, ts, v5Connect("old"))
	old.subscribe(t, "still/#", 1)

	overloadOn(t, ts, cfg)
	expectRefused(t, ts, v5Connect("new5"), mqtt.ServerBusy)

	nc := dial(t, ts, "tcp")
	raw, err := mqtt.Append(nil, sessConnect(mqtt.V311, "new3", true, 0), mqtt.V311)
	if err != nil {
		t.Fatal(err)
	}
	nc.Write(raw)
	nc.SetReadDeadline(time.Now().Add(eventTimeout))
	got, _ := io.ReadAll(nc)
	if want := []byte{0x20, 0x02, 0x00, mqtt.ConnRefusedServerUnavailable}; !bytes.Equal(got, want) {
		t.Errorf("3.1.1 client got % x, want CONNACK % x", got, want)
	}

	for i := range 3 {
		old.publish(t, &paho.Publish{Topic: "still/here", QoS: 1, Payload: []byte{byte(i)}})
		if m := old.expectMessage(t); m.Payload[0] != byte(i) {
			t.Errorf("message %d: got %v", i, m.Payload)
		}
	}
	if n := ts.Stats().OverloadRefused; n != 2 {
		t.Errorf("overload refused = %d, want 2", n)
	}
	mfs := scrape(t, ts)
	if v := metricValue(mfs, "edgemq_overloaded"); v != 1 {
		t.Errorf("edgemq_overloaded = %v, want 1", v)
	}
	if v := metricValue(mfs, "edgemq_overload_refused_total"); v != 2 {
		t.Errorf("edgemq_overload_refused_total = %v, want 2", v)
	}

	ts.setOverload(cfg) // the configuration's: off
	eventually(t, "the overload state to end", func() bool { return !ts.Stats().Overloaded })
	connectV5(t, ts, v5Connect("after"))
}

// While overloaded, QoS 0 messages to a subscriber whose outbound queue
// already holds data are shed and counted as dropped "overload"; the
// queue bound itself is never reached.
func TestOverloadShedsQoS0ToSlowConsumers(t *testing.T) {
	cfg := testConfig(t)
	cfg.Session.MaxOutboundQueue = 1 << 20
	cfg.Session.MaxOutboundBytes = 0
	cfg.Store.Durability = "memory"
	ts := startServer(t, cfg)
	slow, _ := dialSess(t, ts, "tcp", sessConnect(mqtt.V5, "slow", true, 0))
	slow.subscribe(t, "shed/#", 0, mqtt.GrantedQoS0)
	pub, _ := dialSess(t, ts, "tcp", sessConnect(mqtt.V5, "pub", true, 0))
	// slow reads nothing more: its socket buffers fill, then its queue.
	overloadOn(t, ts, cfg)
	batch := make([]mqtt.Packet, 64)
	for i := range batch {
		batch[i] = &mqtt.Publish{Topic: "shed/x", Payload: bytes.Repeat([]byte{'x'}, 16<<10)}
	}
	eventually(t, "qos 0 shed", func() bool {
		pub.send(t, batch...)
		pub.ping(t)
		return ts.Stats().Dropped["overload"] > 0
	})
	if n := ts.Stats().Dropped["queue_full"]; n != 0 {
		t.Errorf("dropped queue_full = %d, want 0", n)
	}
	slow.nc.Close()
}
