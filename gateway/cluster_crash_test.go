package gateway

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"edgemq/gateway/cluster"
	"edgemq/gateway/cluster/backend"
	"edgemq/gateway/cluster/clustertest"
	"edgemq/mqtt"

	"github.com/eclipse/paho.golang/paho"
	"github.com/eclipse/paho.golang/paho/session/state"
)

// crashNode is one edgemq binary of a cluster, a node on an external
// NATS server.
type crashNode struct {
	t    *testing.T
	bin  string
	conf string
	addr string
	proc *exec.Cmd
}

// startCrashCluster builds the edgemq binary and runs one node on each
// server of a 3-server NATS cluster, whose liveness lapses a second after
// it stops renewing.
func startCrashCluster(t *testing.T) (*clustertest.Cluster, []*crashNode) {
	t.Helper()
	nc := clustertest.Start(t, 3)
	return nc, startCrashNodes(t, nc.URLs())
}

// startCrashNodes runs one node of the built binary on each of urls (the
// NATS server of each, or a proxy to it).
func startCrashNodes(t *testing.T, urls []string) []*crashNode {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "edgemq")
	if out, err := exec.Command("go", "build", "-o", bin, "edgemq/cmd/edgemq").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	addrs := clustertest.FreeAddrs(t, 3)
	var nodes []*crashNode
	for i := range 3 {
		n := &crashNode{t: t, bin: bin, conf: filepath.Join(dir, fmt.Sprintf("n%d.yaml", i+1)), addr: addrs[i]}
		cfg := fmt.Sprintf(`data_dir: %s
log: {level: warn}
ops: {address: ""}
listeners:
  - {name: tcp, type: tcp, address: "%s"}
cluster:
  node: k%d
  replicas: 3
  heartbeat_interval: %v
  liveness_ttl: %v
  nats:
    urls: [%s]
    ping_interval: %v
  shared: {ack_wait: 2s}
`, filepath.Join(dir, fmt.Sprintf("data%d", i+1)), n.addr, i+1, faultHeartbeat, faultTTL, urls[i], faultPing)
		if err := os.WriteFile(n.conf, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(n.kill)
		nodes = append(nodes, n)
	}
	for _, n := range nodes {
		n.start()
	}
	return nodes
}

func (n *crashNode) start() {
	n.t.Helper()
	n.proc = exec.Command(n.bin, "-c", n.conf)
	n.proc.Stderr = &lineLogger{t: n.t}
	if err := n.proc.Start(); err != nil {
		n.t.Fatal(err)
	}
	eoWaitFor(n.t, 30*time.Second, "edgemq node listening", func() bool {
		c, err := crashDial(n.addr, &paho.Connect{ClientID: "probe-" + n.addr, CleanStart: true, KeepAlive: 60}, nil)
		if err == nil {
			c.Disconnect(&paho.Disconnect{})
		}
		return err == nil
	})
}

// crashSessionClient connects as crashClient does, with the client's
// session state ss (paho's own QoS 2 bookkeeping), which a later
// connection of the same client may use.
func crashSessionClient(t *testing.T, addr string, cp *paho.Connect, ss *state.State, onMsg func(*paho.Publish)) *paho.Client {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c := paho.NewClient(paho.ClientConfig{Conn: nc, Session: ss,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			onMsg(pr.Packet)
			return true, nil
		}},
		OnClientError: func(error) {},
	})
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	ack, err := c.Connect(ctx, cp)
	if err != nil {
		nc.Close()
		t.Fatalf("connect %q: %v", cp.ClientID, err)
	}
	lastConnack.Store(c, ack)
	t.Cleanup(func() { c.Disconnect(&paho.Disconnect{}) })
	return c
}

// kill sends SIGKILL and reaps the process.
func (n *crashNode) kill() {
	if n.proc != nil && n.proc.ProcessState == nil {
		n.proc.Process.Kill()
		n.proc.Wait()
	}
}

// TestClusterKill9 kills the edgemq binary holding a persistent session
// and three clients with wills, with SIGKILL, while publishers on the
// two other nodes send QoS 1 and QoS 2 messages: the session's client,
// reconnecting on another node with its own session state kept, finds
// its session (Session Present) and every acknowledged message, in each
// publisher's order, the QoS 1 ones at least once, the QoS 2 ones
// exactly once (the new node resends what was in flight with DUP and
// its packet id, or its PUBREL [MQTT-4.4.0-1]); the due wills are
// published once each, the delayed one not before its delay
// [MQTT-3.1.3-9], none for the client that disconnected cleanly
// [MQTT-3.1.2-10].
func TestClusterKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the edgemq binary")
	}
	nc, nodes := startCrashCluster(t)
	ctx := t.Context()
	wills := make(chan *paho.Publish, 16)
	watch, _ := crashClient(t, nodes[0].addr, &paho.Connect{ClientID: "k9-watch", CleanStart: true, KeepAlive: 60},
		func(p *paho.Publish) { wills <- p })
	if _, err := watch.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "will/#", QoS: 1}}}); err != nil {
		t.Fatal(err)
	}
	sessProps := &paho.ConnectProperties{SessionExpiryInterval: refOf(uint32(300))}
	got := make(chan string, 4096)
	// The subscriber's own session state (the QoS 2 ids it sent PUBREC
	// for) outlives its connection, as a client's must for exactly once.
	subState := state.NewInMemory()
	t.Cleanup(func() { subState.Close() })
	sub := crashSessionClient(t, nodes[2].addr, &paho.Connect{ClientID: "k9-sub", CleanStart: true, KeepAlive: 60, Properties: sessProps},
		subState, func(p *paho.Publish) { got <- string(p.Payload) })
	if _, err := sub.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "k9/q", QoS: 1}, {Topic: "k9/q2", QoS: 2}}}); err != nil {
		t.Fatal(err)
	}
	for _, s := range nc.Servers {
		clustertest.WaitInterest(t, s, cluster.TopicSubject("will/x"), cluster.TopicSubject("k9/q"), cluster.TopicSubject("k9/q2"))
	}
	withWill := func(id string, expiry, delay uint32) *paho.Connect {
		cp := &paho.Connect{ClientID: id, CleanStart: true, KeepAlive: 60,
			Properties:  &paho.ConnectProperties{SessionExpiryInterval: refOf(expiry)},
			WillMessage: &paho.WillMessage{Topic: "will/" + id, QoS: 1, Payload: []byte(id)}}
		if delay > 0 {
			cp.WillProperties = &paho.WillProperties{WillDelayInterval: refOf(delay)}
		}
		return cp
	}
	crashClient(t, nodes[2].addr, withWill("k9-now", 0, 0), nil)
	crashClient(t, nodes[2].addr, withWill("k9-delay", 60, 2), nil)
	clean, _ := crashClient(t, nodes[2].addr, withWill("k9-clean", 60, 0), nil)
	clean.Disconnect(&paho.Disconnect{})

	// Publishers on the nodes that live: QoS 1 ("m…") on one, QoS 2
	// ("n…") on the other.
	pub, _ := crashClient(t, nodes[0].addr, &paho.Connect{ClientID: "k9-pub", CleanStart: true, KeepAlive: 60}, nil)
	pub2, _ := crashClient(t, nodes[1].addr, &paho.Connect{ClientID: "k9-pub2", CleanStart: true, KeepAlive: 60}, nil)
	var acked []string
	publish := func(n int) {
		for range n {
			k := len(acked) / 2
			for _, m := range []struct {
				c     *paho.Client
				topic string
				qos   byte
				p     string
			}{{pub, "k9/q", 1, fmt.Sprintf("m%04d", k)}, {pub2, "k9/q2", 2, fmt.Sprintf("n%04d", k)}} {
				pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				_, err := m.c.Publish(pctx, &paho.Publish{Topic: m.topic, QoS: m.qos, Payload: []byte(m.p)})
				cancel()
				if err != nil {
					t.Fatalf("publish %s: %v", m.p, err)
				}
				acked = append(acked, m.p)
			}
		}
	}
	publish(50)
	jobs := sharedGroupBeforeKill(t, nc, nodes, pub)
	// Jobs go on being published through the kill: some are in transit
	// to the dying node when it dies (taken from the group's consumer,
	// not yet in its member's record).
	stopJobs := jobs.stream(t, nodes[1].addr)
	jobs.waitStreamed(t, 40)
	died := time.Now()
	nodes[2].kill()
	publish(50)
	stopJobs()

	// The wills.
	seen := map[string]time.Time{}
	for len(seen) < 2 {
		select {
		case p := <-wills:
			if _, dup := seen[p.Topic]; dup {
				t.Fatalf("will %s published twice", p.Topic)
			}
			seen[p.Topic] = time.Now()
		case <-time.After(30 * time.Second):
			t.Fatalf("wills seen %v, want will/k9-now and will/k9-delay", seen)
		}
	}
	if _, ok := seen["will/k9-now"]; !ok {
		t.Fatalf("wills %v lack will/k9-now", seen)
	}
	at, ok := seen["will/k9-delay"]
	if !ok {
		t.Fatalf("wills %v lack will/k9-delay", seen)
	}
	if d := at.Sub(died); d < 2*time.Second {
		t.Fatalf("delayed will published %v after the kill, before its 2s delay", d)
	}
	// The session on another node: everything acknowledged, in each
	// publisher's order: QoS 1 once each but for a redelivery of what
	// was in flight at the kill, QoS 2 exactly once.
	sub2 := crashSessionClient(t, nodes[1].addr, &paho.Connect{ClientID: "k9-sub", KeepAlive: 60, Properties: sessProps},
		subState, func(p *paho.Publish) { got <- string(p.Payload) })
	if ack, _ := lastConnack.Load(sub2); !ack.(*paho.Connack).SessionPresent {
		t.Fatal("Session Present 0 after the node holding the session died [MQTT-3.2.2-3]")
	}
	have := map[string]bool{}
	last := map[byte]string{}
	receive := func(p string) {
		t.Helper()
		k := p[0]
		switch {
		case k == 'n' && have[p]:
			t.Fatalf("QoS 2 message %s received twice", p)
		case p < last[k] && !have[p]:
			t.Fatalf("%s after %s: out of order", p, last[k])
		}
		have[p], last[k] = true, max(last[k], p)
	}
	for len(have) < len(acked) {
		select {
		case p := <-got:
			receive(p)
		case <-time.After(30 * time.Second):
			var missing []string
			for _, p := range acked {
				if !have[p] {
					missing = append(missing, p)
				}
			}
			t.Fatalf("%d of %d acknowledged messages received; missing %q", len(have), len(acked), missing)
		}
	}
	// Nothing more of QoS 2 before a last one.
	if _, err := pub2.Publish(ctx, &paho.Publish{Topic: "k9/q2", QoS: 2, Payload: []byte("nfence")}); err != nil {
		t.Fatal(err)
	}
	for !have["nfence"] {
		select {
		case p := <-got:
			receive(p)
		case <-time.After(30 * time.Second):
			t.Fatal("no nfence")
		}
	}
	jobs.handedOver(t)
	// No third will (the clean one): the fence comes next.
	if _, err := pub.Publish(ctx, &paho.Publish{Topic: "will/fence", QoS: 1, Payload: []byte("fence")}); err != nil {
		t.Fatal(err)
	}
	select {
	case p := <-wills:
		if p.Topic != "will/fence" {
			t.Fatalf("got %s before the fence", p.Topic)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no fence")
	}
}

// k9Jobs is the shared subscription group of TestClusterKill9: what its
// member on a node that lives got, and the jobs published to it.
type k9Jobs struct {
	mu   sync.Mutex // sent, while stream runs
	got  chan string
	have map[string]bool // of got
	sent []string
}

// sharedGroupBeforeKill joins a shared subscription group with a member
// on nodes[2], the node about to die, which never acknowledges, and one
// on nodes[0], which does; publishes QoS 1 jobs through pub, and waits
// until each reached a member's client: those of the member that dies
// are in its session's record (a PUBLISH through a group leaves only
// once the record lists it), with no checkpoint to wait for.
func sharedGroupBeforeKill(t *testing.T, nc *clustertest.Cluster, nodes []*crashNode, pub *paho.Client) *k9Jobs {
	t.Helper()
	const group, topic, n = "$share/k9g/k9/job", "k9/job", 20
	j := &k9Jobs{got: make(chan string, 1<<14), have: map[string]bool{}}
	worker, _ := crashClient(t, nodes[0].addr, &paho.Connect{ClientID: "k9-worker", CleanStart: true, KeepAlive: 60},
		func(p *paho.Publish) { j.got <- string(p.Payload) })
	if _, err := worker.Subscribe(t.Context(), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: group, QoS: 1}}}); err != nil {
		t.Fatal(err)
	}
	conn, err := net.DialTimeout("tcp", nodes[2].addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	dying := &rawV5{conn: conn}
	dying.send(t, &mqtt.Connect{ProtocolName: "MQTT", Version: mqtt.V5, CleanStart: true, KeepAlive: 60, ClientID: "k9-worker-dies"})
	if ack, ok := dying.read(t).(*mqtt.Connack); !ok || ack.ReasonCode != mqtt.Success {
		t.Fatalf("connect k9-worker-dies: got %+v", ack)
	}
	dying.send(t, &mqtt.Subscribe{PacketID: 1, Subscriptions: []mqtt.Subscription{{Filter: group, QoS: 1}}})
	if p := dying.read(t); p == nil || p.Type() != mqtt.SUBACK {
		t.Fatalf("got %v, want SUBACK", p)
	}
	subject := backend.GroupSubject("k9g", topic)
	for _, s := range nc.Servers {
		clustertest.Eventually(t, func() bool { return s.Interest(subject) >= 2 },
			func() string { return fmt.Sprintf("server %s does not see both members of the group", s.Name()) })
	}
	// What the member that dies is sent, never acknowledged.
	held := make(chan string, 1<<14)
	go func() {
		for {
			p, err := mqtt.ReadPacket(conn, mqtt.V5, 0)
			if err != nil {
				return // its node is killed
			}
			if pp, ok := p.(*mqtt.Publish); ok {
				held <- string(pp.Payload)
			}
		}
	}()
	for i := range n {
		p := fmt.Sprintf("job%02d", i)
		if _, err := pub.Publish(t.Context(), &paho.Publish{Topic: topic, QoS: 1, Payload: []byte(p)}); err != nil {
			t.Fatalf("publish %s: %v", p, err)
		}
		j.sent = append(j.sent, p)
	}
	seen := map[string]bool{}
	for len(seen) < n {
		select {
		case p := <-j.got:
			seen[p], j.have[p] = true, true
		case p := <-held:
			seen[p] = true
		case <-time.After(30 * time.Second):
			t.Fatalf("%d of %d jobs reached a member", len(seen), n)
		}
	}
	return j
}

// stream publishes QoS 1 jobs to the group from a client of addr, one
// after another, each counted once acknowledged, until the returned stop
// is called (it waits for the last).
func (j *k9Jobs) stream(t *testing.T, addr string) (stop func()) {
	t.Helper()
	c, _ := crashClient(t, addr, &paho.Connect{ClientID: "k9-jobpub", CleanStart: true, KeepAlive: 60}, nil)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ctx.Err() == nil; i++ {
			p := fmt.Sprintf("jobs%04d", i)
			if _, err := c.Publish(ctx, &paho.Publish{Topic: "k9/job", QoS: 1, Payload: []byte(p)}); err != nil {
				if ctx.Err() == nil {
					t.Errorf("publish %s: %v", p, err)
				}
				return
			}
			j.mu.Lock()
			j.sent = append(j.sent, p)
			j.mu.Unlock()
		}
	}()
	return func() { cancel(); <-done }
}

// waitStreamed waits until stream had n jobs acknowledged.
func (j *k9Jobs) waitStreamed(t *testing.T, n int) {
	t.Helper()
	clustertest.Eventually(t, func() bool {
		j.mu.Lock()
		defer j.mu.Unlock()
		return len(j.sent) >= n+20 // the 20 of sharedGroupBeforeKill
	}, func() string { return "the jobs publisher is not publishing" })
}

// handedOver waits until every job reached the member on a node that
// lived: those the dying member held, unacknowledged, were handed to it
// (4.8.2: "the Server SHOULD send the Application Message to another
// Client that is subscribed to the same Shared Subscription").
func (j *k9Jobs) handedOver(t *testing.T) {
	t.Helper()
	have := j.have
	for len(have) < len(j.sent) {
		select {
		case p := <-j.got:
			have[p] = true
		case <-time.After(30 * time.Second):
			var missing []string
			for _, p := range j.sent {
				if !have[p] {
					missing = append(missing, p)
				}
			}
			t.Fatalf("%d of %d jobs reached the live member; missing %q", len(have), len(j.sent), missing)
		}
	}
}

// TestClusterKill9SharedInTransit: a shared subscription group with a
// member on a node that lives, which acknowledges, and one on a node
// that dies, which never does. Jobs are published to the group without
// pause. The dying node's link to NATS goes mute (what it sends is
// lost, what it is sent still arrives): the jobs it takes from the group
// reach it, and its member's record can no longer list them, nor can it
// confirm them, as when a node dies right after taking them. Then its
// process is killed (kill -9). Every acknowledged job reaches the member
// that lives: those the dead node took and never recorded are handed
// out again by the group's consumer (cluster.shared.ack_wait), those its
// record lists by the node that claims its session.
func TestClusterKill9SharedInTransit(t *testing.T) {
	nc := clustertest.Start(t, 3)
	urls := nc.URLs()
	proxy := clustertest.NewProxy(t, strings.TrimPrefix(urls[2], "nats://"))
	urls[2] = proxy.URL()
	nodes := startCrashNodes(t, urls)
	pub, _ := crashClient(t, nodes[0].addr, &paho.Connect{ClientID: "k9t-pub", CleanStart: true, KeepAlive: 60}, nil)
	jobs := sharedGroupBeforeKill(t, nc, nodes, pub)
	stop := jobs.stream(t, nodes[1].addr)
	jobs.waitStreamed(t, 20)
	proxy.Mute()
	jobs.waitStreamed(t, 100) // about half of the 80 since went to the muted node
	nodes[2].kill()
	stop()
	jobs.handedOver(t)
}
