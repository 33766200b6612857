package backend

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c2, c1, _ := joinTwoMembers(ctx, t, nc, live, victim, 300)

	all := pubNode.publishNumbered(t, "work/x", 1, 40)
	// Every message went to a member; the dying one holds some, in
	// flight, and its record lists them.
	clustertest.Eventually(t, func() bool {
		if len(c1.got)+len(c2.received()) != len(all) {
			return false
		}
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

// publishNumbered publishes n messages of client "pub" to topic at qos
// through node, waiting for each one's acknowledgement, and returns
// their payloads: w00, w01, ...
func (n *testNode) publishNumbered(tb testing.TB, topic string, qos byte, count int) []string {
	tb.Helper()
	all := make([]string, 0, count)
	for k := range count {
		p := fmt.Sprintf("w%02d", k)
		n.publish(tb, "pub", &mqtt.Publish{QoS: qos, PacketID: uint16(k + 1), Topic: topic, Payload: []byte(p)})
		all = append(all, p)
	}
	return all
}

// openAcking opens the persistent session id (expiry 300 s) of owner on
// n, held by an ackingClient that runs until ctx ends.
func openAcking(ctx context.Context, tb testing.TB, n *testNode, id string, owner *broker.Owner) (*ackingClient, *broker.Session) {
	tb.Helper()
	c := newAckingClient()
	s, _, err := n.be.Sessions().Open(broker.OpenRequest{ClientID: id, Expiry: 300, Client: c, Owner: owner}, func(*broker.Session, bool) {})
	if err != nil {
		tb.Fatal(err)
	}
	c.sess.Store(s)
	go c.run(ctx)
	return c, s
}

// joinTwoMembers joins the group "$share/g/work/#" with member-live on
// live, whose client acknowledges until ctx ends, and member-dies on
// victim, whose client never does and whose session has expiry, and
// waits until every server knows both nodes' queue subscriptions. It
// returns member-live's client and member-dies's client and session.
func joinTwoMembers(ctx context.Context, t testing.TB, nc *clustertest.Cluster, live, victim runningNode, expiry uint32) (*ackingClient, *testClient, *broker.Session) {
	t.Helper()
	const group = "$share/g/work/#"
	owner := &broker.Owner{Identity: "worker"}
	c2, s2 := openAcking(ctx, t, live.testNode, "member-live", owner)
	live.subscribe(t, s2, group, 0)

	c1 := newTestClient() // never acknowledges
	s1, _, err := victim.be.Sessions().Open(broker.OpenRequest{ClientID: "member-dies", Expiry: expiry, Client: c1, Owner: owner},
		func(*broker.Session, bool) {})
	if err != nil {
		t.Fatal(err)
	}
	victim.subscribe(t, s1, group, 0)
	for _, s := range nc.Servers {
		clustertest.Eventually(t, func() bool { return s.Interest(cluster.TopicSubject("work/x")) >= 2 },
			func() string { return fmt.Sprintf("server %s does not see both members", s.Name()) })
	}
	return c2, c1, s1
}

// TestSharedMemberNodeDiesBeforeCheckpoint: as TestSharedMemberNodeDies,
// but the dying member's node never reaches a checkpoint (its interval
// is an hour): what its member owes is in its record only because each
// PUBLISH through the group leaves once the record lists it, and what
// is queued or acknowledged asks for a write (shared.go). The member has
// a window of 8 and acknowledges (PUBACK, or PUBREC at QoS 2) its first,
// third, fifth and seventh deliveries only: it holds some in flight,
// unacknowledged, and the rest queued. Once every message was handed to
// a member and the record caught up, its node is killed: every message
// it did not acknowledge reaches the other member (4.8.2), at QoS 2
// exactly once, and none it did acknowledge is handed over again (at
// QoS 2 it received them: its session, carried on by the node that
// claims it, owes their PUBREL, never their PUBLISH [MQTT-4.3.3-4]).
func TestSharedMemberNodeDiesBeforeCheckpoint(t *testing.T) {
	for _, qos := range []byte{1, 2} {
		t.Run(fmt.Sprintf("qos%d", qos), func(t *testing.T) { sharedMemberDiesBeforeCheckpoint(t, qos) })
	}
}

func sharedMemberDiesBeforeCheckpoint(t *testing.T, qos byte) {
	nc := clustertest.Start(t, 3)
	nodes := startNodesOnWith(t, nc, []int{0, 1, 2}, 3, func(k int, be *Backend) {
		if k == 2 {
			be.sess.o.Checkpoint = time.Hour // checkpoint.go: never, in this test
		}
	})
	live, pubNode, victim := nodes[0], nodes[1], nodes[2]
	const group = "$share/g/work/#"
	owner := &broker.Owner{Identity: "worker"}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	join := func(n runningNode, s *broker.Session) {
		t.Helper()
		subs := n.be.Subscriptions()
		err := subs.Subscribing(func() error {
			if _, full := subs.Subscribe(s, broker.NewSubscription(broker.SubOptions{Filter: group, QoS: qos})); full {
				return fmt.Errorf("subscription to %q refused", group)
			}
			subs.RetainedSeq()
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}

	c2, s2 := openAcking(ctx, t, live.testNode, "member-live", owner) // acknowledges QoS 1; at QoS 2 it counts what it is sent
	join(live, s2)

	c1 := newPickyClient(8, func(n int) bool { return n%2 == 1 && n <= 7 })
	s1, _, err := victim.be.Sessions().Open(broker.OpenRequest{ClientID: "member-dies", Expiry: 300, Client: c1, Owner: owner},
		func(*broker.Session, bool) {})
	if err != nil {
		t.Fatal(err)
	}
	c1.sess.Store(s1)
	go c1.run(ctx)
	join(victim, s1)
	for _, s := range nc.Servers {
		clustertest.Eventually(t, func() bool { return s.Interest(cluster.TopicSubject("work/x")) >= 2 },
			func() string { return fmt.Sprintf("server %s does not see both members", s.Name()) })
	}

	const total = 60
	all := pubNode.publishNumbered(t, "work/x", qos, total)
	// Every message went to a member, the dying one acknowledged its
	// four, and its record lists exactly what it owes: in flight and
	// queued, not what it acknowledged.
	clustertest.Eventually(t, func() bool {
		owed := s1.SharedOwed()
		acked := c1.ackedCount()
		if acked < 4 || len(owed)+acked+len(c2.received()) != total {
			return false
		}
		rec, _, err := victim.be.sess.store.Get(t.Context(), "member-dies")
		if err != nil || len(rec.Shared) != len(owed) {
			return false
		}
		for i, o := range owed {
			if rec.Shared[i].Seq != o.Msg.Seq() {
				return false
			}
		}
		return true
	}, func() string {
		rec, _, _ := victim.be.sess.store.Get(t.Context(), "member-dies")
		listed := -1
		if rec != nil {
			listed = len(rec.Shared)
		}
		return fmt.Sprintf("the dying member owes %d, acknowledged %d, the live one got %d of %d (owes %d, gated %v); its record lists %d",
			len(s1.SharedOwed()), c1.ackedCount(), len(c2.received()), total, len(s2.SharedOwed()), s2.GatedOut(), listed)
	})
	acked := c1.acked()

	victim.kill()
	var want []string
	for _, p := range all {
		if !acked[p] {
			want = append(want, p)
		}
	}
	clustertest.Eventually(t, func() bool { return len(c2.missing(want)) == 0 }, func() string {
		m := c2.missing(want)
		return fmt.Sprintf("%d of %d messages the dying member did not acknowledge never reached the live member: %q", len(m), len(want), m)
	})
	for p := range acked {
		if n := c2.count(p); n != 0 {
			t.Errorf("%s, acknowledged by the dying member, reached the live one %d times", p, n)
		}
	}
	// One node claimed the dead member's session, and handed what it
	// owed over once: at QoS 2 each reached the live member exactly once.
	if n := live.be.sess.Counts().Claimed.Load() + pubNode.be.sess.Counts().Claimed.Load(); n != 1 {
		t.Fatalf("%d sessions claimed, want the dead node's one", n)
	}
	if qos == 2 {
		for _, p := range want {
			if n := c2.count(p); n != 1 {
				t.Errorf("QoS 2 message %s reached the live member %d times, want once", p, n)
			}
		}
	}
}

// pickyClient holds a session with a window of its own and acknowledges
// (PUBACK, or PUBREC at QoS 2) the n-th delivery (from 1) it is sent
// when ack(n) says so.
type pickyClient struct {
	window int
	ack    func(n int) bool
	sess   atomic.Pointer[broker.Session]
	ch     chan *broker.Delivery

	mu     sync.Mutex
	n      int
	gotAck map[string]bool
}

func newPickyClient(window int, ack func(n int) bool) *pickyClient {
	return &pickyClient{window: window, ack: ack, ch: make(chan *broker.Delivery, 1<<10), gotAck: map[string]bool{}}
}

func (c *pickyClient) Link() broker.Link {
	return broker.Link{Out: c, Window: c.window, Version: mqtt.V5}
}
func (c *pickyClient) Deliver(d *broker.Delivery) bool     { c.ch <- d; return true }
func (c *pickyClient) Pubrel(uint16, mqtt.ReasonCode) bool { return true }
func (c *pickyClient) Room() broker.QueueRoom              { return broker.QueueRoom{Items: 1 << 10} }
func (c *pickyClient) SetRefill(func())                    {}
func (c *pickyClient) AfterStoredOut(fn func())            { fn() }
func (c *pickyClient) OutWaiting() bool                    { return false }
func (c *pickyClient) Kick(mqtt.ReasonCode)                {}

// run takes deliveries until ctx ends, acknowledging those ack picks.
func (c *pickyClient) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case d := <-c.ch:
			var p mqtt.Publish
			broker.PublishFor(&p, d, mqtt.V5, time.Now())
			c.mu.Lock()
			c.n++
			n := c.n
			c.mu.Unlock()
			if p.QoS == 0 || !c.ack(n) {
				continue
			}
			t := mqtt.PUBACK
			if p.QoS == 2 {
				t = mqtt.PUBREC
			}
			c.sess.Load().Acked(t, p.PacketID, mqtt.Success, c)
			c.mu.Lock()
			c.gotAck[string(p.Payload)] = true
			c.mu.Unlock()
		}
	}
}

// acked returns the payloads c acknowledged; ackedCount how many.
func (c *pickyClient) acked() map[string]bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.gotAck)
}

func (c *pickyClient) ackedCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.gotAck)
}

// received returns the payloads c got, each once.
func (c *ackingClient) received() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Collect(maps.Keys(c.got))
}

// count returns how many times c got payload p.
func (c *ackingClient) count(p string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.got[p]
}
