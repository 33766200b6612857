package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"edgemq/gateway/cluster"
	"edgemq/gateway/cluster/clustertest"

	"github.com/eclipse/paho.golang/paho"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ctlSessionShown is a session as sessions show --json prints it.
type ctlSessionShown struct {
	ClientID      string      `json:"client_id"`
	Connected     bool        `json:"connected"`
	Expiry        uint32      `json:"expiry"`
	Node          string      `json:"node"`
	Subscriptions []ctlSubDoc `json:"subscriptions"`
}

// ctlSessionDeleted is sessions delete --json's answer.
type ctlSessionDeleted struct {
	ClientID string `json:"client_id"`
	Kicked   bool   `json:"kicked"`
	Node     string `json:"node"`
}

// testSessionsForwarded: sessions show and delete with --scope cluster
// on node a for sessions node b holds, answered by b and naming it: a
// persistent session offline on b (found through its record, which
// names b as owner though the client is offline) and one connected
// there, whose client is kicked first (v5 DISCONNECT 0x98
// [MQTT-3.14.2-1]). The session is then gone from b and its record no
// longer names b. Without --scope cluster a's own sessions only are
// looked at (404). An id no node holds is a 404; the 409s of the
// holding node's delete (still held, reconnected) are a's 409s.
func testSessionsForwarded(t *testing.T, a, b *ctlGateway, kv jetstream.KeyValue, natsAddr string) {
	for _, tc := range []struct {
		name   string
		id     string
		online bool
	}{
		{"offline on b", "fws-offline", false},
		{"connected to b", "fws-online", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := connectV5Expiry(t, b.tcp, tc.id, 600)
			c.subscribe(t, "fws/"+tc.id, 1) // after SUBACK the session is b's, recorded
			if !tc.online {
				if err := c.c.Disconnect(&paho.Disconnect{}); err != nil {
					t.Fatal(err)
				}
			}
			// The record names b as the session's owner, offline or not.
			clustertest.Eventually(t, func() bool {
				rec, err := sessionRecord(kv, tc.id)
				return err == nil && rec.Owner == "b" && rec.Connected == tc.online
			}, func() string { return fmt.Sprintf("the record of %s never named b, connected %v", tc.id, tc.online) })

			// b's own listing names the node holding each session.
			code, out, errOut := b.ctl(t, "sessions")
			if code != 0 || !strings.HasPrefix(out, "NODE") || !strings.Contains(out, "\nb ") || !strings.Contains(out, tc.id) {
				t.Errorf("sessions on node b: exit %d (%s):\n%s\nwant a NODE column naming b beside %s", code, errOut, out, tc.id)
			}
			if code, _, errOut := a.ctl(t, "sessions", "show", tc.id); code != ctlNotFound {
				t.Errorf("show without --scope on node a: exit %d (%s), want %d: only a's own sessions", code, errOut, ctlNotFound)
			}
			d := ctlJSON[ctlSessionShown](t, a, "sessions", "show", tc.id, "--scope", "cluster")
			if d.ClientID != tc.id || d.Node != "b" || d.Connected != tc.online || d.Expiry != 600 ||
				len(d.Subscriptions) != 1 || d.Subscriptions[0].Filter != "fws/"+tc.id {
				t.Errorf("show --scope cluster on node a: %+v; want %s on node b, connected %v, with its subscription", d, tc.id, tc.online)
			}
			if status, body := apiCall(t, a, "GET", "/api/v1/sessions/"+tc.id+"?scope=cluster"); status != http.StatusOK || !strings.Contains(body, `"node":"b"`) {
				t.Errorf("GET /api/v1/sessions/%s?scope=cluster on node a: %d %s; want 200 naming node b", tc.id, status, body)
			}
			code, out, errOut = a.ctl(t, "sessions", "show", tc.id, "--scope", "cluster")
			if code != 0 || !strings.Contains(out, "node:") || !strings.Contains(out, " b\n") {
				t.Errorf("show --scope cluster table: exit %d, stdout %q, stderr %q; want a node: b row", code, out, errOut)
			}

			del := ctlJSON[ctlSessionDeleted](t, a, "sessions", "delete", tc.id, "--scope", "cluster")
			if want := (ctlSessionDeleted{tc.id, tc.online, "b"}); del != want {
				t.Errorf("delete --scope cluster: %+v, want %+v", del, want)
			}
			if tc.online {
				select {
				case dis := <-c.disconnect:
					if dis.ReasonCode != 0x98 {
						t.Errorf("the client got DISCONNECT 0x%02X, want 0x98", dis.ReasonCode)
					}
				case <-time.After(5 * time.Second):
					t.Fatal("the connected client got no DISCONNECT")
				}
			}
			// Gone on b, and from the cluster.
			if code, out, _ := b.ctl(t, "sessions", "show", tc.id); code != ctlNotFound {
				t.Errorf("show on b after the delete: exit %d, %s; want %d", code, out, ctlNotFound)
			}
			clustertest.Eventually(t, func() bool {
				rec, err := sessionRecord(kv, tc.id)
				return errors.Is(err, jetstream.ErrKeyNotFound) || err == nil && rec.Owner != "b"
			}, func() string { return "the record of " + tc.id + " still names b" })
			if code, _, errOut := a.ctl(t, "sessions", "show", tc.id, "--scope", "cluster"); code != ctlNotFound {
				t.Errorf("show --scope cluster after the delete: exit %d (%s), want %d", code, errOut, ctlNotFound)
			}
		})
	}

	t.Run("unknown id", func(t *testing.T) {
		for _, cmd := range []string{"show", "delete"} {
			code, _, errOut := a.ctl(t, "sessions", cmd, "fws-nobody", "--scope", "cluster")
			if code != ctlNotFound || !strings.Contains(errOut, "404") || !strings.Contains(errOut, "no node of the cluster holds") {
				t.Errorf("%s of an unknown id: exit %d, stderr %q; want %d and a 404", cmd, code, errOut, ctlNotFound)
			}
		}
		if status, body := apiCall(t, a, "DELETE", "/api/v1/sessions/fws-nobody?scope=galaxy"); status != http.StatusBadRequest {
			t.Errorf("scope galaxy: %d %s, want 400", status, body)
		}
	})

	t.Run("conflict on the holding node", func(t *testing.T) {
		// A node whose delete finds the client still holding the session,
		// or back: as a's own delete would, 409. It stands in for b, as
		// neither can be brought about on a real node on demand.
		nc, err := nats.Connect("nats://"+natsAddr, nats.Timeout(5*time.Second))
		if err != nil {
			t.Fatalf("connecting to the embedded nats server: %v", err)
		}
		t.Cleanup(nc.Close)
		kinds := map[string]string{"fws-held": cluster.AdminKindStillHeld, "fws-back": cluster.AdminKindReconnected}
		srv, err := cluster.ServeAdmin(nc, "held", cluster.AdminLimits{}, func(_ context.Context, req cluster.AdminRequest) cluster.AdminReply {
			if req.Op != cluster.AdminDeleteSession {
				return cluster.AdminReply{Found: true, Body: []byte(`{}`)}
			}
			return cluster.AdminReply{Found: true, Error: "the session is busy", Kind: kinds[req.ClientID]}
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(srv.Stop)
		for _, tc := range []struct{ id, want string }{
			{"fws-held", "still holds its session"},
			{"fws-back", "reconnected"},
		} {
			putSessionRecord(t, kv, tc.id, &cluster.SessionRecord{Owner: "held", Epoch: 1, Expiry: 600})
			status, body := apiCall(t, a, "DELETE", "/api/v1/sessions/"+tc.id+"?scope=cluster")
			if status != http.StatusConflict || !strings.Contains(body, tc.want) {
				t.Errorf("DELETE of %s on a node that answers %s: %d %s; want 409 %q", tc.id, kinds[tc.id], status, body, tc.want)
			}
			if code, _, errOut := a.ctl(t, "sessions", "delete", tc.id, "--scope", "cluster"); code != ctlError || !strings.Contains(errOut, "409") {
				t.Errorf("ctl delete of %s: exit %d, stderr %q; want %d and a 409", tc.id, code, errOut, ctlError)
			}
		}
	})
}

// sessionRecord reads the session record of id.
func sessionRecord(kv jetstream.KeyValue, id string) (*cluster.SessionRecord, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	e, err := kv.Get(ctx, cluster.SessionKey(id))
	if err != nil {
		return nil, err
	}
	return cluster.DecodeSession(e.Value())
}

// putSessionRecord writes rec as the session record of id.
func putSessionRecord(t *testing.T, kv jetstream.KeyValue, id string, rec *cluster.SessionRecord) {
	t.Helper()
	b, err := cluster.EncodeSession(rec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(context.Background(), cluster.SessionKey(id), b); err != nil {
		t.Fatalf("writing the session record of %s: %v", id, err)
	}
}
