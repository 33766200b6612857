package gateway

import (
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"edgemq/gateway/broker"
	"edgemq/mqtt"

	"github.com/eclipse/paho.golang/paho"
)

// TestSys checks the $SYS/broker/ topics: each arrives, retained, to a
// $SYS/# subscriber with the right value, not to a # subscriber
// [MQTT-4.7.2-1].
func TestSys(t *testing.T) {
	began := time.Now()
	cfg := testConfig(t)
	cfg.Sys.Interval = 100 * time.Millisecond
	ts := startServerWith(t, cfg, func(s *Server) { s.SetVersion("v9.9.9-test") })

	a := connectV3(t, ts, "sys-a", nil)
	a.roundTrip(t)
	b := connectV5(t, ts, v5Connect("sys-b"))
	b.roundTrip(t)
	b.publish(t, &paho.Publish{Topic: "data/x", QoS: 1, Payload: []byte(strings.Repeat("x", 100))})

	sub := connectV5(t, ts, v5Connect("sys-sub"))
	sub.subscribe(t, "$SYS/broker/#", 0)
	// What the server holds now: 3 clients and sessions, one subscription
	// each, the one message of 100 bytes received, and its own 10
	// retained messages.
	exact := map[string]string{
		broker.SysVersion:       "v9.9.9-test",
		broker.SysClients:       "3",
		broker.SysSessions:      "3",
		broker.SysSubscriptions: "3",
		broker.SysMsgsReceived:  "1",
		broker.SysBytesReceived: "100",
		broker.SysRetained:      "10",
	}
	// Uptime counts seconds; messages and bytes sent grow as the $SYS
	// messages go to sub.
	atLeast := map[string]int64{broker.SysUptime: 0, broker.SysMsgsSent: 1, broker.SysBytesSent: 1}
	latest := map[string]string{}
	deadline := time.After(eventTimeout)
	for done := false; !done; {
		select {
		case m := <-sub.msgs:
			if !strings.HasPrefix(m.Topic, "$SYS/broker/") {
				t.Fatalf("got %q on %q", m.Payload, m.Topic)
			}
			latest[m.Topic] = string(m.Payload)
		case <-deadline:
			t.Fatalf("$SYS values did not settle: %v", latest)
		}
		done = len(latest) == 10
		for topic, want := range exact {
			done = done && latest[topic] == want
		}
		for topic, low := range atLeast {
			n, err := strconv.ParseInt(latest[topic], 10, 64)
			done = done && err == nil && n >= low
		}
	}

	if up, _ := strconv.ParseInt(latest[broker.SysUptime], 10, 64); time.Duration(up)*time.Second > time.Since(began) {
		t.Errorf("uptime %ds, but the server started %s ago", up, time.Since(began))
	}

	// They are retained: a new subscriber gets all of them at once.
	late := connectV5(t, ts, v5Connect("sys-late"))
	late.subscribe(t, "$SYS/broker/#", 0)
	retained := map[string]bool{}
	for len(retained) < 10 {
		if m := late.expectMessage(t); m.Retain {
			retained[m.Topic] = true
		}
	}
	late.Disconnect(&paho.Disconnect{})

	// clients/connected follows connections; a "#" subscriber gets none
	// of the $SYS messages.
	hash := connectV5(t, ts, v5Connect("sys-hash"))
	hash.subscribe(t, "#", 0)
	waitConnections(t, ts, 4)
	waitSysValue(t, sub, broker.SysClients, "4")
	a.Disconnect(100)
	waitConnections(t, ts, 3)
	waitSysValue(t, sub, broker.SysClients, "3")
	hash.expectFence(t, b, "fence/sys")
}

// waitSysValue waits until c receives want on topic.
func waitSysValue(tb testing.TB, c *v5Client, topic, want string) {
	tb.Helper()
	for {
		if m := c.expectMessage(tb); m.Topic == topic && string(m.Payload) == want {
			return
		}
	}
}

// TestSysPublishRefused checks clients cannot publish under $SYS: v5
// PUBACK 0x87, QoS 0 dropped and counted, nothing retained; and that
// sys.interval 0 publishes nothing.
func TestSysPublishRefused(t *testing.T) {
	cfg := testConfig(t)
	cfg.Sys.Interval = 0
	ts := startServer(t, cfg)
	c := connectV5(t, ts, v5Connect("sys-pub"))
	sub := connectV5(t, ts, v5Connect("sys-watch"))
	sub.subscribe(t, "$SYS/#", 1)
	sub.subscribe(t, "fence/sys", 1)
	before := ts.Stats().Dropped["denied"]
	if code := c.publishCode(t, &paho.Publish{Topic: "$SYS/broker/version", QoS: 1, Retain: true, Payload: []byte("fake")}); code != byte(mqtt.NotAuthorized) {
		t.Errorf("QoS 1 to $SYS: PUBACK 0x%02X, want 0x87", code)
	}
	c.publish(t, &paho.Publish{Topic: "$SYS", QoS: 0, Retain: true, Payload: []byte("fake")})
	sub.expectFence(t, c, "fence/sys")
	if n := ts.Stats().Dropped["denied"] - before; n != 2 {
		t.Errorf("%d publishes counted as denied, want 2", n)
	}
	late := connectV5(t, ts, v5Connect("sys-late"))
	late.subscribe(t, "$SYS/#", 1)
	late.subscribe(t, "fence/sys", 1)
	late.expectFence(t, c, "fence/sys") // nothing retained under $SYS
	if n, _ := ts.eng.Broker().RetainedSize(); n != 0 {
		t.Errorf("%d retained messages with sys.interval 0", n)
	}
}

// TestSysCounterNeverGoesDown: $SYS rounds run back to back while
// /metrics is scraped again and again. A Prometheus counter must never go
// down, and messages received counts only what clients publish, so every
// scrape reads exactly the one message the client sent, whatever point of
// a $SYS round it lands on.
func TestSysCounterNeverGoesDown(t *testing.T) {
	cfg := testConfig(t)
	cfg.Ops.Address = "127.0.0.1:0"
	cfg.Sys.Interval = 0 // the rounds are run below, back to back
	ts := startServer(t, cfg)
	c := connectV5(t, ts, v5Connect("sys-counter"))
	c.publish(t, &paho.Publish{Topic: "data/x", QoS: 1, Payload: []byte("x")})

	stop, done := make(chan struct{}), make(chan struct{})
	var rounds atomic.Int64
	go func() {
		defer close(done)
		var buf []broker.Match
		for {
			select {
			case <-stop:
				return
			default:
			}
			ts.eng.Broker().PublishSys("test", time.Now(), time.Now(), &buf)
			rounds.Add(1)
		}
	}()
	t.Cleanup(func() { close(stop); <-done }) // before the server stops
	const name = "edgemq_messages_received_total"
	prev := 0.0
	for i := range 100 {
		got := metricValue(scrape(t, ts), name)
		if got < prev {
			t.Errorf("scrape %d: %s went down from %v to %v", i, name, prev, got)
		}
		if got != 1 {
			t.Errorf("scrape %d: %s = %v, want 1 (the client's message only)", i, name, got)
			break
		}
		prev = got
	}
	if rounds.Load() == 0 {
		t.Fatal("no $SYS round ran during the scrapes")
	}
}
