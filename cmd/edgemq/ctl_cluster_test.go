package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"edgemq/configs"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestCtlClientsCluster runs edgemq ctl against a gateway that is a
// one-node cluster with its embedded NATS server. clients --scope
// cluster asks every live node: its client comes with its node, and
// none is missing; then a node that is live by its liveness record but
// answers nothing (written into the nodes bucket with a NATS client: a
// hung node) is named as not answering. publish says the cluster stored
// the QoS 1 message.
func TestCtlClientsCluster(t *testing.T) {
	natsAddr := freeLoopbackAddr(t)
	g := startCtlGateway(t, func(cfg *configs.Config) {
		cfg.Cluster.Node = "n1"
		cfg.Cluster.Replicas = 1
		cfg.Cluster.NATS.Embedded.ClientListen = natsAddr
	})
	sub := connectV5(t, g.tcp, "cw-1")
	sub.subscribe(t, "cw/#", 1)

	type item struct {
		ClientID string `json:"client_id"`
		Node     string `json:"node"`
	}
	type page struct {
		Items        []item   `json:"items"`
		MissingNodes []string `json:"missing_nodes"`
	}
	pg := ctlJSON[page](t, g, "clients", "--scope", "cluster", "--client-id", "cw-")
	if len(pg.Items) != 1 || pg.Items[0] != (item{"cw-1", "n1"}) || pg.MissingNodes == nil || len(pg.MissingNodes) != 0 {
		t.Errorf("clients --scope cluster --json: %+v, want cw-1 on n1 and missing_nodes []", pg)
	}
	// The node's own listing has no missing_nodes.
	if own := ctlJSON[page](t, g, "clients", "--scope", "node"); own.MissingNodes != nil || len(own.Items) != 1 {
		t.Errorf("clients --scope node --json: %+v", own)
	}

	code, out, errOut := g.ctl(t, "publish", "--qos", "1", "cw/t", "hello")
	if code != 0 || !strings.Contains(out, "delivered to 1, stored") {
		t.Errorf("publish: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	sub.expectMessage(t, "cw/t", "hello")

	nc, err := nats.Connect("nats://"+natsAddr, nats.Timeout(5*time.Second))
	if err != nil {
		t.Fatalf("connecting to the embedded nats server: %v", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kv, err := js.KeyValue(ctx, "EMQ_NODES")
	if err != nil {
		t.Fatalf("the nodes bucket: %v", err)
	}
	if _, err := kv.Put(ctx, "ghost", []byte(`{"node":"ghost","since":"2026-01-01T00:00:00Z","incarnation":"ghost-1"}`)); err != nil {
		t.Fatalf("writing the hung node's record: %v", err)
	}
	code, out, errOut = g.ctl(t, "clients", "--scope", "cluster", "--client-id", "cw-")
	if code != 0 {
		t.Fatalf("clients --scope cluster: exit %d, stderr %q", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "NODE") || !strings.HasPrefix(lines[1], "n1") || !strings.Contains(lines[1], "cw-1") ||
		lines[2] != "1 clients" || lines[3] != "nodes that did not answer (their clients are not listed): ghost" {
		t.Errorf("clients --scope cluster with a hung node:\n%s", out)
	}
	if code, _, errOut = g.ctl(t, "clients", "--scope", "galaxy"); code != ctlUsage || !strings.Contains(errOut, `"galaxy" is not node or cluster`) {
		t.Errorf("--scope galaxy: exit %d, stderr %q; want %d", code, errOut, ctlUsage)
	}
}
