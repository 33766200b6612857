package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// TestClusterExampleQuickCheck does what the README's "A three-node
// cluster on one machine" says, with the built binary and the three
// example configurations (their fixed ports moved to free ones, which CI
// may need): the three nodes start and become ready, a message published
// on node 1 reaches a subscriber on node 3, a retained message published
// on node 2 is there for a new subscriber on node 3, and SIGTERM stops
// each node cleanly.
func TestClusterExampleQuickCheck(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs three nodes")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "edgemq")
	if out, err := exec.Command("go", "build", "-o", bin, "edgemq/cmd/edgemq").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	// Every fixed port of the examples gets a free one, the same in the
	// three files (the routes name the other nodes' route ports).
	ports := map[string]string{}
	for _, base := range []int{1890, 8090, 9190, 4230, 6230} {
		for i := 1; i <= 3; i++ {
			ports[fmt.Sprintf("127.0.0.1:%d", base+i)] = freeLoopbackAddr(t)
		}
	}
	mqttAddr := func(i int) string { return ports[fmt.Sprintf("127.0.0.1:%d", 1890+i)] }
	opsAddr := func(i int) string { return ports[fmt.Sprintf("127.0.0.1:%d", 9190+i)] }
	procs := make([]*exec.Cmd, 3)
	exits := make([]chan error, 3)
	for i := 1; i <= 3; i++ {
		b, err := os.ReadFile(fmt.Sprintf("../../configs/examples/cluster/node%d.yaml", i))
		if err != nil {
			t.Fatal(err)
		}
		// One pass over whole addresses: replacing one after another
		// could rewrite a free port already put in (127.0.0.1:4231 is a
		// prefix of 127.0.0.1:42317).
		conf := loopbackAddrRE.ReplaceAllStringFunc(string(b), func(addr string) string {
			if to, ok := ports[addr]; ok {
				return to
			}
			return addr
		})
		// Quick to stop: no drain period to wait out.
		conf += "log: {level: warn}\ndrain: {period: 0s}\nshutdown_timeout: 5s\n"
		path := filepath.Join(dir, fmt.Sprintf("node%d.yaml", i))
		if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "-c", path)
		cmd.Dir = dir // data_dir ./data-nodeN, as from the repository root
		cmd.Stderr = testWriter{t, fmt.Sprintf("node%d", i)}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		procs[i-1] = cmd
		exited := make(chan error, 1)
		exits[i-1] = exited
		go func() { exited <- cmd.Wait() }()
		t.Cleanup(func() {
			_ = cmd.Process.Kill() // after the SIGTERM below: already gone
			<-exited
			exited <- nil
		})
	}
	// "curl -s 127.0.0.1:9191/readyz answers 200 once node 1 serves".
	for i := 1; i <= 3; i++ {
		waitReady(t, opsAddr(i), exits[i-1])
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	got := make(chan *paho.Publish, 4)
	sub := pahoClient(ctx, t, mqttAddr(3), "readme-sub", got)
	if _, err := sub.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "demo/cluster", QoS: 1}}}); err != nil {
		t.Fatal(err)
	}
	pub := pahoClient(ctx, t, mqttAddr(1), "readme-pub", nil)
	// The subscription reaches node 1 through NATS a moment after SUBACK:
	// publish until one arrives (QoS 1, acknowledged each time).
	var first *paho.Publish
	for first == nil {
		if _, err := pub.Publish(ctx, &paho.Publish{Topic: "demo/cluster", QoS: 1, Payload: []byte("hello from node1")}); err != nil {
			t.Fatal(err)
		}
		select {
		case first = <-got:
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			t.Fatal("no message crossed from node 1 to node 3")
		}
	}
	if string(first.Payload) != "hello from node1" {
		t.Errorf("node 3 received %q", first.Payload)
	}

	pub2 := pahoClient(ctx, t, mqttAddr(2), "readme-pub2", nil)
	if _, err := pub2.Publish(ctx, &paho.Publish{Topic: "demo/retained", QoS: 1, Retain: true, Payload: []byte("kept by the cluster")}); err != nil {
		t.Fatal(err)
	}
	kept := make(chan *paho.Publish, 1)
	sub2 := pahoClient(ctx, t, mqttAddr(3), "readme-sub2", kept)
	if _, err := sub2.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "demo/retained", QoS: 1}}}); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-kept:
		if string(m.Payload) != "kept by the cluster" || !m.Retain {
			t.Errorf("retained message on node 3: %q, retain %v", m.Payload, m.Retain)
		}
	case <-ctx.Done():
		t.Fatal("the retained message stored on node 2 did not reach a subscriber on node 3")
	}
	for _, c := range []*paho.Client{sub, pub, pub2, sub2} {
		_ = c.Disconnect(&paho.Disconnect{})
	}

	for i, p := range procs {
		if err := p.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-exits[i]:
			exits[i] <- err // for the cleanup
			if err != nil {
				t.Errorf("node%d after SIGTERM: %v", i+1, err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("node%d did not stop on SIGTERM", i+1)
		}
	}
}

// waitReady polls a node's /readyz until it answers 200, failing when the
// node exits (exited delivers its Wait) or after a deadline.
func waitReady(t *testing.T, ops string, exited chan error) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + ops + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("the node of %s exited before it was ready: %v", ops, err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s/readyz never answered 200 (last: %v)", ops, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// pahoClient connects an MQTT 5 client to addr; what it receives goes to
// got (nil: nothing expected).
func pahoClient(ctx context.Context, t *testing.T, addr, id string, got chan *paho.Publish) *paho.Client {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	cfg := paho.ClientConfig{Conn: nc}
	if got != nil {
		cfg.OnPublishReceived = []func(paho.PublishReceived) (bool, error){func(r paho.PublishReceived) (bool, error) {
			select {
			case got <- r.Packet:
			default:
			}
			return true, nil
		}}
	}
	c := paho.NewClient(cfg)
	ack, err := c.Connect(ctx, &paho.Connect{ClientID: id, CleanStart: true, KeepAlive: 30})
	if err != nil || ack.ReasonCode != 0 {
		t.Fatalf("connecting %s to %s: %v (%v)", id, addr, err, ack)
	}
	t.Cleanup(func() { nc.Close() })
	return c
}

// testWriter logs a process's output lines.
type testWriter struct {
	t    *testing.T
	name string
}

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Logf("%s: %s", w.name, strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// loopbackAddrRE matches a whole loopback address with its port.
var loopbackAddrRE = regexp.MustCompile(`127\.0\.0\.1:[0-9]+`)
