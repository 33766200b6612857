package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestClusterNodeServes runs the command as a one-node cluster with its
// embedded NATS server: it serves MQTT, and a QoS 1 message published to
// it is acknowledged once the cluster's messages stream holds it (read
// from the embedded server with a NATS client); SIGTERM stops it cleanly.
func TestClusterNodeServes(t *testing.T) {
	addr, natsAddr := freeLoopbackAddr(t), freeLoopbackAddr(t)
	dir := t.TempDir()
	path := writeFile(t, "edgemq.yaml", fmt.Sprintf("data_dir: %s\nops: {address: ''}\ndrain: {period: 0s}\nshutdown_timeout: 5s\n"+
		"listeners:\n  - {name: tcp, type: tcp, address: '%s'}\n"+
		"cluster:\n  node: n1\n  replicas: 1\n  nats:\n    embedded: {client_listen: '%s'}\n", dir, addr, natsAddr))
	codes := make(chan int, 1)
	var stderr bytes.Buffer
	go func() {
		var stdout bytes.Buffer
		codes <- run([]string{"-c", path}, &stdout, &stderr)
	}()
	stopped := false
	defer func() {
		if !stopped {
			_ = syscall.Kill(os.Getpid(), syscall.SIGTERM)
			<-codes
		}
	}()
	// The node joins its cluster before it listens: a CONNACK means it
	// serves as a node.
	deadline := time.Now().Add(30 * time.Second)
	var nc net.Conn
	for {
		var err error
		if nc, err = net.DialTimeout("tcp", addr, time.Second); err == nil {
			break
		}
		select {
		case code := <-codes:
			stopped = true
			t.Fatalf("the command exited with %d: %s", code, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the node does not listen on %s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	c := paho.NewClient(paho.ClientConfig{Conn: nc})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := c.Connect(ctx, &paho.Connect{ClientID: "node-client", CleanStart: true, KeepAlive: 60}); err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer func() { _ = c.Disconnect(&paho.Disconnect{}) }()
	if _, err := c.Publish(ctx, &paho.Publish{Topic: "cmd/cluster", QoS: 1, Payload: []byte("stored")}); err != nil {
		t.Fatalf("publish: %v", err)
	}
	conn, err := nats.Connect("nats://"+natsAddr, nats.Timeout(5*time.Second))
	if err != nil {
		t.Fatalf("connecting to the embedded nats server: %v", err)
	}
	defer conn.Close()
	js, err := jetstream.New(conn)
	if err != nil {
		t.Fatal(err)
	}
	st, err := js.Stream(ctx, "EMQ_MESSAGES")
	if err != nil {
		t.Fatalf("the messages stream: %v", err)
	}
	// The PUBACK came after the stream stored it: it is there now.
	msg, err := st.GetLastMsgForSubject(ctx, "emq_q.t.cmd.cluster")
	if err != nil || !bytes.Contains(msg.Data, []byte("stored")) {
		t.Fatalf("the acknowledged message is not in the stream: %v", err)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	stopped = true
	select {
	case code := <-codes:
		if code != 0 {
			t.Fatalf("exit status %d after SIGTERM, want 0; stderr: %s", code, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the command did not stop on SIGTERM")
	}
}
