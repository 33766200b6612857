package backend

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"edgemq/gateway/broker"
	"edgemq/gateway/cluster"
	"edgemq/gateway/cluster/clustertest"
	"edgemq/gateway/store"
	"edgemq/mqtt"
)

// qosEvent is a packet a qosClient was sent: a PUBLISH, or a PUBREL
// (rel).
type qosEvent struct {
	rel     bool
	pid     uint16
	dup     bool
	qos     byte
	payload string
}

func (e qosEvent) String() string {
	if e.rel {
		return fmt.Sprintf("PUBREL %d", e.pid)
	}
	return fmt.Sprintf("PUBLISH %s qos %d id %d dup %v", e.payload, e.qos, e.pid, e.dup)
}

// qosClient is a connection as the broker sees it that records its
// PUBLISH and PUBREL packets in their order. Kicked, it closes: its
// session is detached (gone is closed then).
type qosClient struct {
	ev     chan qosEvent
	kicked chan mqtt.ReasonCode
	gone   chan struct{}

	mu   sync.Mutex
	nd   *sessNode
	sess *broker.Session
}

func newQoSClient() *qosClient {
	return &qosClient{ev: make(chan qosEvent, 100), kicked: make(chan mqtt.ReasonCode, 1), gone: make(chan struct{})}
}

func (c *qosClient) Link() broker.Link {
	return broker.Link{Out: c, Window: 100, Version: mqtt.V5}
}
func (c *qosClient) Deliver(d *broker.Delivery) bool {
	var p mqtt.Publish
	broker.PublishFor(&p, d, mqtt.V5, time.Now())
	c.ev <- qosEvent{pid: p.PacketID, dup: p.Dup, qos: p.QoS, payload: string(p.Payload)}
	return true
}
func (c *qosClient) Pubrel(pid uint16, _ mqtt.ReasonCode) bool {
	c.ev <- qosEvent{rel: true, pid: pid}
	return true
}
func (c *qosClient) Room() broker.QueueRoom   { return broker.QueueRoom{Items: 1000} }
func (c *qosClient) SetRefill(func())         {}
func (c *qosClient) AfterStoredOut(fn func()) { fn() }
func (c *qosClient) OutWaiting() bool         { return false }
func (c *qosClient) Kick(code mqtt.ReasonCode) {
	select {
	case c.kicked <- code:
	default:
		return
	}
	go func() {
		for {
			c.mu.Lock()
			nd, sess := c.nd, c.sess
			c.mu.Unlock()
			if sess != nil {
				nd.s.Detach(sess, c, nil)
				close(c.gone)
				return
			}
			time.Sleep(time.Millisecond) // Open has not returned yet
		}
	}()
}

// open opens id's session on nd for c as a CONNECT would (expiry 300)
// and returns it with Session Present.
func (c *qosClient) open(tb testing.TB, nd *sessNode, id string, clean bool) (*broker.Session, bool) {
	tb.Helper()
	var present bool
	sess, prev, err := nd.s.Open(broker.OpenRequest{ClientID: id, Clean: clean, Expiry: 300, Client: c,
		Owner: &broker.Owner{Identity: "user:u", Record: store.Owner{Identity: "user:u"}}},
		func(_ *broker.Session, p bool) { present = p })
	if err != nil {
		tb.Fatalf("open %s on %s: %v", id, nd.name, err)
	}
	c.mu.Lock()
	c.nd, c.sess = nd, sess
	c.mu.Unlock()
	if prev != nil {
		prev.Kick(mqtt.SessionTakenOver)
	}
	return sess, present
}

// next returns the next packet c was sent.
func (c *qosClient) next(tb testing.TB) qosEvent {
	tb.Helper()
	select {
	case e := <-c.ev:
		return e
	case <-time.After(clustertest.Timeout):
		tb.Fatal("no packet")
		return qosEvent{}
	}
}

// routeStored stores a message of QoS qos in the messages stream and
// routes it on nd as its ingress does, with its sequence.
func routeStored(t *testing.T, nd *sessNode, topic, payload string, qos byte) uint64 {
	t.Helper()
	seq := storeMsg(t, nd.js, topic, payload, qos)
	m := broker.NewMessage(&mqtt.Publish{QoS: qos, Topic: topic, Payload: []byte(payload)}, "publisher", time.Now())
	m.SetSeq(seq)
	var buf []broker.Match
	nd.b.Route(m, &buf)
	return seq
}

// TestInflightAcrossNodes: a session holds outbound QoS 2 messages in
// each state (PUBLISH sent; PUBREC received, PUBREL sent; completed out
// of order), a QoS 1 one unacknowledged, and an inbound QoS 2 id
// awaiting PUBREL, when its client moves to another node: by takeover,
// or after its node died (kill -9: the record is all there is). On the
// new node, as one node does on a reconnect [MQTT-4.4.0-1]: the
// unacknowledged PUBLISH packets again with DUP and their packet ids,
// PUBREL for the released one and never its PUBLISH [MQTT-4.3.3-4], the
// completed one not at all, in their order; the client's PUBREL of its
// own QoS 2 PUBLISH finds its id (PUBCOMP, not 0x92) [MQTT-4.3.3-11].
func TestInflightAcrossNodes(t *testing.T) {
	_, nodes := sessCluster(t, 3)
	for _, tc := range []struct {
		name     string
		from, to int
		crash    bool
	}{
		{"takeover", 0, 1, false},
		{"crash", 1, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			from, to := nodes[tc.from], nodes[tc.to]
			id, topic := "q2-"+tc.name, "q2/"+tc.name
			c1 := newQoSClient()
			s1, _ := c1.open(t, from, id, true)
			sessSubscribe(t, from, s1, topic+"/#", 2)
			pids := map[string]uint16{}
			for i, qos := range []byte{2, 2, 2, 2, 1} {
				p := fmt.Sprintf("m%d", i+1)
				routeStored(t, from, topic+"/x", p, qos)
				e := c1.next(t)
				if e.rel || e.payload != p || e.qos != qos || e.dup {
					t.Fatalf("a got %v, want PUBLISH %s qos %d", e, p, qos)
				}
				pids[p] = e.pid
			}
			// m2 released; m3 completed, ahead of m1 (out of order).
			for _, p := range []string{"m2", "m3"} {
				s1.Acked(mqtt.PUBREC, pids[p], mqtt.Success, c1)
				if e := c1.next(t); !e.rel || e.pid != pids[p] {
					t.Fatalf("after PUBREC of %s: %v, want PUBREL %d", p, e, pids[p])
				}
			}
			s1.Acked(mqtt.PUBCOMP, pids["m3"], mqtt.Success, c1)
			// The client's own QoS 2 PUBLISH packets, ids 77 and 78, got
			// PUBREC.
			for _, pid := range []uint16{77, 78} {
				if dup, refused := s1.ReceiveQoS2(pid, false); dup || refused {
					t.Fatalf("inbound id %d not recorded", pid)
				}
			}
			if tc.crash {
				clustertest.Eventually(t, func() bool {
					rec := record(t, from, id)
					return len(rec.Out) == 4 && len(rec.Done) == 1 && slices.Equal(rec.Rels, []uint16{77, 78})
				}, func() string { return fmt.Sprintf("record %+v", record(t, from, id)) })
				from.kill(t)
				// A survivor claims it (lapse.go) before the client is
				// back.
				clustertest.Eventually(t, func() bool { return record(t, to, id).Owner != from.name },
					func() string { return "the dead node's session is not claimed" })
			}

			c2 := newQoSClient()
			s2, present := c2.open(t, to, id, false)
			if !present {
				t.Fatal("Session Present 0 [MQTT-3.2.2-3]")
			}
			want := []qosEvent{
				{pid: pids["m1"], dup: true, qos: 2, payload: "m1"},
				{rel: true, pid: pids["m2"]},
				{pid: pids["m4"], dup: true, qos: 2, payload: "m4"},
				{pid: pids["m5"], dup: true, qos: 1, payload: "m5"},
			}
			for _, w := range want {
				if e := c2.next(t); e != w {
					t.Fatalf("on %s: %v, want %v", to.name, e, w)
				}
			}
			// Then a new message, and nothing before it: no m2 or m3 again.
			routeStored(t, to, topic+"/x", "m6", 2)
			e := c2.next(t)
			if e.rel || e.payload != "m6" || e.dup || slices.Contains([]uint16{pids["m1"], pids["m2"], pids["m4"], pids["m5"]}, e.pid) {
				t.Fatalf("after the resent ones: %v, want a new PUBLISH m6 on a free id", e)
			}
			// 77 re-sent (DUP): acknowledged, not routed again
			// [MQTT-4.3.3-10]; its PUBREL then finds it (PUBCOMP, not 0x92)
			// [MQTT-4.3.3-11].
			if dup, _ := s2.ReceiveQoS2(77, false); !dup {
				t.Fatal("the re-sent PUBLISH 77 is taken for a new message on the new node: routed twice")
			}
			if found, _ := s2.Release(77); !found {
				t.Fatal("the client's PUBREL of id 77 finds no id on the new node: PUBCOMP 0x92 [MQTT-4.3.3-11]")
			}
			// 78 in a new PUBLISH (no DUP [MQTT-3.3.1-1]): the client
			// completed 78 where the record did not see it, and reused
			// the id: a new message, routed.
			s2.FreshQoS2(78)
			if dup, _ := s2.ReceiveQoS2(78, false); dup {
				t.Fatal("a new PUBLISH reusing id 78 is taken for a repeat: lost")
			}
			if !tc.crash {
				select {
				case code := <-c1.kicked:
					if code != mqtt.SessionTakenOver {
						t.Fatalf("old client closed with %v, want 0x8E", code)
					}
				default:
					t.Fatal("old client not closed")
				}
			}
			// Completing the exchanges on the new node ends them: the
			// record then owes nothing.
			s2.Acked(mqtt.PUBREC, pids["m1"], mqtt.Success, c2)
			s2.Acked(mqtt.PUBCOMP, pids["m2"], mqtt.Success, c2)
			s2.Acked(mqtt.PUBREC, pids["m4"], mqtt.Success, c2)
			s2.Acked(mqtt.PUBACK, pids["m5"], mqtt.Success, c2)
			s2.Acked(mqtt.PUBREC, e.pid, mqtt.Success, c2)
			for range 3 {
				if e := c2.next(t); !e.rel {
					t.Fatalf("%v, want PUBREL", e)
				}
			}
			for _, pid := range []uint16{pids["m1"], pids["m4"], e.pid} {
				s2.Acked(mqtt.PUBCOMP, pid, mqtt.Success, c2)
			}
			clustertest.Eventually(t, func() bool {
				rec := record(t, to, id)
				return rec.Owner == to.name && len(rec.Out) == 0 && len(rec.Done) == 0
			}, func() string { return fmt.Sprintf("record %+v", record(t, to, id)) })
		})
	}
}

// TestOutboundWaitsForRecord: a QoS 2 PUBLISH, and a PUBREL, leave only
// once the session's record holds their state: the record read when the
// client has the packet already says so, so that a node dying then
// leaves the next one what the client saw.
func TestOutboundWaitsForRecord(t *testing.T) {
	_, nodes := sessCluster(t, 1)
	a := nodes[0]
	c := newQoSClient()
	s, _ := c.open(t, a, "gated", true)
	sessSubscribe(t, a, s, "g/#", 2)
	for i := range 20 {
		p := fmt.Sprintf("g%d", i)
		seq := routeStored(t, a, "g/x", p, 2)
		e := c.next(t)
		rec := record(t, a, "gated")
		if !slices.ContainsFunc(rec.Out, func(o cluster.RecordOut) bool { return o.PID == e.pid && o.Seq == seq && !o.Rel }) {
			t.Fatalf("%v sent, record's in flight %+v lacks it", e, rec.Out)
		}
		s.Acked(mqtt.PUBREC, e.pid, mqtt.Success, c)
		if r := c.next(t); !r.rel {
			t.Fatalf("%v, want PUBREL", r)
		}
		rec = record(t, a, "gated")
		if !slices.ContainsFunc(rec.Out, func(o cluster.RecordOut) bool { return o.PID == e.pid && o.Rel }) {
			t.Fatalf("PUBREL %d sent, record's in flight %+v does not say so", e.pid, rec.Out)
		}
		s.Acked(mqtt.PUBCOMP, e.pid, mqtt.Success, c)
	}
}

// TestOwnWriteMovedTheRevision: the session's record is moved on by a
// write of this node's own holding that the writer did not learn the
// revision of (a write NATS stored whose answer timed out; a
// SUBSCRIBE's, which takes no gate). The node's next writes find it
// stale and must build on it, not take it for another node's claim:
// the gated QoS 2 PUBLISH still leaves, and the checkpoint still
// records the cursor, with no kick (0x8E) of the client.
func TestOwnWriteMovedTheRevision(t *testing.T) {
	_, nodes := sessCluster(t, 1)
	a := nodes[0]
	for _, tc := range []struct {
		name string
		qos  byte
	}{
		{"gated QoS 2 PUBLISH", 2},
		{"checkpoint of the cursor", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := fmt.Sprintf("moved-%d", tc.qos)
			c := newQoSClient()
			s, _ := c.open(t, a, id, true)
			sessSubscribe(t, a, s, "mv/#", tc.qos)
			moveRecord(t, a, id) // the holding's own write, its revision unknown to the node
			seq := routeStored(t, a, "mv/x", "m", tc.qos)
			e := c.next(t) // a QoS 2 PUBLISH only once the record holds it
			if e.payload != "m" {
				t.Fatalf("%v, want PUBLISH m", e)
			}
			if tc.qos == 2 {
				s.Acked(mqtt.PUBREC, e.pid, mqtt.Success, c)
				if r := c.next(t); !r.rel {
					t.Fatalf("%v, want PUBREL", r)
				}
				s.Acked(mqtt.PUBCOMP, e.pid, mqtt.Success, c)
			} else {
				s.Acked(mqtt.PUBACK, e.pid, mqtt.Success, c)
			}
			clustertest.Eventually(t, func() bool {
				rec := record(t, a, id)
				return rec.Owner == a.name && rec.Cursor >= seq && len(rec.Out) == 0
			}, func() string { return fmt.Sprintf("record %+v, want cursor %d", record(t, a, id), seq) })
			select {
			case code := <-c.kicked:
				t.Fatalf("client closed with %v: the node took its own write for a claim", code)
			default:
			}
		})
	}
}

// TestOwnWriteMovedTheRevisionAtEnd: as TestOwnWriteMovedTheRevision,
// when the connection ends: a persistent session's record still says it
// is offline (its will and expiry counted from then), and an ended
// session's record is still deleted, rather than left saying the
// session is held here.
func TestOwnWriteMovedTheRevisionAtEnd(t *testing.T) {
	_, nodes := sessCluster(t, 1)
	a := nodes[0]
	for _, tc := range []struct {
		name   string
		expiry uint32
	}{
		{"offline", 300},
		{"ended", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := "moved-end-" + tc.name
			c := newSessClient()
			sessOpen(t, a, c, id, true, tc.expiry, nil)
			moveRecord(t, a, id)
			c.close()
			ctx, cancel := context.WithTimeout(context.Background(), clustertest.Timeout)
			defer cancel()
			clustertest.Eventually(t, func() bool {
				rec, _, err := a.s.store.Get(ctx, id)
				if tc.expiry == 0 {
					return errors.Is(err, cluster.ErrNoRecord)
				}
				return err == nil && !rec.Connected && !rec.Deadline.IsZero()
			}, func() string {
				ctx, cancel := context.WithTimeout(context.Background(), clustertest.Timeout)
				defer cancel()
				rec, _, err := a.s.store.Get(ctx, id)
				return fmt.Sprintf("record %+v (%v)", rec, err)
			})
		})
	}
}

// moveRecord writes id's record again as it is, so that its revision
// moves on without nd learning it, as a write of nd's own whose answer
// timed out would (the node's checkpoint of a session it just opened
// may write in between: read again then).
func moveRecord(tb testing.TB, nd *sessNode, id string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clustertest.Timeout)
	defer cancel()
	clustertest.Eventually(tb, func() bool {
		rec, rev, err := nd.s.store.Get(ctx, id)
		if err != nil {
			tb.Fatal(err)
		}
		_, err = nd.s.store.Put(ctx, id, rec, rev)
		if err != nil && !errors.Is(err, cluster.ErrStale) {
			tb.Fatal(err)
		}
		return err == nil
	}, func() string { return "the record kept moving" })
}

// TestLeaderUnreadableAfterRefusal: a write of the node's own holding
// is refused (the record moved on by the holding's own write, as in
// TestOwnWriteMovedTheRevision), and the record cannot then be read from
// its stream's leader (as while the stream elects one). Not knowing is
// not a claim: the gated QoS 2 PUBLISH still leaves once the leader can
// be read, and a recheck after a heal leaves the session held, rather
// than dropping it and closing its client with 0x8E.
func TestLeaderUnreadableAfterRefusal(t *testing.T) {
	_, nodes := sessCluster(t, 1)
	a := nodes[0]
	errNoLeader := errors.New("no stream leader")
	for _, tc := range []struct {
		name string
		// run runs the case while reads of the leader fail; failed
		// counts them, back tells that the leader can be read again.
		run func(t *testing.T, id string, c *qosClient, failed func() int, back func())
	}{
		{"gated QoS 2 PUBLISH", func(t *testing.T, id string, c *qosClient, failed func() int, back func()) {
			routeStored(t, a, "ul/x", "m", 2)
			// The gate's write and the checkpoints find the record moved
			// and cannot read it; then the leader is back.
			clustertest.Eventually(t, func() bool { return failed() >= 3 },
				func() string { return fmt.Sprintf("%d reads of the leader failed, want 3", failed()) })
			back()
			if e := c.next(t); e.payload != "m" || e.qos != 2 {
				t.Fatalf("%v, want the QoS 2 PUBLISH m", e)
			}
		}},
		{"recheck after a heal", func(t *testing.T, id string, c *qosClient, failed func() int, back func()) {
			n, err := a.s.Recheck(t.Context())
			if n != 0 || !errors.Is(err, errNoLeader) {
				t.Fatalf("Recheck dropped %d (%v), want none and the read's error", n, err)
			}
			back()
			if n, err := a.s.Recheck(t.Context()); n != 0 || err != nil {
				t.Fatalf("Recheck dropped %d (%v), want none", n, err)
			}
			if !slices.Contains(a.s.Owned(), id) {
				t.Fatalf("%s no longer held", id)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := "unreadable-" + strings.ReplaceAll(tc.name, " ", "-")
			c := newQoSClient()
			s, _ := c.open(t, a, id, true)
			sessSubscribe(t, a, s, "ul/#", 2)
			var failing atomic.Bool
			var failures atomic.Int64
			failing.Store(true)
			fails := func(key string) error {
				if key != id || !failing.Load() {
					return nil
				}
				failures.Add(1)
				return errNoLeader
			}
			a.s.latestFails.Store(&fails) // before the move: no write of the node's rebases on it
			defer a.s.latestFails.Store(nil)
			moveRecord(t, a, id)
			tc.run(t, id, c, func() int { return int(failures.Load()) }, func() { failing.Store(false) })
			if failures.Load() == 0 {
				t.Fatal("no read of the leader failed: the case tested nothing")
			}
			select {
			case code := <-c.kicked:
				t.Fatalf("client closed with %v: the node took not knowing for a claim", code)
			default:
			}
		})
	}
}
