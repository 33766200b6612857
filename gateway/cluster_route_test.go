package gateway

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"

	"edgemq/gateway/cluster"
	"edgemq/gateway/cluster/clustertest"
	"edgemq/mqtt"

	"github.com/eclipse/paho.golang/paho"
	"github.com/nats-io/nats-server/v2/server"
)

// TestClusterTopicMapping routes every kind of topic MQTT allows from one
// node to a subscriber on another, and back: empty levels, the NATS
// token separator and wildcards as characters, white space, non-ASCII,
// the escape character itself, '$' topics (not matched by a leading
// wildcard [MQTT-4.7.2-1]), "a/#" matching "a" [MQTT-4.7.1-2] and '+'
// matching an empty level. Each message arrives with its topic unchanged;
// one not matching arrives nowhere (the fence behind it comes first).
func TestClusterTopicMapping(t *testing.T) {
	c := startCluster(t, 3, nil)
	tests := []struct {
		name, filter, topic string
		match               bool
	}{
		{"plain", "a/b", "a/b", true},
		{"empty middle level", "a//b", "a//b", true},
		{"leading empty level", "/a", "/a", true},
		{"trailing empty level", "a/", "a/", true},
		{"only separators", "//", "//", true},
		{"dot", "a.b/c", "a.b/c", true},
		{"star", "*", "*", true},
		{"greater than", "a/>", "a/>", true},
		{"star and dot under +", "x/+", "x/*.>", true},
		{"space", "with space/ and tab\t", "with space/ and tab\t", true},
		{"non-ascii", "ünï/日本/😀", "ünï/日本/😀", true},
		{"escape character", "%/%41/100%", "%/%41/100%", true},
		{"dollar topic", "$app/x", "$app/x", true},
		{"dollar not under #", "#", "$app/y", false},
		{"dollar not under +", "+/z", "$app/z", false},
		{"hash matches parent", "p/#", "p", true},
		{"hash matches child", "p/#", "p/q/r", true},
		{"plus matches empty level", "+/e", "/e", true},
		{"plus is one level", "m/+", "m/n/o", false},
		{"case differs", "Case/x", "case/x", false},
	}
	for i, tc := range tests {
		for _, dir := range []struct{ pub, sub int }{{0, 1}, {1, 2}, {2, 0}} {
			t.Run(fmt.Sprintf("%s from e%d to e%d", tc.name, dir.pub+1, dir.sub+1), func(t *testing.T) {
				id := fmt.Sprintf("map%d-%d", i, dir.sub)
				sub := connectV5(t, c.nodes[dir.sub], v5Connect("sub-"+id))
				pub := connectV5(t, c.nodes[dir.pub], v5Connect("pub-"+id))
				fence := "fence/" + id
				sub.subscribe(t, tc.filter, 1)
				sub.subscribe(t, fence, 1)
				c.waitInterest(t, fence)
				if tc.match {
					c.waitInterest(t, tc.topic)
				}
				pub.publish(t, &paho.Publish{Topic: tc.topic, QoS: 1, Payload: []byte(tc.name)})
				if tc.match {
					m := sub.expectMessage(t)
					if m.Topic != tc.topic || string(m.Payload) != tc.name {
						t.Fatalf("got %q on %q, want %q on %q", m.Payload, m.Topic, tc.name, tc.topic)
					}
				}
				sub.expectFence(t, pub, fence)
			})
		}
	}
}

// TestClusterNoInterestNoTraffic: a node whose sessions subscribe to
// nothing matching receives none of the messages other nodes exchange:
// its NATS connection's live subscriptions count no message (the NATS
// server's own counters), while a message it does subscribe to counts.
func TestClusterNoInterestNoTraffic(t *testing.T) {
	c := startCluster(t, 3, nil)
	bystander := connectV5(t, c.nodes[2], v5Connect("bystander"))
	bystander.subscribe(t, "elsewhere/#", 1)
	sub := connectV5(t, c.nodes[1], v5Connect("sub"))
	sub.subscribe(t, "busy/+", 1)
	c.waitInterest(t, "busy/x")
	c.waitInterest(t, "elsewhere/x")
	pub := connectV5(t, c.nodes[0], v5Connect("pub"))
	const n = 50
	for i := range n {
		pub.publish(t, &paho.Publish{Topic: "busy/x", QoS: byte(i % 2), Payload: []byte("m")})
	}
	for range n {
		if m := sub.expectMessage(t); m.Topic != "busy/x" {
			t.Fatalf("got a message on %q", m.Topic)
		}
	}
	if got := liveMsgs(t, c.nats.Servers[2], "e3"); got != 0 {
		t.Fatalf("the bystander node's subscriptions received %d messages, want 0", got)
	}
	if got := c.nodes[2].cluster.be.Counters().Received.Load(); got != 0 {
		t.Fatalf("the bystander node routed %d messages from the cluster, want 0", got)
	}
	if got := liveMsgs(t, c.nats.Servers[1], "e2"); got != n {
		t.Fatalf("the subscriber's node received %d messages, want %d", got, n)
	}
	// The counter does count what the bystander subscribes to.
	pub.publish(t, &paho.Publish{Topic: "elsewhere/x", QoS: 1, Payload: []byte("m")})
	bystander.expectMessage(t)
	if got := liveMsgs(t, c.nats.Servers[2], "e3"); got != 1 {
		t.Fatalf("the bystander node's subscriptions received %d messages, want 1", got)
	}
}

// liveMsgs returns how many messages the NATS server e delivered to the
// live subscriptions (cluster.LivePrefix) of node's connection.
func liveMsgs(tb testing.TB, e *cluster.Embedded, node string) int64 {
	tb.Helper()
	cz, err := e.Server().Connz(&server.ConnzOptions{Subscriptions: true, SubscriptionsDetail: true})
	if err != nil {
		tb.Fatal(err)
	}
	var n int64
	found := false
	for _, conn := range cz.Conns {
		if conn.Name != "edgemq "+node {
			continue
		}
		found = true
		for _, sd := range conn.SubsDetail {
			if strings.HasPrefix(sd.Subject, cluster.LivePrefix) {
				n += sd.Msgs
			}
		}
	}
	if !found {
		tb.Fatalf("no connection of node %s on %s", node, e.Name())
	}
	return n
}

// TestClusterOncePerSession: a message published on one node that
// matches several subscriptions of one session on another node (each a
// NATS subscription of its own there) arrives once, carrying every
// matching Subscription Identifier [MQTT-3.3.4-3, MQTT-3.3.4-5], at the
// highest granted QoS [MQTT-3.3.4-2]; QoS 0 and 1 alike.
func TestClusterOncePerSession(t *testing.T) {
	c := startCluster(t, 2, nil)
	sub := connectV5(t, c.nodes[1], v5Connect("multi"))
	filters := []struct {
		filter string
		qos    byte
	}{{"s/+", 0}, {"s/#", 1}, {"+/t", 0}, {"s/t", 1}, {"+/+", 0}}
	for i, f := range filters {
		sub.subscribeWith(t, &paho.Subscribe{
			Properties:    &paho.SubscribeProperties{SubscriptionIdentifier: refOf(i + 1)},
			Subscriptions: []paho.SubscribeOptions{{Topic: f.filter, QoS: f.qos}},
		})
	}
	c.waitInterest(t, "s/t")
	pub := connectV5(t, c.nodes[0], v5Connect("pub"))
	for _, qos := range []byte{0, 1} {
		payload := fmt.Sprintf("qos %d", qos)
		pub.publish(t, &paho.Publish{Topic: "s/t", QoS: qos, Payload: []byte(payload)})
		if m := sub.expectMessage(t); string(m.Payload) != payload {
			t.Fatalf("got %q, want %q", m.Payload, payload)
		}
		sub.expectFence(t, pub, "s/t") // the fence matches them all too: no second copy came first
	}
	var got []*mqtt.Publish
	for _, p := range tapped[*mqtt.Publish](t, sub.tap) {
		if p.Topic == "s/t" {
			got = append(got, p)
		}
	}
	// Each arrived on the node once per NATS subscription matching it
	// (s.> and *.* cover the others, route_cover.go): the copy was
	// dropped there.
	if got := c.nodes[1].cluster.be.Counters().Copies.Load(); got == 0 {
		t.Error("no copy dropped on the subscriber's node: the test did not send one message to several subscriptions")
	}
	// Two messages and two fences, once each.
	if len(got) != 4 {
		t.Fatalf("the session received %d PUBLISH packets on s/t, want 4 (once each)", len(got))
	}
	for i, p := range got {
		ids := slices.Sorted(slices.Values(p.Properties.SubscriptionIdentifiers))
		wantQoS := []byte{0, 1, 1, 1}[i]
		if !slices.Equal(ids, []uint32{1, 2, 3, 4, 5}) || p.QoS != wantQoS {
			t.Errorf("message %d: ids %v qos %d, want 1..5 and qos %d", i, ids, p.QoS, wantQoS)
		}
	}
}

// TestClusterWillAcrossNodes: the will of a client whose connection ends
// without DISCONNECT on one node [MQTT-3.1.2-8] reaches a subscriber on
// another, at QoS 1, once; a normal DISCONNECT sends none
// [MQTT-3.1.2-10].
func TestClusterWillAcrossNodes(t *testing.T) {
	c := startCluster(t, 2, nil)
	watcher := connectV5(t, c.nodes[1], v5Connect("will-watcher"))
	watcher.subscribe(t, "will/#", 1)
	c.waitInterest(t, "will/x")
	dying := connectV5(t, c.nodes[0], willConnect("dying", "will/dying", 0, 0))
	dying.roundTrip(t)
	dying.raw.Close()
	m := watcher.expectMessage(t)
	if m.Topic != "will/dying" || string(m.Payload) != "gone: dying" || m.QoS != 1 {
		t.Fatalf("got %q on %q at qos %d, want the will of dying at qos 1", m.Payload, m.Topic, m.QoS)
	}
	clean := connectV5(t, c.nodes[0], willConnect("clean", "will/clean", 0, 0))
	clean.roundTrip(t)
	if err := clean.Disconnect(&paho.Disconnect{ReasonCode: 0}); err != nil {
		t.Fatal(err)
	}
	waitConnections(t, c.nodes[0], 0) // the will would be routed before this
	fence := connectV5(t, c.nodes[0], v5Connect("fence"))
	watcher.expectFence(t, fence, "will/fence")
}

// TestClusterLargeMessage: a message as large as the default
// mqtt.max_packet_size allows crosses to another node, QoS 0 and 1 (the
// NATS servers carry more than their 1 MiB default, which the message's
// headers would exceed).
func TestClusterLargeMessage(t *testing.T) {
	c := startCluster(t, 2, nil)
	sub := connectV5(t, c.nodes[1], v5Connect("large-sub"))
	sub.subscribe(t, "large", 1)
	c.waitInterest(t, "large")
	pub := connectV5(t, c.nodes[0], v5Connect("large-pub"))
	// The largest PUBLISH of 1 MiB: fixed header 5, topic 7, packet id
	// 2, properties length 1.
	payload := bytes.Repeat([]byte("L"), int(c.nodes[0].config().MQTT.MaxPacketSize)-15)
	for _, qos := range []byte{0, 1} {
		pub.publish(t, &paho.Publish{Topic: "large", QoS: qos, Payload: payload})
		if m := sub.expectMessage(t); !bytes.Equal(m.Payload, payload) {
			t.Fatalf("qos %d: got %d bytes, want %d", qos, len(m.Payload), len(payload))
		}
	}
}

// TestClusterInterestFollowsSessions: a node keeps its NATS interest in a
// filter while a session holds it, connected or not: a persistent
// session's subscription keeps bringing messages to its node while its
// client is away, and they are delivered when it comes back
// [MQTT-3.1.2-5]; a session that ends takes the interest with it, on
// every server.
func TestClusterInterestFollowsSessions(t *testing.T) {
	c := startCluster(t, 3, nil)
	cp := v5Connect("away")
	cp.CleanStart = true
	cp.Properties = &paho.ConnectProperties{SessionExpiryInterval: refOf(uint32(60))}
	away := connectV5(t, c.nodes[1], cp)
	away.subscribe(t, "kept/x", 1)
	gone := connectV5(t, c.nodes[1], v5Connect("gone"))
	gone.subscribe(t, "dropped/x", 1)
	c.waitInterest(t, "kept/x")
	c.waitInterest(t, "dropped/x")
	if err := away.Disconnect(&paho.Disconnect{}); err != nil {
		t.Fatal(err)
	}
	if err := gone.Disconnect(&paho.Disconnect{}); err != nil {
		t.Fatal(err)
	}
	for _, s := range c.nats.Servers {
		clustertest.WaitNoInterest(t, s, cluster.TopicSubject("dropped/x"))
	}
	c.waitInterest(t, "kept/x") // still
	pub := connectV5(t, c.nodes[0], v5Connect("pub"))
	for i := range 3 {
		pub.publish(t, &paho.Publish{Topic: "kept/x", QoS: 1, Payload: fmt.Appendf(nil, "m%d", i)})
	}
	cp.CleanStart = false
	back := connectV5(t, c.nodes[1], cp)
	if !back.connack.SessionPresent {
		t.Fatal("the session was not resumed")
	}
	for i := range 3 {
		if m := back.expectMessage(t); string(m.Payload) != fmt.Sprintf("m%d", i) {
			t.Fatalf("got %q, want m%d", m.Payload, i)
		}
	}
}

// TestClusterOneCopyPerNode: a node whose sessions hold overlapping
// filters (#, cover/+, cover/x) receives each message from NATS once,
// not once per filter (its NATS subscriptions cover each other: the
// NATS server's per-subscription counters), and each session gets it.
func TestClusterOneCopyPerNode(t *testing.T) {
	c := startCluster(t, 2, nil)
	var subs []*v5Client
	for i, f := range []string{"#", "cover/+", "cover/x"} {
		s := connectV5(t, c.nodes[1], v5Connect(fmt.Sprintf("cover%d", i)))
		s.subscribe(t, f, 0)
		subs = append(subs, s)
	}
	c.waitInterest(t, "cover/x")
	pub := connectV5(t, c.nodes[0], v5Connect("cover-pub"))
	const n = 20
	for range n {
		pub.publish(t, &paho.Publish{Topic: "cover/x", QoS: 1, Payload: []byte("m")})
	}
	for _, s := range subs {
		for range n {
			if m := s.expectMessage(t); m.Topic != "cover/x" {
				t.Fatalf("got a message on %q", m.Topic)
			}
		}
	}
	if got := liveMsgs(t, c.nats.Servers[1], "e2"); got != n {
		t.Fatalf("the node received %d messages from NATS, want %d (one each)", got, n)
	}
}
