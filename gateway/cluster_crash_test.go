package gateway

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"edgemq/gateway/cluster"
	"edgemq/gateway/cluster/clustertest"

	"github.com/eclipse/paho.golang/paho"
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
  heartbeat_interval: 200ms
  liveness_ttl: 1s
  nats:
    urls: [%s]
    ping_interval: 400ms
`, filepath.Join(dir, fmt.Sprintf("data%d", i+1)), n.addr, i+1, nc.Servers[i].ClientURL())
		if err := os.WriteFile(n.conf, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(n.kill)
		nodes = append(nodes, n)
	}
	for _, n := range nodes {
		n.start()
	}
	return nc, nodes
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

// kill sends SIGKILL and reaps the process.
func (n *crashNode) kill() {
	if n.proc != nil && n.proc.ProcessState == nil {
		n.proc.Process.Kill()
		n.proc.Wait()
	}
}

// TestClusterKill9 kills the edgemq binary holding a persistent session
// and three clients with wills, with SIGKILL, while a publisher on
// another node sends QoS 1 messages: the session's client, reconnecting
// on a third node, finds its session (Session Present) and every
// acknowledged message, in order; the due wills are published once
// each, the delayed one not before its delay [MQTT-3.1.3-9], none for
// the client that disconnected cleanly [MQTT-3.1.2-10].
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
	sub, _ := crashClient(t, nodes[2].addr, &paho.Connect{ClientID: "k9-sub", CleanStart: true, KeepAlive: 60, Properties: sessProps},
		func(p *paho.Publish) { got <- string(p.Payload) })
	if _, err := sub.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "k9/q", QoS: 1}}}); err != nil {
		t.Fatal(err)
	}
	for _, s := range nc.Servers {
		clustertest.WaitInterest(t, s, cluster.TopicSubject("will/x"), cluster.TopicSubject("k9/q"))
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

	pub, _ := crashClient(t, nodes[0].addr, &paho.Connect{ClientID: "k9-pub", CleanStart: true, KeepAlive: 60}, nil)
	var acked []string
	publish := func(n int) {
		for range n {
			p := fmt.Sprintf("m%04d", len(acked))
			pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			_, err := pub.Publish(pctx, &paho.Publish{Topic: "k9/q", QoS: 1, Payload: []byte(p)})
			cancel()
			if err != nil {
				t.Fatalf("publish %s: %v", p, err)
			}
			acked = append(acked, p)
		}
	}
	publish(50)
	died := time.Now()
	nodes[2].kill()
	publish(50)

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
	// The session on another node: everything acknowledged, in order
	// (once each but for a redelivery of what was in flight at the kill).
	sub2, ack := crashClient(t, nodes[1].addr, &paho.Connect{ClientID: "k9-sub", KeepAlive: 60, Properties: sessProps},
		func(p *paho.Publish) { got <- string(p.Payload) })
	if !ack.SessionPresent {
		t.Fatal("Session Present 0 after the node holding the session died [MQTT-3.2.2-3]")
	}
	_ = sub2
	have := map[string]bool{}
	last := ""
	for len(have) < len(acked) {
		select {
		case p := <-got:
			if p < last && !have[p] {
				t.Fatalf("%s after %s: out of order", p, last)
			}
			have[p], last = true, max(last, p)
		case <-time.After(30 * time.Second):
			t.Fatalf("%d of %d acknowledged messages received", len(have), len(acked))
		}
	}
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
