package backend

import (
	"context"
	"fmt"
	"testing"

	"edgemq/gateway/broker"
	"edgemq/gateway/cluster"
	"edgemq/gateway/cluster/clustertest"
	"edgemq/mqtt"
)

// TestSharedMemberNodeDies: two members of a shared subscription group
// on two nodes; the node of one dies (kill -9: its liveness lapses) with
// QoS 1 messages of the group in flight to its member, unacknowledged.
// Every message published to the group reaches the other member, on a
// surviving node, at least once: those the dead node's member owed
// included (4.8.2: "the Server SHOULD send the Application Message to
// another Client that is subscribed to the same Shared Subscription").
func TestSharedMemberNodeDies(t *testing.T) {
	nc := clustertest.Start(t, 3)
	nodes := startNodesOn(t, nc, []int{0, 1, 2}, 3)
	live, pubNode, victim := nodes[0], nodes[1], nodes[2]
	const group = "$share/g/work/#"
	owner := &broker.Owner{Identity: "worker"}

	c2 := newAckingClient()
	s2, _, err := live.be.Sessions().Open(broker.OpenRequest{ClientID: "member-live", Expiry: 300, Client: c2, Owner: owner},
		func(*broker.Session, bool) {})
	if err != nil {
		t.Fatal(err)
	}
	c2.sess.Store(s2)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go c2.run(ctx)
	live.subscribe(t, s2, group, 0)

	c1 := newTestClient() // never acknowledges
	s1, _, err := victim.be.Sessions().Open(broker.OpenRequest{ClientID: "member-dies", Expiry: 300, Client: c1, Owner: owner},
		func(*broker.Session, bool) {})
	if err != nil {
		t.Fatal(err)
	}
	victim.subscribe(t, s1, group, 0)
	// Every server knows both nodes' queue subscriptions.
	for _, s := range nc.Servers {
		clustertest.Eventually(t, func() bool { return s.Interest(cluster.TopicSubject("work/x")) >= 2 },
			func() string { return fmt.Sprintf("server %s does not see both members", s.Name()) })
	}

	var all []string
	for k := range 40 {
		p := fmt.Sprintf("w%02d", k)
		pubNode.publish(t, "pub", &mqtt.Publish{QoS: 1, PacketID: uint16(k + 1), Topic: "work/x", Payload: []byte(p)})
		all = append(all, p)
	}
	// The dying member holds some, in flight, and its record lists them
	// (a checkpoint).
	clustertest.Eventually(t, func() bool {
		rec, _, err := victim.be.sess.store.Get(t.Context(), "member-dies")
		return err == nil && len(c1.got) > 0 && len(rec.Shared) == len(c1.got)
	}, func() string {
		return fmt.Sprintf("the dying member got %d messages, its record does not list them", len(c1.got))
	})
	held := len(c1.got)

	victim.kill()
	clustertest.Eventually(t, func() bool { return len(c2.missing(all)) == 0 }, func() string {
		m := c2.missing(all)
		return fmt.Sprintf("%d of %d messages never reached the live member (the dead one held %d): %q", len(m), len(all), held, m)
	})
	if n := live.be.sess.Counts().Claimed.Load() + pubNode.be.sess.Counts().Claimed.Load(); n != 1 {
		t.Fatalf("%d sessions claimed, want the dead node's one", n)
	}
}
