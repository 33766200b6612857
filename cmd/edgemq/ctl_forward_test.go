package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"edgemq/configs"
	"edgemq/gateway/cluster"
	"edgemq/gateway/cluster/clustertest"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestCtlClientForwarded runs edgemq ctl against node a of a two-node
// cluster (a runs the embedded NATS server, b uses it as its external
// one) for clients connected to node b: clients show and kick with
// --scope cluster are answered by b, named in the answer, found through
// the client's session record, for a client with a persistent session
// and one whose session ends with its connection; the kick is b's own, a v5
// DISCONNECT with the code asked [MQTT-3.14.2-1], the session kept or
// ended by its expiry as on a local kick [MQTT-3.1.2-23]. Without
// --scope cluster a's own clients only are looked at (404). An id no
// node has is a 404; a client whose record names a node that does not
// answer, or a live node that does not answer while no other has the
// client, is a 504 naming the node.
func TestCtlClientForwarded(t *testing.T) {
	natsAddr := freeLoopbackAddr(t)
	a := startCtlGateway(t, func(cfg *configs.Config) {
		cfg.Cluster.Node = "a"
		cfg.Cluster.Replicas = 1
		cfg.Cluster.NATS.Embedded.ClientListen = natsAddr
	})
	b := startCtlGateway(t, func(cfg *configs.Config) {
		cfg.Cluster.Node = "b"
		cfg.Cluster.Replicas = 1
		cfg.Cluster.NATS.URLs = []string{"nats://" + natsAddr}
	})
	kv := sessionsBucket(t, natsAddr)

	type shown struct {
		ClientID      string      `json:"client_id"`
		Node          string      `json:"node"`
		Protocol      string      `json:"protocol"`
		Subscriptions []ctlSubDoc `json:"subscriptions"`
		SessionExpiry uint32      `json:"session_expiry"`
	}
	type kicked struct {
		ClientID   string `json:"client_id"`
		ReasonCode string `json:"reason_code"`
		Node       string `json:"node"`
	}
	for _, tc := range []struct {
		name   string
		id     string
		expiry uint32
		reason []string
		code   byte
	}{
		{"persistent session, default reason", "fw-persistent", 600, nil, 0x98},
		{"session ending with the connection, reason asked", "fw-clean", 0, []string{"--reason", "server-shutting-down"}, 0x8B},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := connectV5Expiry(t, b.tcp, tc.id, tc.expiry)
			c.subscribe(t, "fw/"+tc.id, 1) // after SUBACK the client is listed on b
			// Node a finds b through the session record, which names b.
			if e, err := kv.Get(context.Background(), cluster.SessionKey(tc.id)); err != nil {
				t.Fatalf("session record of %s: %v", tc.id, err)
			} else if rec, err := cluster.DecodeSession(e.Value()); err != nil || rec.Owner != "b" || !rec.Connected {
				t.Fatalf("session record of %s: %+v, %v; want connected on b", tc.id, rec, err)
			}

			if code, _, errOut := a.ctl(t, "clients", "show", tc.id); code != ctlNotFound {
				t.Errorf("show without --scope on node a: exit %d (%s), want %d: only a's own clients", code, errOut, ctlNotFound)
			}
			d := ctlJSON[shown](t, a, "clients", "show", tc.id, "--scope", "cluster")
			if d.ClientID != tc.id || d.Node != "b" || d.Protocol != "5.0" || d.SessionExpiry != tc.expiry ||
				len(d.Subscriptions) != 1 || d.Subscriptions[0].Filter != "fw/"+tc.id {
				t.Errorf("show --scope cluster on node a: %+v; want %s on node b with its subscription", d, tc.id)
			}
			// The API itself, as ctl calls it.
			if status, body := apiCall(t, a, "GET", "/api/v1/clients/"+tc.id+"?scope=cluster"); status != http.StatusOK || !strings.Contains(body, `"node":"b"`) {
				t.Errorf("GET /api/v1/clients/%s?scope=cluster on node a: %d %s; want 200 naming node b", tc.id, status, body)
			}
			code, out, errOut := a.ctl(t, "clients", "show", tc.id, "--scope", "cluster")
			if code != 0 || !strings.Contains(out, "node:") || !strings.Contains(out, " b\n") {
				t.Errorf("show --scope cluster table: exit %d, stdout %q, stderr %q; want a node: b row", code, out, errOut)
			}

			args := append([]string{"clients", "kick", tc.id, "--scope", "cluster"}, tc.reason...)
			k := ctlJSON[kicked](t, a, args...)
			if want := (kicked{tc.id, fmt.Sprintf("0x%02X", tc.code), "b"}); k != want {
				t.Errorf("kick --scope cluster: %+v, want %+v", k, want)
			}
			select {
			case dis := <-c.disconnect:
				if byte(dis.ReasonCode) != tc.code {
					t.Errorf("the client got DISCONNECT 0x%02X, want 0x%02X", dis.ReasonCode, tc.code)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the kicked client got no DISCONNECT")
			}
			// As on a local kick: the connection ends; a persistent
			// session stays on b, offline; one without expiry ends.
			clustertest.Eventually(t, func() bool {
				code, out, _ := b.ctl(t, "--json", "sessions", "show", tc.id)
				if tc.expiry == 0 {
					return code == ctlNotFound
				}
				return code == 0 && strings.Contains(out, `"connected": false`)
			}, func() string { return "the session of " + tc.id + " on b is not as a local kick leaves it" })
			if code, _, errOut := a.ctl(t, "clients", "show", tc.id, "--scope", "cluster"); code != ctlNotFound {
				t.Errorf("show after the kick: exit %d (%s), want %d", code, errOut, ctlNotFound)
			}
		})
	}

	t.Run("unknown id", func(t *testing.T) {
		for _, cmd := range []string{"show", "kick"} {
			code, _, errOut := a.ctl(t, "clients", cmd, "fw-nobody", "--scope", "cluster")
			if code != ctlNotFound || !strings.Contains(errOut, "404") || !strings.Contains(errOut, "not connected to any node") {
				t.Errorf("%s of an unknown id: exit %d, stderr %q; want %d and a 404", cmd, code, errOut, ctlNotFound)
			}
		}
		if status, body := apiCall(t, a, "GET", "/api/v1/clients/fw-nobody?scope=galaxy"); status != http.StatusBadRequest {
			t.Errorf("scope galaxy: %d %s, want 400", status, body)
		}
	})

	t.Run("sessions", func(t *testing.T) { testSessionsForwarded(t, a, b, kv, natsAddr) }) // ctl_forward_sessions_test.go

	t.Run("owner does not answer", func(t *testing.T) {
		// A session record naming a node that is gone (killed before its
		// liveness record lapsed): the record is read, the node asked.
		rec, err := cluster.EncodeSession(&cluster.SessionRecord{Owner: "ghost", Epoch: 1, Connected: true, Expiry: 600})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := kv.Put(context.Background(), cluster.SessionKey("fw-ghost"), rec); err != nil {
			t.Fatalf("writing the ghost's session record: %v", err)
		}
		for _, cmd := range []string{"show", "kick"} {
			code, _, errOut := a.ctl(t, "clients", cmd, "fw-ghost", "--scope", "cluster")
			if code != ctlError || !strings.Contains(errOut, "504") || !strings.Contains(errOut, "node ghost") {
				t.Errorf("%s of a client of a node that does not answer: exit %d, stderr %q; want %d, 504 naming node ghost", cmd, code, errOut, ctlError)
			}
		}
		for _, path := range []string{"/api/v1/clients/fw-ghost?scope=cluster", "/api/v1/sessions/fw-ghost?scope=cluster"} {
			if status, body := apiCall(t, a, "DELETE", path); status != http.StatusGatewayTimeout || !strings.Contains(body, "node ghost") {
				t.Errorf("DELETE %s of a node that does not answer: %d %s; want 504 naming node ghost", path, status, body)
			}
		}
		// The ghost's session, connected or offline, is the ghost's to
		// show: its record names it, and no live node is asked instead.
		putSessionRecord(t, kv, "fws-ghost-offline", &cluster.SessionRecord{Owner: "ghost", Epoch: 1, Expiry: 600})
		for _, id := range []string{"fw-ghost", "fws-ghost-offline"} {
			if code, _, errOut := a.ctl(t, "sessions", "show", id, "--scope", "cluster"); code != ctlError || !strings.Contains(errOut, "504") || !strings.Contains(errOut, "node ghost") {
				t.Errorf("show of the session %s of a node that does not answer: exit %d, stderr %q; want %d, 504 naming node ghost", id, code, errOut, ctlError)
			}
		}
		// A live node that does not answer, while no node that answered
		// has the client: it might, so it is no 404.
		writeGhostNode(t, natsAddr)
		code, _, errOut := a.ctl(t, "clients", "show", "fw-nobody", "--scope", "cluster")
		if code != ctlError || !strings.Contains(errOut, "504") || !strings.Contains(errOut, "ghost did not answer") {
			t.Errorf("show with a live node not answering: exit %d, stderr %q; want %d, 504 naming ghost", code, errOut, ctlError)
		}
		code, _, errOut = a.ctl(t, "sessions", "delete", "fws-nobody", "--scope", "cluster")
		if code != ctlError || !strings.Contains(errOut, "504") || !strings.Contains(errOut, "ghost did not answer") {
			t.Errorf("session delete with a live node not answering: exit %d, stderr %q; want %d, 504 naming ghost", code, errOut, ctlError)
		}
	})
}

// sessionsBucket returns the cluster's sessions bucket, read through a
// NATS client of its own on the server at natsAddr.
func sessionsBucket(t *testing.T, natsAddr string) jetstream.KeyValue {
	t.Helper()
	nc, err := nats.Connect("nats://"+natsAddr, nats.Timeout(5*time.Second))
	if err != nil {
		t.Fatalf("connecting to the embedded nats server: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kv, err := js.KeyValue(ctx, cluster.SessionsBucket)
	if err != nil {
		t.Fatalf("the sessions bucket: %v", err)
	}
	return kv
}

// writeGhostNode writes the liveness record of node "ghost", which
// answers nothing: a hung node, live to the others.
func writeGhostNode(t *testing.T, natsAddr string) {
	t.Helper()
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
	kv, err := js.KeyValue(ctx, cluster.NodesBucket)
	if err != nil {
		t.Fatalf("the nodes bucket: %v", err)
	}
	if _, err := kv.Put(ctx, cluster.NodeKey("ghost"), []byte(`{"node":"ghost","since":"2026-01-01T00:00:00Z","incarnation":"ghost-1"}`)); err != nil {
		t.Fatalf("writing the hung node's record: %v", err)
	}
}

// apiCall sends method path to g's admin API with the token and returns
// the status and body.
func apiCall(t *testing.T, g *ctlGateway, method, path string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, g.admin+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+ctlTestToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the answer: %v", method, path, err)
	}
	return resp.StatusCode, string(b)
}
