package backend

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"edgemq/gateway/broker"
	"edgemq/gateway/cluster/clustertest"

	"github.com/nats-io/nats.go/jetstream"
)

// testShared returns the durable groups' options of these tests: a
// short AckWait, so that what a dead node held is handed out again soon.
func testShared() SharedOptions { return SharedOptions{DurableGroups: 10, AckWait: 2 * time.Second} }

// TestSharedUnrecordedHandedOut: two members of a shared subscription
// group on two nodes. The node of one has taken messages of the group
// and given them to its member, but its member's record does not list
// them yet (its record writes wait: the test holds the session's gate),
// so its client has not seen them and no other node knows it owes them:
// the transit window of a queue group alone. Then:
//   - its node is killed: the group's consumer hands out again, after
//     AckWait, what the dead node never confirmed (issue 15: no
//     acknowledged message lost);
//   - its session ends (no expiry; its connection closed): its node
//     refuses what it held, and the consumer hands it to the other node
//     at once, long before AckWait (a minute here).
//
// Either way every message published to the group reaches the other
// member (4.8.2).
func TestSharedUnrecordedHandedOut(t *testing.T) {
	for _, tc := range []struct {
		name    string
		ackWait time.Duration
		expiry  uint32
		// fate returns what to wait for once the gate is let go.
		fate func(victim runningNode, s *broker.Session, c *testClient) (wait func())
	}{
		{"node killed", testShared().AckWait, 300, func(victim runningNode, _ *broker.Session, _ *testClient) func() {
			victim.kill()
			return func() {}
		}},
		{"session ends", time.Minute, 0, func(victim runningNode, s *broker.Session, c *testClient) func() {
			// The end's record write waits for the gate too: the session
			// ends in the broker at once, its write later.
			done := make(chan struct{})
			go func() {
				defer close(done)
				victim.be.Sessions().Detach(s, c, nil)
			}()
			return func() { <-done }
		}},
	} {
		t.Run(tc.name, func(t *testing.T) { sharedUnrecordedHandedOut(t, tc.ackWait, tc.expiry, tc.fate) })
	}
}

func sharedUnrecordedHandedOut(t *testing.T, ackWait time.Duration, expiry uint32, fate func(runningNode, *broker.Session, *testClient) func()) {
	nc := clustertest.Start(t, 3)
	nodes := startNodesOnWith(t, nc, []int{0, 1, 2}, 3, func(k int, be *Backend) {
		be.SetShared(SharedOptions{DurableGroups: 10, AckWait: ackWait})
		if k == 2 {
			be.sess.o.Checkpoint = time.Hour // checkpoint.go: never, in this test
		}
	})
	live, pubNode, victim := nodes[0], nodes[1], nodes[2]
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c2, c1, s1 := joinTwoMembers(ctx, t, nc, live, victim, expiry)
	if n := groupConsumers(t, live); n != 1 {
		t.Fatalf("%d group consumers on the messages stream, want the group's one", n)
	}
	// Both nodes pull from it.
	cons, err := live.node.Layout().Messages.Consumer(t.Context(), queueName("g", "work/#"))
	if err != nil {
		t.Fatal(err)
	}
	clustertest.Eventually(t, func() bool {
		ci, err := cons.Info(t.Context())
		return err == nil && ci.NumWaiting >= 2
	}, func() string { return "the two nodes do not both pull from the group's consumer" })
	// From here the member's record writes wait: what its node takes
	// stays at the member's gate, unrecorded, unseen.
	locked, err := victim.be.sess.gates.lock(ctx, "member-dies")
	if err != nil {
		t.Fatal(err)
	}
	unlock := sync.OnceFunc(locked)
	defer unlock()

	const total = 40
	all := pubNode.publishNumbered(t, "work/x", 1, total)
	clustertest.Eventually(t, func() bool { return len(s1.SharedOwed())+len(c2.received()) == total && len(s1.SharedOwed()) > 0 },
		func() string {
			return fmt.Sprintf("the member owes %d, the live one got %d of %d", len(s1.SharedOwed()), len(c2.received()), total)
		})
	held := len(s1.SharedOwed())
	if len(c1.got) != 0 {
		t.Fatalf("the member's client was sent %d messages its record does not list", len(c1.got))
	}
	if rec, _, err := victim.be.sess.store.Get(t.Context(), "member-dies"); err != nil || len(rec.Shared) != 0 {
		t.Fatalf("the member's record lists %v (%v), want nothing", rec, err)
	}

	wait := fate(victim, s1, c1)
	defer func() { unlock(); wait() }()
	clustertest.Eventually(t, func() bool { return len(c2.missing(all)) == 0 }, func() string {
		m := c2.missing(all)
		return fmt.Sprintf("%d of %d messages never reached the live member (the other held %d unrecorded): %q", len(m), total, held, m)
	})
	if n := live.be.Counters().GroupRedelivered.Load() + pubNode.be.Counters().GroupRedelivered.Load(); n < int64(held) {
		t.Fatalf("the consumer handed out %d messages again, want the %d the other node held", n, held)
	}
	dups := 0
	for _, p := range all {
		dups += max(c2.count(p)-1, 0)
	}
	t.Logf("the other node held %d; the live member got %d twice", held, dups)
}

// TestSharedDurableGroupsCap: with a cap of one consumer, the second
// group goes through its queue group alone, and each group still gets
// each message once; the queue's copies of the first group's messages
// are dropped where its consumer hands them out.
func TestSharedDurableGroupsCap(t *testing.T) {
	nc := clustertest.Start(t, 3)
	nodes := startNodesOnWith(t, nc, []int{0, 1, 2}, 3, func(k int, be *Backend) {
		be.SetShared(SharedOptions{DurableGroups: 1, AckWait: testShared().AckWait})
	})
	a, b, pubNode := nodes[0], nodes[1], nodes[2]
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	members := map[string][]*ackingClient{}
	for _, group := range []string{"$share/one/cap/#", "$share/two/cap/#"} {
		for i, n := range []runningNode{a, b} {
			id := fmt.Sprintf("%s-%d", strings.Split(group, "/")[1], i)
			c, s := openAcking(ctx, t, n.testNode, id, &broker.Owner{Identity: id})
			n.subscribe(t, s, group, 0)
			members[group] = append(members[group], c)
		}
	}
	if n := groupConsumers(t, a); n != 1 {
		t.Fatalf("%d group consumers, want the cap's 1", n)
	}
	const total = 30
	all := pubNode.publishNumbered(t, "cap/x", 1, total)
	for group, cs := range members {
		clustertest.Eventually(t, func() bool {
			for _, p := range all {
				if cs[0].count(p)+cs[1].count(p) != 1 {
					return false
				}
			}
			return true
		}, func() string {
			var bad []string
			for _, p := range all {
				if n := cs[0].count(p) + cs[1].count(p); n != 1 {
					bad = append(bad, fmt.Sprintf("%s×%d", p, n))
				}
			}
			return fmt.Sprintf("group %s: not each message once: %v", group, bad)
		})
	}
	if n := a.be.Counters().GroupCopies.Load() + b.be.Counters().GroupCopies.Load(); n == 0 {
		t.Fatal("no queue copy was dropped for the group with a consumer")
	}
	// Each message the consumer handed out was confirmed once its
	// member's record listed it (or it was taken at QoS 0): none waits,
	// none was handed out again.
	cons, err := a.node.Layout().Messages.Consumer(t.Context(), queueName("one", "cap/#"))
	if err != nil {
		t.Fatalf("the first group's consumer: %v", err)
	}
	clustertest.Eventually(t, func() bool {
		ci, err := cons.Info(t.Context())
		return err == nil && ci.NumAckPending == 0 && ci.Delivered.Consumer >= total
	}, func() string {
		ci, err := cons.Info(t.Context())
		return fmt.Sprintf("the consumer has not had everything confirmed: %+v (%v)", ci, err)
	})
	if n := a.be.Counters().GroupRedelivered.Load() + b.be.Counters().GroupRedelivered.Load(); n != 0 {
		t.Fatalf("%d messages handed out again, want none", n)
	}
}

// groupConsumers returns how many group consumers the messages stream
// has, as n's JetStream lists them.
func groupConsumers(tb testing.TB, n runningNode) int {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clustertest.Timeout)
	defer cancel()
	names := n.node.Layout().Messages.ConsumerNames(ctx)
	count := 0
	for name := range names.Name() {
		if strings.HasPrefix(name, queuePrefix) {
			count++
		}
	}
	if err := names.Err(); err != nil && !errors.Is(err, jetstream.ErrEndOfData) {
		tb.Fatalf("listing consumers: %v", err)
	}
	return count
}
