package gateway

// End-to-end tests of a cluster's retained messages, of a node cut off
// from NATS, and of drain in a cluster: real NATS servers (clustertest),
// real edgemq servers, real clients (paho.golang, paho.mqtt.golang).

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"edgemq/configs"
	"edgemq/gateway/admin"
	"edgemq/gateway/cluster"
	"edgemq/gateway/cluster/clustertest"
	"edgemq/mqtt"

	"github.com/eclipse/paho.golang/paho"
	mqtt3 "github.com/eclipse/paho.mqtt.golang"
)

// retainedCounter is an MQTT 5 client that records every message it
// receives by topic (no buffer to overflow, unlike v5Client's).
type retainedCounter struct {
	*paho.Client
	mu     sync.Mutex
	got    map[string]string
	retain int
}

func (r *retainedCounter) snapshot() (map[string]string, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := make(map[string]string, len(r.got))
	for k, v := range r.got {
		m[k] = v
	}
	return m, r.retain
}

// connectCounter connects a recording MQTT 5 client to ts.
func connectCounter(tb testing.TB, ts *testServer, id string) *retainedCounter {
	tb.Helper()
	nc := dial(tb, ts, "tcp")
	r := &retainedCounter{got: map[string]string{}}
	r.Client = paho.NewClient(paho.ClientConfig{Conn: nc, OnPublishReceived: []func(paho.PublishReceived) (bool, error){
		func(pr paho.PublishReceived) (bool, error) {
			r.mu.Lock()
			r.got[pr.Packet.Topic] = string(pr.Packet.Payload)
			if pr.Packet.Retain {
				r.retain++
			}
			r.mu.Unlock()
			return true, nil
		}}})
	ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
	defer cancel()
	if _, err := r.Connect(ctx, v5Connect(id)); err != nil {
		tb.Fatalf("connecting %s: %v", id, err)
	}
	return r
}

// TestClusterRetainedAcrossNodes: retained messages published on one node
// (MQTT 5 and 3.1.1 publishers) are delivered as retained to subscribers
// of the other nodes, more than 1,000 of them through one wildcard
// [MQTT-3.3.1-9]; an empty retained payload published on a third node
// deletes the topic's retained message on every node [MQTT-3.3.1-10].
func TestClusterRetainedAcrossNodes(t *testing.T) {
	c := startCluster(t, 3, nil)
	const n = 1100
	pub := connectV5(t, c.nodes[0], v5Connect("ret-pub"))
	ctx, cancel := context.WithTimeout(context.Background(), clustertest.Timeout)
	defer cancel()
	// Acknowledged (QoS 1) once the cluster stored each.
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			_, err := pub.Publish(ctx, &paho.Publish{Topic: fmt.Sprintf("ret/%d/t", i), QoS: 1, Retain: true, Payload: []byte(fmt.Sprint(i))})
			if err != nil {
				errs <- err
			}
		})
		if i%100 == 99 {
			wg.Wait()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("retained publish: %v", err)
	}
	v3 := connectV3(t, c.nodes[1], "ret-pub3", nil)
	v3.publish(t, "ret/v3/t", 1, true, "from 3.1.1")

	for _, node := range []int{1, 2} {
		// The node's mirror first holds what the cluster stored: a
		// SUBSCRIBE waits for it for 5 s only (then 0x89), which a full
		// read of 1,100 topics can take under the race detector on a
		// loaded CI machine. TestRetainedMirrorRace tests that wait.
		if err := c.nodes[node].clusterRetained().WaitMirrored(ctx); err != nil {
			t.Fatalf("node %d: waiting for the retained mirror: %v", node+1, err)
		}
		sub := connectCounter(t, c.nodes[node], fmt.Sprintf("ret-sub-%d", node))
		if _, err := sub.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "ret/+/t", QoS: 1}}}); err != nil {
			t.Fatal(err)
		}
		clustertest.Eventually(t, func() bool { got, _ := sub.snapshot(); return len(got) == n+1 }, func() string {
			got, _ := sub.snapshot()
			return fmt.Sprintf("node %d: subscriber received %d of %d retained messages", node+1, len(got), n+1)
		})
		got, retained := sub.snapshot()
		if got["ret/7/t"] != "7" || got["ret/v3/t"] != "from 3.1.1" || retained != n+1 {
			t.Errorf("node %d: ret/7/t %q, ret/v3/t %q, %d with the retain flag", node+1, got["ret/7/t"], got["ret/v3/t"], retained)
		}
		_ = sub.Disconnect(&paho.Disconnect{})
	}

	// Deleted from node 3: no node delivers it any more.
	del := connectV5(t, c.nodes[2], v5Connect("ret-del"))
	del.publish(t, &paho.Publish{Topic: "ret/7/t", QoS: 1, Retain: true})
	for node := range 3 {
		clustertest.Eventually(t, func() bool {
			return c.nodes[node].eng.Broker().RetainedLookup("ret/7/t") == nil
		}, func() string { return fmt.Sprintf("node %d still holds the deleted topic", node+1) })
		sub := connectCounter(t, c.nodes[node], fmt.Sprintf("ret-after-%d", node))
		if _, err := sub.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "ret/+/t", QoS: 0}}}); err != nil {
			t.Fatal(err)
		}
		clustertest.Eventually(t, func() bool { got, _ := sub.snapshot(); return len(got) == n }, func() string {
			got, _ := sub.snapshot()
			return fmt.Sprintf("node %d: %d retained after the deletion, want %d", node+1, len(got), n)
		})
		if got, _ := sub.snapshot(); got["ret/7/t"] != "" {
			t.Errorf("node %d delivered the deleted ret/7/t", node+1)
		}
		_ = sub.Disconnect(&paho.Disconnect{})
	}
}

// proxiedCluster is a cluster whose nodes reach their NATS servers
// through proxies, which cut and heal a node's link; the servers do not
// advertise each other, so a cut node cannot reconnect around its proxy.
type proxiedCluster struct {
	*testCluster
	proxies []*clustertest.Proxy
}

// Fast fault detection for the partition tests: a lost link is noticed
// within two pings, and the liveness record lapses after the TTL. (Not
// faster: under the race detector on a loaded machine, NATS servers
// electing JetStream leaders at start-up answered pings 250 ms apart
// too late, and a node took its link for lost before any cut.)
const (
	faultPing      = 500 * time.Millisecond
	faultHeartbeat = 500 * time.Millisecond
	faultTTL       = 4 * time.Second
)

func startProxiedCluster(t *testing.T, n int, setup func(i int, cfg *configs.Config)) *proxiedCluster {
	t.Helper()
	nats := clustertest.StartWith(t, n, func(_ int, o *cluster.EmbeddedOptions) { o.NoAdvertise = true })
	pc := &proxiedCluster{testCluster: &testCluster{nats: nats, nodes: make([]*testServer, n)}}
	srvs := make([]*Server, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		p := clustertest.NewProxy(t, strings.TrimPrefix(nats.Servers[i].ClientURL(), "nats://"))
		pc.proxies = append(pc.proxies, p)
		cfg := clusterConfig(t, fmt.Sprintf("e%d", i+1), p.URL(), n)
		cfg.Cluster.NATS.PingInterval = faultPing
		cfg.Cluster.HeartbeatInterval = faultHeartbeat
		cfg.Cluster.LivenessTTL = faultTTL
		if setup != nil {
			setup(i, cfg)
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("invalid cluster config: %v", err)
		}
		wg.Go(func() { srvs[i], errs[i] = New(cfg, testLogger(t, fmt.Sprintf("e%d", i+1))) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			for _, s := range srvs {
				if s != nil {
					s.closeCluster()
				}
			}
			t.Fatalf("starting node e%d: %v", i+1, err)
		}
	}
	for i, s := range srvs {
		pc.nodes[i] = runServer(t, s)
	}
	return pc
}

// readyz returns a node's /readyz status and what it lists as not ready.
func readyz(t *testing.T, ts *testServer) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + ts.OpsAddr().String() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		NotReady []string `json:"not_ready"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&r)
	return resp.StatusCode, strings.Join(r.NotReady, ",")
}

// advertised gives each node of a cluster its own reserved tcp address,
// advertised as its cluster.advertise, and an ops listener.
func advertised(addrs []string) func(i int, cfg *configs.Config) {
	return func(i int, cfg *configs.Config) {
		cfg.Listeners[0].Address = addrs[i]
		cfg.Cluster.Advertise = addrs[i]
		cfg.Ops.Address = "127.0.0.1:0"
	}
}

// waitPeers waits until node ts knows the other nodes' addresses.
func waitPeers(t *testing.T, ts *testServer, want []string) {
	t.Helper()
	slices.Sort(want)
	clustertest.Eventually(t, func() bool { return slices.Equal(ts.cluster.ops.Peers().Addrs(), want) },
		func() string { return fmt.Sprintf("peers %q, want %q", ts.cluster.ops.Peers().Addrs(), want) })
}

// TestClusterPartition cuts node 1's link to NATS silently (the proxy
// drops bytes both ways; only the pings notice). Node 1 then closes its
// clients, MQTT 5 ones with DISCONNECT 0x9C (Use another server) and a
// live node's address as Server Reference; a QoS 1 PUBLISH sent to it is
// never acknowledged; new CONNECTs get 0x88 (3.1.1: return code 3); its
// /readyz answers 503 "cluster link"; an admin publish answers 503. The
// other nodes serve on. After
// healing, node 1 rechecks and serves again: ready, CONNECT accepted, its
// metrics counting one loss.
func TestClusterPartition(t *testing.T) {
	addrs := clustertest.FreeAddrs(t, 3)
	set := advertised(addrs)
	c := startProxiedCluster(t, 3, func(i int, cfg *configs.Config) {
		set(i, cfg)
		if i == 0 {
			cfg.Admin = configs.Admin{Address: "127.0.0.1:0", Token: adminTestToken}
		}
	})
	api := newAdminClient(t, c.nodes[0])
	waitPeers(t, c.nodes[0], []string{addrs[1], addrs[2]})
	if code, nr := readyz(t, c.nodes[0]); code != http.StatusOK {
		t.Fatalf("node 1 not ready before the cut: %d %s", code, nr)
	}
	sub := connectV5(t, c.nodes[0], v5Connect("part-sub"))
	sub.subscribe(t, "part/t", 1)
	pub := connectV5(t, c.nodes[0], v5Connect("part-pub"))
	v3 := connectV3(t, c.nodes[0], "part-v3", nil)

	before := c.nodes[0].clusterOps()
	if before == nil {
		t.Fatal("node 1 has no cluster metrics")
	}
	c.proxies[0].Cut()
	// A QoS 1 PUBLISH from now on is not acknowledged: the cluster cannot
	// store it, and PUBACK says the server took ownership [MQTT-4.3.2-2].
	ctx, cancel := context.WithTimeout(context.Background(), clustertest.Timeout)
	defer cancel()
	pctx, stopPub := context.WithCancel(ctx)
	acked := make(chan error, 1)
	go func() {
		r, err := pub.Publish(pctx, &paho.Publish{Topic: "part/t", QoS: 1, Payload: []byte("into the cut")})
		if err == nil && r.ReasonCode < 0x80 {
			acked <- fmt.Errorf("acknowledged with %#x", r.ReasonCode)
			return
		}
		acked <- nil
	}()
	// Its clients are closed, pointed at another node.
	d := sub.expectServerDisconnect(t)
	if d.ReasonCode != byte(mqtt.UseAnotherServer) || !slices.Contains(addrs[1:], d.Properties.ServerReference) {
		t.Errorf("DISCONNECT %#x, Server Reference %q; want 0x9C and one of %q", d.ReasonCode, d.Properties.ServerReference, addrs[1:])
	}
	v3.expectLost(t)
	// The publisher was closed too, its PUBLISH unacknowledged.
	if d := pub.expectServerDisconnect(t); d.ReasonCode != byte(mqtt.UseAnotherServer) {
		t.Errorf("publisher's DISCONNECT %#x, want 0x9C", d.ReasonCode)
	}
	stopPub()
	if err := <-acked; err != nil {
		t.Errorf("a PUBLISH to the cut node: %v", err)
	}
	if code, nr := readyz(t, c.nodes[0]); code != http.StatusServiceUnavailable || !strings.Contains(nr, "cluster link") {
		t.Errorf("/readyz of the cut node: %d %q, want 503 with \"cluster link\"", code, nr)
	}
	expectUnavailable(t, c.nodes[0])
	// The admin publish waits for the cluster as a client's PUBLISH does:
	// refused with 503 rather than answered as stored.
	for _, qos := range []byte{0, 1} {
		if resp, b := api.call(t, "POST", "/api/v1/publish", admin.PublishRequest{Topic: "part/t", Payload: "admin into the cut", QoS: qos}); resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("admin publish at qos %d to the cut node: %d %s, want 503", qos, resp.StatusCode, b)
		}
	}
	// The others serve on.
	other := connectV5(t, c.nodes[1], v5Connect("part-other"))
	other.publish(t, &paho.Publish{Topic: "part/t", QoS: 1, Payload: []byte("elsewhere")})

	c.proxies[0].Heal()
	clustertest.Eventually(t, func() bool { code, _ := readyz(t, c.nodes[0]); return code == http.StatusOK },
		func() string {
			code, nr := readyz(t, c.nodes[0])
			return fmt.Sprintf("node 1 after healing: %d %s", code, nr)
		})
	// It accepts clients again [MQTT-3.2.2-1 CONNACK 0x00].
	back := connectV5(t, c.nodes[0], v5Connect("part-back"))
	back.roundTrip(t)
	if res := adminDo[admin.PublishResult](t, api, "POST", "/api/v1/publish", admin.PublishRequest{Topic: "part/t", Payload: "admin healed", QoS: 1}, http.StatusOK); !res.Stored {
		t.Errorf("admin publish after healing: %+v, want stored", res)
	}
	snap := c.nodes[0].clusterOps()
	if snap == nil || !snap.LinkUp || !snap.Serving || snap.LinkLosses < before.LinkLosses+1 || snap.MessagesOut < 1 {
		t.Errorf("node 1's cluster metrics after healing: %+v, before the cut %+v", snap, before)
	}
}

// TestClusterDrainSendsToOtherNodes: a draining node sends each MQTT 5
// client DISCONNECT 0x9C (Use another server) with another live node's
// advertised address as Server Reference, the live nodes in turn, and
// closes 3.1.1 clients.
func TestClusterDrainSendsToOtherNodes(t *testing.T) {
	addrs := clustertest.FreeAddrs(t, 3)
	set := advertised(addrs)
	c := startCluster(t, 3, func(i int, cfg *configs.Config) {
		set(i, cfg)
		cfg.Drain.Period = 200 * time.Millisecond
	})
	waitPeers(t, c.nodes[0], []string{addrs[1], addrs[2]})
	var v5s []*v5Client
	for i := range 4 {
		v5s = append(v5s, connectV5(t, c.nodes[0], v5Connect(fmt.Sprintf("drain-%d", i))))
	}
	v3 := connectV3(t, c.nodes[0], "drain-v3", nil)
	c.nodes[0].RequestDrain()
	refs := map[string]int{}
	for _, cl := range v5s {
		d := cl.expectServerDisconnect(t)
		if d.ReasonCode != byte(mqtt.UseAnotherServer) {
			t.Errorf("drain DISCONNECT %#x, want 0x9C", d.ReasonCode)
		}
		refs[d.Properties.ServerReference]++
	}
	if len(refs) != 2 || refs[addrs[1]] == 0 || refs[addrs[2]] == 0 {
		t.Errorf("Server References %v; want both other nodes, %q", refs, addrs[1:])
	}
	v3.expectLost(t)
}

// expectUnavailable checks a refused CONNECT on ts: 0x88 Server
// unavailable for MQTT 5, return code 3 for 3.1.1 [MQTT-3.2.2-6].
func expectUnavailable(t *testing.T, ts *testServer) {
	t.Helper()
	_, ack, err := dialV5(t, ts, v5Connect("refused-v5"))
	if err == nil || ack == nil || ack.ReasonCode != byte(mqtt.ServerUnavailable) {
		t.Errorf("v5 CONNECT to a cut node: %v, connack %+v; want 0x88", err, ack)
	}
	_, tok, err := dialV3(t, ts, "refused-v3", func(o *mqtt3.ClientOptions) { o.SetConnectRetry(false) })
	if err == nil || tok.ReturnCode() != mqtt.ConnRefusedServerUnavailable {
		t.Errorf("3.1.1 CONNECT to a cut node: %v, return code %d; want 3", err, tok.ReturnCode())
	}
}

// TestClusterPartitionClientsMove: the persistent MQTT 5 subscriber of a
// node cut from NATS is sent to a live node (DISCONNECT 0x9C with its
// address), resumes its session there (Clean Start 0: Session Present
// [MQTT-3.2.2-3]) and receives, in order, every QoS 1 message a third
// node acknowledged meanwhile: nothing acknowledged is lost
// [MQTT-4.3.2-2].
func TestClusterPartitionClientsMove(t *testing.T) {
	addrs := clustertest.FreeAddrs(t, 3)
	c := startProxiedCluster(t, 3, advertised(addrs))
	waitPeers(t, c.nodes[0], []string{addrs[1], addrs[2]})
	expiry := uint32(300)
	connect := func(clean bool) *paho.Connect {
		return &paho.Connect{ClientID: "mover", CleanStart: clean, KeepAlive: 60,
			Properties: &paho.ConnectProperties{SessionExpiryInterval: &expiry}}
	}
	sub := connectV5(t, c.nodes[0], connect(true))
	sub.subscribe(t, "move/t", 1)
	c.waitInterest(t, "move/t")
	pub := connectV5(t, c.nodes[2], v5Connect("move-pub"))
	pub.publish(t, &paho.Publish{Topic: "move/t", QoS: 1, Payload: []byte("before")})
	if m := sub.expectMessage(t); string(m.Payload) != "before" {
		t.Fatalf("before the cut: %q", m.Payload)
	}

	c.proxies[0].Cut()
	d := sub.expectServerDisconnect(t)
	ref := d.Properties.ServerReference
	target := slices.Index(addrs, ref)
	if d.ReasonCode != byte(mqtt.UseAnotherServer) || target < 1 {
		t.Fatalf("DISCONNECT %#x with Server Reference %q; want 0x9C and one of %q", d.ReasonCode, ref, addrs[1:])
	}
	const n = 20
	for i := range n {
		pub.publish(t, &paho.Publish{Topic: "move/t", QoS: 1, Payload: []byte(fmt.Sprintf("during %d", i))})
	}
	moved, ack, err := dialV5(t, c.nodes[target], connect(false))
	if err != nil {
		t.Fatalf("reconnecting to %s: %v (%v)", ref, err, ack)
	}
	if !ack.SessionPresent {
		t.Errorf("the session did not follow the client to %s: Session Present 0", ref)
	}
	// QoS 1 is at least once [MQTT-4.3.2]: "before", acknowledged just
	// before the cut, may come again (the old node's cursor may not have
	// reached the record); every message acknowledged meanwhile comes,
	// first in publish order.
	next := 0
	for next < n {
		m := moved.expectMessage(t)
		var k int
		_, err := fmt.Sscanf(string(m.Payload), "during %d", &k)
		switch {
		case err == nil && k == next:
			next++
		case err == nil && k < next: // a repeat of one received
		case err != nil && string(m.Payload) == "before" && next == 0:
		default:
			t.Fatalf("on the new node: %q while waiting for \"during %d\"", m.Payload, next)
		}
	}
	pub.publish(t, &paho.Publish{Topic: "move/t", QoS: 1, Payload: []byte("fence")})
	for m := moved.expectMessage(t); string(m.Payload) != "fence"; m = moved.expectMessage(t) {
		if !strings.HasPrefix(string(m.Payload), "during ") {
			t.Fatalf("on the new node before the fence: %q", m.Payload)
		}
	}
	c.proxies[0].Heal()
}

// TestClusterRetainedWill: a retained will is a retained message of the
// whole cluster [MQTT-3.1.2-17]: published by the node of a client that
// went away without DISCONNECT, it is delivered as retained to a client
// that subscribes on another node afterwards.
func TestClusterRetainedWill(t *testing.T) {
	c := startCluster(t, 2, nil)
	cp := willConnect("retained-dying", "will/retained", 0, 0)
	cp.WillMessage.Retain = true
	dying := connectV5(t, c.nodes[0], cp)
	dying.roundTrip(t)
	dying.raw.Close()
	eventually(t, "the will in node 2's retained store", func() bool {
		return len(c.nodes[1].eng.Broker().RetainedMatch("will/retained", time.Now())) == 1
	})
	late := connectV5(t, c.nodes[1], v5Connect("retained-late"))
	late.subscribe(t, "will/#", 1)
	m := late.expectMessage(t)
	if m.Topic != "will/retained" || string(m.Payload) != "gone: retained-dying" || !m.Retain {
		t.Fatalf("got %q on %q (retain %v), want the retained will", m.Payload, m.Topic, m.Retain)
	}
}
