package gateway

import (
	"fmt"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"edgemq/configs"
	"edgemq/gateway/cluster"
	"edgemq/gateway/cluster/clustertest"
	"edgemq/mqtt"

	"github.com/eclipse/paho.golang/paho"
	mqtt3 "github.com/eclipse/paho.mqtt.golang"
)

// fastLiveness makes a node's liveness lapse a few seconds after it
// stops renewing (cluster.heartbeat_interval, liveness_ttl, and the
// link's ping below half of it), with the fault tests' settings
// (cluster_ops_test.go). With a TTL of 1 s, a live node's renewal in CI
// once took longer while the race-built servers elected leaders: its
// record lapsed and it closed its clients.
func fastLiveness(_ int, cfg *configs.Config) {
	cfg.Cluster.HeartbeatInterval = faultHeartbeat
	cfg.Cluster.LivenessTTL = faultTTL
	cfg.Cluster.NATS.PingInterval = faultPing
}

// persistent is a CONNECT of id without clean start, with a session
// expiry of expiry seconds.
func persistent(id string, clean bool, expiry uint32) *paho.Connect {
	cp := v5Connect(id)
	cp.CleanStart = clean
	cp.Properties = &paho.ConnectProperties{SessionExpiryInterval: refOf(expiry)}
	return cp
}

// sessionState returns whether node ts holds a session of id, and its
// queued messages and connection.
func sessionState(ts *testServer, id string) (held bool, queued int, connected bool) {
	s := ts.eng.Broker().Lookup(id)
	if s == nil {
		return false, 0, false
	}
	v := s.View()
	return true, v.Queued, v.Connected
}

// TestClusterTakeoverAcrossNodes: a persistent session waits offline on
// node 1 with QoS 1 messages queued there; its client connects on node
// 3: Session Present, every queued message delivered once, in order,
// and node 1's copy gone. Then it connects on node 2 while connected on
// node 3: the client on node 3 gets DISCONNECT 0x8E [MQTT-3.1.4-3] and
// its will (no delay) is not published.
func TestClusterTakeoverAcrossNodes(t *testing.T) {
	c := startCluster(t, 3, nil)
	const id = "mover"
	sub := connectV5(t, c.nodes[0], persistent(id, true, 300))
	sub.subscribe(t, "tk/#", 1)
	c.waitInterest(t, "tk/x")
	if err := sub.Disconnect(&paho.Disconnect{}); err != nil {
		t.Fatal(err)
	}
	clustertest.Eventually(t, func() bool { held, _, conn := sessionState(c.nodes[0], id); return held && !conn },
		func() string { return "node 1 does not hold the session offline" })
	pub := connectV5(t, c.nodes[1], v5Connect("tk-pub"))
	var want []string
	for i := range 10 {
		p := fmt.Sprintf("m%d", i)
		want = append(want, p)
		pub.publish(t, &paho.Publish{Topic: "tk/x", QoS: 1, Payload: []byte(p)})
	}
	clustertest.Eventually(t, func() bool { _, q, _ := sessionState(c.nodes[0], id); return q == 10 },
		func() string {
			_, q, _ := sessionState(c.nodes[0], id)
			return fmt.Sprintf("%d queued on node 1, want 10", q)
		})

	cp := persistent(id, false, 300)
	cp.WillMessage = &paho.WillMessage{Topic: "tk/will", QoS: 1, Payload: []byte("gone")}
	moved := connectV5(t, c.nodes[2], cp)
	if !moved.connack.SessionPresent {
		t.Fatal("Session Present 0 for a session taken over from another node [MQTT-3.2.2-3]")
	}
	var got []string
	for range want {
		got = append(got, string(moved.expectMessage(t).Payload))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("delivered %q, want %q", got, want)
	}
	moved.expectFence(t, pub, "tk/fence") // no duplicate
	if held, _, _ := sessionState(c.nodes[0], id); held {
		t.Fatal("node 1 still holds a copy of the session")
	}

	watch := connectV5(t, c.nodes[0], v5Connect("tk-watch"))
	watch.subscribe(t, "tk/#", 1)
	c.waitInterest(t, "tk/will")
	again := connectV5(t, c.nodes[1], persistent(id, false, 300))
	if !again.connack.SessionPresent {
		t.Fatal("Session Present 0 on the second takeover")
	}
	if d := moved.expectServerDisconnect(t); d.ReasonCode != byte(mqtt.SessionTakenOver) {
		t.Fatalf("taken-over client got DISCONNECT %#x, want 0x8E [MQTT-3.1.4-3]", d.ReasonCode)
	}
	// No will after a takeover: the watcher's next message is the fence.
	watch.expectFence(t, pub, "tk/fence2")
}

// TestClusterSimultaneousConnects: CONNECTs with one client id on two
// nodes at once, round after round: exactly one client stays connected;
// the other is closed (DISCONNECT 0x8E).
func TestClusterSimultaneousConnects(t *testing.T) {
	c := startCluster(t, 3, nil)
	for round := range 5 {
		id := fmt.Sprintf("twin-%d", round)
		clients := make([]*v5Client, 2)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range clients {
			wg.Go(func() {
				<-start
				clients[i] = connectV5(t, c.nodes[i], persistent(id, false, 60))
			})
		}
		close(start)
		wg.Wait()
		// One of them is closed.
		select {
		case <-clients[0].lost:
		case <-clients[1].lost:
		case <-time.After(eventTimeout):
			t.Fatalf("round %d: both clients stay connected", round)
		}
		alive := clients[0]
		owner := c.nodes[0]
		if isClosed(clients[0].lost) {
			alive, owner = clients[1], c.nodes[1]
		}
		if isClosed(alive.lost) {
			t.Fatalf("round %d: both clients closed", round)
		}
		alive.roundTrip(t) // it is served
		if _, _, conn := sessionState(owner, id); !conn {
			t.Fatalf("round %d: the node of the connected client does not hold the session", round)
		}
	}
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// crash stops ts as a crash would, for the other nodes: its NATS link
// first (no liveness record released, no will published, no record
// written: nothing of what its connections' ends would say reaches the
// cluster), then the server, which the test's cleanup waits for.
func crash(t *testing.T, ts *testServer) {
	t.Helper()
	ts.cluster.node.Link().Abort()
	ts.cancel()
}

// TestClusterWillsAfterNodeDies: node 3 dies with three clients: one
// whose session ends with its connection (will without delay), one with
// a will delayed 2s, one that disconnected cleanly first. A watcher on
// node 1 receives each due will exactly once, the delayed one not
// before its delay [MQTT-3.1.3-9], and none for the clean DISCONNECT
// [MQTT-3.1.2-10].
func TestClusterWillsAfterNodeDies(t *testing.T) {
	c := startCluster(t, 3, fastLiveness)
	watch := connectV5(t, c.nodes[0], v5Connect("will-watch"))
	watch.subscribe(t, "will/#", 1)
	c.waitInterest(t, "will/now")
	withWill := func(id string, expiry, delay uint32) *paho.Connect {
		cp := persistent(id, true, expiry)
		cp.WillMessage = &paho.WillMessage{Topic: "will/" + id, QoS: 1, Payload: []byte(id)}
		if delay > 0 {
			cp.WillProperties = &paho.WillProperties{WillDelayInterval: refOf(delay)}
		}
		return cp
	}
	connectV5(t, c.nodes[2], withWill("now", 0, 0))
	connectV5(t, c.nodes[2], withWill("delay", 60, 2))
	clean := connectV5(t, c.nodes[2], withWill("clean", 60, 0))
	if err := clean.Disconnect(&paho.Disconnect{}); err != nil {
		t.Fatal(err)
	}
	// Its record says it: offline, no will.
	records := cluster.NewSessionStore(c.nodes[0].cluster.node.Layout().Sessions)
	clustertest.Eventually(t, func() bool {
		rec, _, err := records.Get(t.Context(), "clean")
		return err == nil && !rec.Connected && rec.Will == nil
	}, func() string { return "the clean client's record still says connected, or holds its will" })

	died := time.Now()
	crash(t, c.nodes[2])
	got := map[string]time.Time{}
	for range 2 {
		m := watch.expectMessage(t)
		if _, dup := got[m.Topic]; dup {
			t.Fatalf("will %s published twice", m.Topic)
		}
		got[m.Topic] = time.Now()
	}
	topics := make([]string, 0, len(got))
	for tp := range got {
		topics = append(topics, tp)
	}
	sort.Strings(topics)
	if !slices.Equal(topics, []string{"will/delay", "will/now"}) {
		t.Fatalf("wills %v, want will/delay and will/now", topics)
	}
	if d := got["will/delay"].Sub(died); d < 2*time.Second {
		t.Fatalf("delayed will published %v after the node died, before its 2s delay", d)
	}
	pub := connectV5(t, c.nodes[1], v5Connect("will-pub"))
	watch.expectFence(t, pub, "will/fence") // no second copy, no clean will
}

// BenchmarkClusterTakeover measures a takeover across nodes: a client
// holds its persistent session (one QoS 1 subscription) on one node; the
// time from the CONNECT of the same client id on the next node to its
// CONNACK (the previous owner asked and its client closed, the session
// carried on) is reported as p50 and p99 (with the TCP connect on
// loopback, tens of microseconds). One takeover per iteration:
// run with -benchtime=200x.
func BenchmarkClusterTakeover(b *testing.B) {
	c := startCluster(b, 3, nil)
	durs := make([]time.Duration, 0, b.N)
	prev := (*v5Client)(nil)
	for i := range b.N {
		id := fmt.Sprintf("bench-%d", i)
		first := connectV5(b, c.nodes[i%3], persistent(id, true, 300))
		first.subscribe(b, "bench/"+id, 1)
		if prev != nil {
			prev.raw.Close()
		}
		ts := c.nodes[(i+1)%3]
		start := time.Now() // the TCP connect on loopback is included
		cl := connectV5(b, ts, persistent(id, false, 300))
		durs = append(durs, time.Since(start))
		if !cl.connack.SessionPresent {
			b.Fatalf("takeover %s: Session Present 0", id)
		}
		first.expectServerDisconnect(b)
		prev = cl
	}
	b.StopTimer()
	slices.Sort(durs)
	pct := func(p float64) time.Duration { return durs[min(len(durs)-1, int(float64(len(durs))*p))] }
	b.ReportMetric(float64(pct(0.50).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(pct(0.99).Microseconds())/1000, "p99-ms")
	b.ReportMetric(0, "ns/op")
}

// TestClusterTakeoverV3: the same across nodes for MQTT 3.1.1 clients
// (paho.mqtt.golang): a persistent session left on node 1 with a QoS 1
// message queued is resumed on node 2 (Session Present [MQTT-3.2.2-2],
// the message delivered [MQTT-3.1.2-4]); a second connection with the
// id on node 3 closes the one on node 2 [MQTT-3.1.4-2] and keeps the
// subscription.
func TestClusterTakeoverV3(t *testing.T) {
	c := startCluster(t, 3, nil)
	persistent := func(o *mqtt3.ClientOptions) { o.SetCleanSession(false) }
	sub := connectV3(t, c.nodes[0], "v3-mover", persistent)
	sub.subscribe(t, "v3m/#", 1)
	c.waitInterest(t, "v3m/a")
	sub.Disconnect(250)
	clustertest.Eventually(t, func() bool { held, _, conn := sessionState(c.nodes[0], "v3-mover"); return held && !conn },
		func() string { return "node 1 does not hold the session offline" })
	pub := connectV3(t, c.nodes[2], "v3-mover-pub", nil)
	pub.publish(t, "v3m/a", 1, false, "while away")
	clustertest.Eventually(t, func() bool { _, q, _ := sessionState(c.nodes[0], "v3-mover"); return q == 1 },
		func() string { return "the message is not queued on node 1" })

	moved, ct, err := dialV3(t, c.nodes[1], "v3-mover", persistent)
	if err != nil {
		t.Fatalf("reconnect on node 2: %v", err)
	}
	if !ct.SessionPresent() {
		t.Fatal("Session Present 0 on resuming a session on another node [MQTT-3.2.2-2]")
	}
	if m := moved.expectMessage(t); m.Topic() != "v3m/a" || string(m.Payload()) != "while away" || m.Qos() != 1 {
		t.Fatalf("got %q on %q at qos %d, want the queued message", m.Payload(), m.Topic(), m.Qos())
	}
	twin := connectV3(t, c.nodes[2], "v3-mover", persistent)
	twin.roundTrip(t)
	moved.expectLost(t)
	pub.publish(t, "v3m/b", 1, false, "to the twin")
	for {
		m := twin.expectMessage(t)
		if m.Topic() == "v3m/b" {
			break
		}
		// v3m/a again if node 2's client had not acknowledged it yet:
		// resent with DUP [MQTT-4.4.0-1].
		if m.Topic() != "v3m/a" || !m.Duplicate() {
			t.Fatalf("twin got %q on %q", m.Payload(), m.Topic())
		}
	}
}

// TestClusterRepeatedWills: a client whose connection drops twice, with
// the same will, has it published twice: a subscriber on another node
// gets both (a will is no retransmission of the one before).
func TestClusterRepeatedWills(t *testing.T) {
	c := startCluster(t, 3, nil)
	watch := connectV5(t, c.nodes[0], v5Connect("rw-watch"))
	watch.subscribe(t, "rw/#", 1)
	c.waitInterest(t, "rw/will")
	for i := range 2 {
		cp := v5Connect("rw-client")
		cp.WillMessage = &paho.WillMessage{Topic: "rw/will", QoS: 1, Payload: []byte("gone")}
		cl := connectV5(t, c.nodes[2], cp)
		cl.raw.Close() // no DISCONNECT: the will goes [MQTT-3.1.2-8]
		if m := watch.expectMessage(t); m.Topic != "rw/will" || string(m.Payload) != "gone" {
			t.Fatalf("drop %d: got %q on %q, want the will", i+1, m.Payload, m.Topic)
		}
	}
}
