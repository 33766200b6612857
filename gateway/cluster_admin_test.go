package gateway

import (
	"fmt"
	"net/http"
	"slices"
	"testing"

	"edgemq/configs"
	"edgemq/gateway/admin"
	"edgemq/gateway/cluster/clustertest"

	"github.com/eclipse/paho.golang/paho"
)

// TestClusterAdmin: the admin API of a three-node cluster, one cluster
// for all the cases. Each node names itself and the live nodes in its
// status; a retained message deleted through node 1's API is gone from
// nodes 2 and 3 too, and a SUBSCRIBE there gets none [MQTT-3.3.1-6]; the
// clients listed with scope=cluster on one node are those of every node,
// each naming its node.
func TestClusterAdmin(t *testing.T) {
	c := startCluster(t, 3, func(_ int, cfg *configs.Config) {
		cfg.Admin = configs.Admin{Address: "127.0.0.1:0", Token: adminTestToken}
	})
	apis := make([]*adminClient, len(c.nodes))
	for i, ts := range c.nodes {
		apis[i] = newAdminClient(t, ts)
	}

	t.Run("node name", func(t *testing.T) {
		for i, a := range apis {
			st := adminDo[admin.StatusDoc](t, a, "GET", "/api/v1/status", nil, http.StatusOK)
			var names []string
			for _, n := range st.Cluster {
				names = append(names, n.Name)
			}
			if want := fmt.Sprintf("e%d", i+1); st.Node != want || !slices.Equal(names, []string{"e1", "e2", "e3"}) {
				t.Errorf("node %d status: node %q, cluster %v; want %q of e1 e2 e3", i+1, st.Node, names, want)
			}
			// The dashboard's overview shows the nodes, this one marked.
			ov := adminDo[admin.OverviewDoc](t, a, "GET", "/api/v1/overview", nil, http.StatusOK)
			var self []string
			for _, n := range ov.ClusterNodes {
				if n.Self {
					self = append(self, n.Name)
				}
			}
			if len(ov.ClusterNodes) != 3 || !slices.Equal(self, []string{st.Node}) {
				t.Errorf("node %d overview: %+v", i+1, ov.ClusterNodes)
			}
		}
	})

	t.Run("retained deleted everywhere", func(t *testing.T) {
		pub := connectV5(t, c.nodes[1], v5Connect("adm-pub"))
		pub.publish(t, &paho.Publish{Topic: "adm/x", QoS: 1, Retain: true, Payload: []byte("v")})
		held := func(a *adminClient) int {
			return len(adminDo[admin.Page[admin.RetainedItem]](t, a, "GET", "/api/v1/retained?filter=adm/x", nil, http.StatusOK).Items)
		}
		for i, a := range apis {
			clustertest.Eventually(t, func() bool { return held(a) == 1 }, func() string { return fmt.Sprintf("node %d never held adm/x", i+1) })
		}
		adminDo[map[string]string](t, apis[0], "DELETE", "/api/v1/retained/adm%2Fx", nil, http.StatusOK)
		for i, a := range apis {
			clustertest.Eventually(t, func() bool { return held(a) == 0 }, func() string { return fmt.Sprintf("node %d still holds adm/x", i+1) })
		}
		adminDo[admin.ErrorBody](t, apis[2], "DELETE", "/api/v1/retained/adm%2Fx", nil, http.StatusNotFound)
		sub := connectV5(t, c.nodes[2], v5Connect("adm-sub"))
		sub.subscribe(t, "adm/#", 1)
		c.waitInterest(t, "adm/fence")
		sub.expectFence(t, pub, "adm/fence")
	})

	t.Run("clients cluster-wide", func(t *testing.T) {
		for i, ts := range c.nodes {
			// CONNACK goes out a moment before the client is listed; a
			// round trip after it is after.
			connectV5(t, ts, v5Connect(fmt.Sprintf("cw-%d", i+1))).roundTrip(t)
		}
		want := []string{"cw-1@e1", "cw-2@e2", "cw-3@e3"}
		for i, a := range apis {
			pg := adminDo[admin.ClusterPage](t, a, "GET", "/api/v1/clients?scope=cluster&client_id=cw-", nil, http.StatusOK)
			var got []string
			for _, it := range pg.Items {
				got = append(got, it.ClientID+"@"+it.Node)
			}
			if !slices.Equal(got, want) || pg.MissingNodes == nil || len(pg.MissingNodes) != 0 {
				t.Errorf("node %d, scope cluster: %v missing %v; want %v missing []", i+1, got, pg.MissingNodes, want)
			}
		}
		// Paged: one client a page, in client id order.
		var got []string
		for _, p := range adminListAll[admin.ClientItem](t, apis[1], "/api/v1/clients?scope=cluster&client_id=cw-&limit=1") {
			for _, it := range p {
				got = append(got, it.ClientID+"@"+it.Node)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("paged, scope cluster: %v, want %v", got, want)
		}
		// The node's own, by default, naming the node.
		pg := adminDo[admin.Page[admin.ClientItem]](t, apis[1], "GET", "/api/v1/clients?client_id=cw-", nil, http.StatusOK)
		if len(pg.Items) != 1 || pg.Items[0].ClientID != "cw-2" || pg.Items[0].Node != "e2" {
			t.Errorf("node 2, own clients: %+v", pg.Items)
		}
		adminDo[admin.ErrorBody](t, apis[1], "GET", "/api/v1/clients?scope=galaxy", nil, http.StatusBadRequest)
	})

	// The admin publish takes a client's PUBLISH path (the cluster
	// backend's Publisher): to another node's subscriber at QoS 0 and 1,
	// into the messages stream for a persistent session offline on a
	// third node, and answered stored once the stream holds the QoS 1
	// one [MQTT-4.3.2-2].
	t.Run("admin publish across nodes", func(t *testing.T) {
		sub := connectV5(t, c.nodes[1], v5Connect("ap-sub"))
		sub.subscribe(t, "ap/t", 1)
		const offline = "ap-offline"
		off := connectV5(t, c.nodes[2], persistent(offline, true, 300))
		off.subscribe(t, "ap/t", 1)
		c.waitInterest(t, "ap/t")
		if err := off.Disconnect(&paho.Disconnect{}); err != nil {
			t.Fatal(err)
		}
		clustertest.Eventually(t, func() bool { held, _, conn := sessionState(c.nodes[2], offline); return held && !conn },
			func() string { return "node 3 does not hold the session offline" })

		for _, tc := range []struct {
			qos    byte
			stored bool
		}{{0, false}, {1, true}} {
			payload := fmt.Sprintf("admin qos %d", tc.qos)
			res := adminDo[admin.PublishResult](t, apis[0], "POST", "/api/v1/publish",
				admin.PublishRequest{Topic: "ap/t", Payload: payload, QoS: tc.qos}, http.StatusOK)
			// Nobody subscribes on node 1: the count says another node
			// has a subscriber.
			if res.DeliveredTo != 1 || res.Stored != tc.stored || res.Retained {
				t.Errorf("qos %d: publish result %+v, want delivered_to 1, stored %v", tc.qos, res, tc.stored)
			}
			m := sub.expectMessage(t)
			if m.Topic != "ap/t" || string(m.Payload) != payload || m.QoS != tc.qos {
				t.Errorf("node 2 got %q on %q at qos %d, want %q at qos %d", m.Payload, m.Topic, m.QoS, payload, tc.qos)
			}
		}
		// The QoS 1 message waits for the offline session in the stream,
		// and comes when it resumes on its node [MQTT-3.1.2-5].
		back := connectV5(t, c.nodes[2], persistent(offline, false, 300))
		if !back.connack.SessionPresent {
			t.Fatal("the offline session was not resumed")
		}
		for m := back.expectMessage(t); string(m.Payload) != "admin qos 1"; m = back.expectMessage(t) {
			if string(m.Payload) != "admin qos 0" { // a server may queue QoS 0 for an offline session (MQTT 5.0 4.1)
				t.Fatalf("resumed session got %q on %q before the admin's qos 1 message", m.Payload, m.Topic)
			}
		}
	})

	// A retained admin publish is stored cluster-wide before it is
	// answered: a new subscriber on another node gets it [MQTT-3.3.1-6].
	t.Run("admin retained publish", func(t *testing.T) {
		res := adminDo[admin.PublishResult](t, apis[0], "POST", "/api/v1/publish",
			admin.PublishRequest{Topic: "ap/ret", Payload: "kept", Retain: true}, http.StatusOK)
		if !res.Retained || !res.Stored {
			t.Errorf("retained publish result %+v, want retained and stored", res)
		}
		later := connectV5(t, c.nodes[2], v5Connect("ap-later"))
		later.subscribe(t, "ap/ret", 0)
		if m := later.expectMessage(t); m.Topic != "ap/ret" || string(m.Payload) != "kept" || !m.Retain {
			t.Errorf("new subscriber on node 3 got %q on %q retain %v, want the retained \"kept\"", m.Payload, m.Topic, m.Retain)
		}
		adminDo[map[string]string](t, apis[2], "DELETE", "/api/v1/retained/ap%2Fret", nil, http.StatusOK)
	})
}

// TestAdminClientsScopeSingleNode: on a single node scope=cluster is the
// node's own clients, with no node named and none missing, for the
// listing and for one client; the status names no node.
func TestAdminClientsScopeSingleNode(t *testing.T) {
	ts := startAdminServer(t, adminConfig(t))
	a := newAdminClient(t, ts)
	connectV5(t, ts, v5Connect("solo-1")).roundTrip(t) // listed once the CONNECT is done
	pg := adminDo[admin.ClusterPage](t, a, "GET", "/api/v1/clients?scope=cluster&client_id=solo-", nil, http.StatusOK)
	if len(pg.Items) != 1 || pg.Items[0].ClientID != "solo-1" || pg.Items[0].Node != "" || pg.MissingNodes == nil || len(pg.MissingNodes) != 0 {
		t.Errorf("scope cluster on a single node: %+v", pg)
	}
	// One client with scope=cluster is the node's own too.
	if d := adminDo[admin.ClientDetailDoc](t, a, "GET", "/api/v1/clients/solo-1?scope=cluster", nil, http.StatusOK); d.ClientID != "solo-1" || d.Node != "" {
		t.Errorf("show with scope cluster on a single node: %+v", d.ClientItem)
	}
	adminDo[admin.ErrorBody](t, a, "DELETE", "/api/v1/clients/solo-2?scope=cluster", nil, http.StatusNotFound)
	if st := adminDo[admin.StatusDoc](t, a, "GET", "/api/v1/status", nil, http.StatusOK); st.Node != "" || len(st.Cluster) != 0 {
		t.Errorf("single node status: node %q, cluster %v", st.Node, st.Cluster)
	}
	if ov := adminDo[admin.OverviewDoc](t, a, "GET", "/api/v1/overview", nil, http.StatusOK); ov.ClusterNodes != nil {
		t.Errorf("single node overview: cluster nodes %+v", ov.ClusterNodes)
	}
}
