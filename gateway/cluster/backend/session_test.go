package backend

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"edgemq/gateway/broker"
	"edgemq/gateway/cluster"
	"edgemq/gateway/cluster/clustertest"
	"edgemq/mqtt"
)

// routeLive routes a stored message on nd as its ingress does: with its
// sequence in the messages stream.
func routeLive(nd *sessNode, topic, payload string, seq uint64) {
	m := broker.NewMessage(&mqtt.Publish{QoS: 1, Topic: topic, Payload: []byte(payload)}, "publisher", time.Now())
	m.SetSeq(seq)
	var buf []broker.Match
	nd.b.Route(m, &buf)
}

// TestTakeoverAcrossNodes: a client holding a persistent session on
// node a, with QoS 1 messages delivered there and not all acknowledged,
// connects on node b. b takes the session over: Session Present, its
// subscriptions from the record, the old client closed with 0x8E
// [MQTT-3.1.4-3] and no will, a's copy gone, and exactly the messages a
// did not get acknowledged, and those stored since, delivered on b in
// order, once (replay from the cursor meets live delivery with no gap
// and no duplicate).
func TestTakeoverAcrossNodes(t *testing.T) {
	_, nodes := sessCluster(t, 2)
	a, b := nodes[0], nodes[1]
	will := &mqtt.Will{QoS: 1, Topic: "will/dev1", Payload: []byte("gone")}
	c1 := newSessClient()
	s1, present := sessOpen(t, a, c1, "dev1", true, 300, will)
	if present {
		t.Fatal("Session Present on a new session [MQTT-3.2.2-2]")
	}
	sessSubscribe(t, a, s1, "q/#", 1)
	// In the record before SUBACK.
	if subs := record(t, a, "dev1").Subs; len(subs) != 1 || subs[0].Filter != "q/#" || subs[0].QoS != 1 {
		t.Fatalf("record's subscriptions at SUBACK: %+v", subs)
	}
	// Five stored messages reach a live; its client acknowledges two.
	var seqs []uint64
	for i := 1; i <= 5; i++ {
		seq := storeMsg(t, a.js, "q/x", fmt.Sprintf("m%d", i), 1)
		seqs = append(seqs, seq)
		routeLive(a, "q/x", fmt.Sprintf("m%d", i), seq)
	}
	if got := receive(t, c1, s1, 2); !slices.Equal(got, []string{"m1", "m2"}) {
		t.Fatalf("a delivered %q", got)
	}
	// Two more are stored while a's client holds the session; a does
	// not get them (as if in flight on the network).
	for i := 6; i <= 7; i++ {
		seqs = append(seqs, storeMsg(t, a.js, "q/x", fmt.Sprintf("m%d", i), 1))
	}

	c2 := newSessClient()
	s2, present := sessOpen(t, b, c2, "dev1", false, 300, nil)
	if !present {
		t.Fatal("Session Present is 0 for a session taken over from another node [MQTT-3.2.2-3]")
	}
	select {
	case code := <-c1.kicked:
		if code != mqtt.SessionTakenOver {
			t.Fatalf("old client kicked with %v, want 0x8E [MQTT-3.1.4-3]", code)
		}
	default:
		t.Fatal("the old client was not closed before CONNACK")
	}
	<-c1.gone // the old connection closed, its session detached with its will
	if n := len(a.wills) + len(b.wills); n != 0 {
		t.Fatalf("%d wills after a takeover, want none", n)
	}
	if a.b.Lookup("dev1") != nil {
		t.Fatal("a still holds a copy of the session")
	}
	if v := s2.View(); len(v.Subs) != 1 || v.Subs[0].Filter != "q/#" || v.Subs[0].QoS != 1 {
		t.Fatalf("subscriptions on b: %+v", v.Subs)
	}
	// m3..m7 once, in order; then a live message, and no duplicate
	// before it.
	seq8 := storeMsg(t, b.js, "q/x", "m8", 1)
	routeLive(b, "q/x", "m8", seq8)
	routeLive(b, "q/x", "m5", seqs[4]) // a late live copy of a replayed one
	if got, want := receive(t, c2, s2, 6), []string{"m3", "m4", "m5", "m6", "m7", "m8"}; !slices.Equal(got, want) {
		t.Fatalf("b delivered %q, want %q", got, want)
	}
	seq9 := storeMsg(t, b.js, "q/x", "m9", 1)
	routeLive(b, "q/x", "m9", seq9)
	if got := receive(t, c2, s2, 1); got[0] != "m9" {
		t.Fatalf("after m8: %q, want m9 (a duplicate came first)", got)
	}
	if n := b.s.Counts().TakeoversRemote.Load(); n != 1 {
		t.Fatalf("%d remote takeovers counted on b, want 1", n)
	}
	if rec := record(t, b, "dev1"); rec.Owner != "b" || !rec.Connected || rec.Epoch != 2 {
		t.Fatalf("record %+v, want owner b, connected, epoch 2", rec)
	}
	// The replay's consumer is gone with it: none per session.
	info, err := b.layout.Messages.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Consumers != 0 {
		t.Fatalf("%d consumers on the messages stream after the replay, want 0", info.State.Consumers)
	}
}

// TestSimultaneousConnects: two CONNECTs with one client id on two nodes
// at once, round after round, leave exactly one connected, on the node
// the record names; the other is closed with 0x8E.
func TestSimultaneousConnects(t *testing.T) {
	_, nodes := sessCluster(t, 2)
	for round := range 8 {
		id := fmt.Sprintf("twin%d", round)
		ca, cb := newSessClient(), newSessClient()
		var sa, sb *broker.Session
		var wg sync.WaitGroup
		start := make(chan struct{})
		wg.Go(func() { <-start; sa, _ = sessOpen(t, nodes[0], ca, id, false, 60, nil) })
		wg.Go(func() { <-start; sb, _ = sessOpen(t, nodes[1], cb, id, false, 60, nil) })
		close(start)
		wg.Wait()
		// The kicked one closes.
		select {
		case <-ca.gone:
		case <-cb.gone:
		case <-time.After(clustertest.Timeout):
			t.Fatalf("round %d: neither client closed", round)
		}
		heldA, heldB := sa.HeldBy(ca), sb.HeldBy(cb)
		kickedA, kickedB := len(ca.kicked) == 1, len(cb.kicked) == 1
		if heldA == heldB || heldA == kickedA || heldB == kickedB {
			t.Fatalf("round %d: held on a %v (kicked %v), on b %v (kicked %v): want exactly one", round, heldA, kickedA, heldB, kickedB)
		}
		winner := "a"
		if heldB {
			winner = "b"
		}
		if rec := record(t, nodes[0], id); rec.Owner != winner || !rec.Connected {
			t.Fatalf("round %d: record %+v, want owner %s", round, rec, winner)
		}
	}
}

// TestOpenFailsWhileNATSIsDown: without the NATS link a CONNECT is
// refused with 0x88 Server unavailable [MQTT-3.2.2-6 (return code 3)].
func TestOpenFailsWhileNATSIsDown(t *testing.T) {
	_, nodes := sessCluster(t, 1)
	nd := nodes[0]
	o := nd.s.o
	o.Up = func() bool { return false }
	s := NewSessions(o)
	_, _, err := s.Open(broker.OpenRequest{ClientID: "x", Client: newSessClient(), Owner: &broker.Owner{}}, func(*broker.Session, bool) {})
	if code := mqtt.CodeOf(err); code != mqtt.ServerUnavailable {
		t.Fatalf("open with the link down: %v (code %v), want 0x88", err, code)
	}
	if nd.b.Lookup("x") != nil {
		t.Fatal("a refused CONNECT made a session")
	}
}

// TestWillsAfterNodeLapse: node c dies (its liveness lapses, nothing
// released) holding sessions; the survivors a and b claim each once and
// publish each due will exactly once: the will of a session that ends
// with its connection at once, the delayed one not before its delay
// counted from the death [MQTT-3.1.3-9]; none for a session that
// disconnected cleanly or was taken over in time.
func TestWillsAfterNodeLapse(t *testing.T) {
	_, nodes := sessCluster(t, 3)
	a, c := nodes[0], nodes[2]
	willOf := func(topic string, delay uint32) *mqtt.Will {
		w := &mqtt.Will{QoS: 1, Topic: topic, Payload: []byte(topic)}
		if delay > 0 {
			w.Properties.SetUint32(mqtt.PropWillDelayInterval, delay)
		}
		return w
	}
	sessOpen(t, c, newSessClient(), "now", true, 0, willOf("will/now", 0))
	sd, _ := sessOpen(t, c, newSessClient(), "delay", true, 60, willOf("will/delay", 1))
	sessSubscribe(t, c, sd, "keep/#", 1)
	clean := newSessClient()
	sc, _ := sessOpen(t, c, clean, "clean", true, 60, willOf("will/clean", 0))
	c.s.Detach(sc, clean, nil) // DISCONNECT 0x00 discards the will [MQTT-3.1.2-10]
	taken := newSessClient()
	sessOpen(t, c, taken, "taken", true, 60, willOf("will/taken", 2))
	sessOpen(t, a, newSessClient(), "taken", false, 60, nil)
	<-taken.gone
	clustertest.Eventually(t, func() bool { return len(record(t, c, "delay").Subs) == 1 },
		func() string { return "the delayed session's subscription is not in its record" })

	died := time.Now()
	c.kill(t)
	seen := map[string][]willSeen{}
	for len(seen["will/now"]) == 0 || len(seen["will/delay"]) == 0 {
		select {
		case w := <-a.wills:
			seen[w.topic] = append(seen[w.topic], w)
		case w := <-nodes[1].wills:
			seen[w.topic] = append(seen[w.topic], w)
		case <-time.After(clustertest.Timeout):
			t.Fatalf("wills seen %v", seen)
		}
	}
	if at := seen["will/delay"][0].at; at.Sub(died) < time.Second {
		t.Fatalf("delayed will published %v after the node died, before its 1s delay", at.Sub(died))
	}
	// Every claim is settled: the records say so.
	clustertest.Eventually(t, func() bool {
		d := record(t, a, "delay")
		cl := record(t, a, "clean")
		return d.Owner != "c" && d.Will == nil && cl.Owner != "c"
	}, func() string { return "the gone node's sessions are not all claimed" })
	clustertest.Eventually(t, func() bool {
		_, _, err := a.s.store.Latest(t.Context(), a.nc, "now")
		return errors.Is(err, cluster.ErrNoRecord)
	}, func() string { return "the record of a session that ended with its node is still there" })
	for len(a.wills)+len(nodes[1].wills) > 0 {
		select {
		case w := <-a.wills:
			seen[w.topic] = append(seen[w.topic], w)
		case w := <-nodes[1].wills:
			seen[w.topic] = append(seen[w.topic], w)
		}
	}
	for topic, ws := range seen {
		if topic != "will/now" && topic != "will/delay" || len(ws) != 1 {
			t.Fatalf("will %s published %d times, want once (and only will/now, will/delay)", topic, len(ws))
		}
	}
	// The delayed session lives on, offline, on the node that won it,
	// with its subscription.
	owner := record(t, a, "delay").Owner
	win := nodes[0]
	if owner == "b" {
		win = nodes[1]
	}
	s := win.b.Lookup("delay")
	if s == nil || len(s.View().Subs) != 1 {
		t.Fatalf("node %s does not carry the session on", owner)
	}
	b := nodes[1]
	if n := a.s.Counts().Claimed.Load() + b.s.Counts().Claimed.Load(); n != 3 {
		t.Fatalf("%d sessions claimed, want 3 (now, delay, clean)", n)
	}
	if n := a.s.Counts().RemoteWills.Load() + b.s.Counts().RemoteWills.Load(); n != 2 {
		t.Fatalf("%d remote wills counted, want 2", n)
	}
}

// TestTakeoverPastASlowOwner: the node holding a session does not
// answer the kick in time (its gate is held): the claiming node proceeds
// after KickWait, and the slow node, when it gets to the kick, still
// closes its client with 0x8E and drops its copy: one node holds the
// session.
func TestTakeoverPastASlowOwner(t *testing.T) {
	_, nodes := sessCluster(t, 2)
	a, b := nodes[0], nodes[1]
	c1 := newSessClient()
	s1, _ := sessOpen(t, a, c1, "quiet", true, 60, nil)
	sessSubscribe(t, a, s1, "q/#", 1)
	clustertest.Eventually(t, func() bool { return len(record(t, a, "quiet").Subs) == 1 },
		func() string { return "the subscription is not in the record" })
	unlock, err := a.s.gates.lock(t.Context(), "quiet")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	c2 := newSessClient()
	s2, present := sessOpen(t, b, c2, "quiet", false, 60, nil)
	if waited := time.Since(start); waited < b.s.o.KickWait {
		t.Fatalf("b proceeded after %v, before KickWait %v without an answer", waited, b.s.o.KickWait)
	}
	if !present || len(s2.View().Subs) != 1 {
		t.Fatalf("present %v, subscriptions %+v: the session did not come from the record", present, s2.View().Subs)
	}
	if len(c1.kicked) != 0 {
		t.Fatal("a answered while silent")
	}
	unlock()
	select {
	case code := <-c1.kicked:
		if code != mqtt.SessionTakenOver {
			t.Fatalf("fenced client closed with %v, want 0x8E", code)
		}
	case <-time.After(clustertest.Timeout):
		t.Fatal("the silent node's client was never closed")
	}
	<-c1.gone
	clustertest.Eventually(t, func() bool { return a.b.Lookup("quiet") == nil },
		func() string { return "a still holds a copy" })
	if !s2.HeldBy(c2) {
		t.Fatal("b lost the session")
	}
	if rec := record(t, b, "quiet"); rec.Owner != "b" {
		t.Fatalf("record owner %s, want b", rec.Owner)
	}
}

// TestFencedOwnerLetsGo: a claim whose kick never reached the holding
// node (a partition) is found by that node's own next write of the
// record, refused on its revision (after a grace for the kick), and by
// Recheck after the link heals: either way the client is closed with
// 0x8E and the copy dropped.
func TestFencedOwnerLetsGo(t *testing.T) {
	_, nodes := sessCluster(t, 1)
	a := nodes[0]
	// claimElsewhere moves id's record on as a claim by node z would,
	// without a kick.
	claimElsewhere := func(id string) {
		_, _, err := a.s.store.Claim(t.Context(), id, func(old *cluster.SessionRecord) *cluster.SessionRecord {
			if old == nil {
				// Read from a replica the write has not reached: a
				// create, which fails, and Claim reads again.
				return &cluster.SessionRecord{Owner: "z"}
			}
			rec := *old
			rec.Owner, rec.Epoch = "z", old.Epoch+1
			return &rec
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name  string
		fence func(t *testing.T, id string, s *broker.Session)
	}{
		{"own write refused", func(t *testing.T, id string, s *broker.Session) {
			sessSubscribe(t, a, s, "changed/#", 1) // the next checkpoint writes
		}},
		{"recheck", func(t *testing.T, id string, s *broker.Session) {
			n, err := a.s.Recheck(t.Context())
			if err != nil || n != 1 {
				t.Fatalf("Recheck dropped %d (%v), want 1", n, err)
			}
		}},
		{"link back", func(t *testing.T, id string, s *broker.Session) {
			// The claim came while the link was down; the node rechecks
			// when it is back.
			a.down.Store(true)
			before := a.s.Counts().Fenced.Load()
			clustertest.Eventually(t, a.s.down.Load, func() string { return "the checkpoints never saw the link down" })
			a.down.Store(false)
			clustertest.Eventually(t, func() bool { return a.s.Counts().Fenced.Load() > before },
				func() string { return "no session dropped after the link came back" })
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id := "fenced-" + tc.name
			c := newSessClient()
			s, _ := sessOpen(t, a, c, id, true, 60, nil)
			claimElsewhere(id)
			tc.fence(t, id, s)
			select {
			case code := <-c.kicked:
				if code != mqtt.SessionTakenOver {
					t.Fatalf("fenced client closed with %v, want 0x8E", code)
				}
			case <-time.After(clustertest.Timeout):
				t.Fatal("the fenced client was never closed")
			}
			<-c.gone
			clustertest.Eventually(t, func() bool { return a.b.Lookup(id) == nil },
				func() string { return "the fenced node still holds a copy" })
			if rec := record(t, a, id); rec.Owner != "z" {
				t.Fatalf("record owner %s, want z: the fenced node wrote it", rec.Owner)
			}
		})
	}
}

// TestOfflineSessionExpires: a session whose client left expires on its
// node after its Session Expiry Interval: the will, delayed beyond it,
// goes when the session ends [MQTT-3.1.3-9], once, and the record is
// deleted [MQTT-3.1.2-23].
func TestOfflineSessionExpires(t *testing.T) {
	_, nodes := sessCluster(t, 1)
	a := nodes[0]
	will := &mqtt.Will{QoS: 1, Topic: "will/short", Payload: []byte("x")}
	will.Properties.SetUint32(mqtt.PropWillDelayInterval, 30)
	c := newSessClient()
	sess, _ := sessOpen(t, a, c, "short", true, 1, will)
	left := time.Now()
	a.s.Detach(sess, c, will) // the connection ends without DISCONNECT
	if rec := record(t, a, "short"); rec.Connected || rec.Will == nil || rec.Deadline.IsZero() {
		t.Fatalf("record after the connection ended: %+v", rec)
	}
	select {
	case w := <-a.wills:
		if w.topic != "will/short" {
			t.Fatalf("will on %s", w.topic)
		}
		if d := w.at.Sub(left); d < time.Second {
			t.Fatalf("will published %v after the connection ended, before the 1s expiry", d)
		}
	case <-time.After(clustertest.Timeout):
		t.Fatal("no will when the session expired")
	}
	clustertest.Eventually(t, func() bool {
		_, _, err := a.s.store.Get(t.Context(), "short")
		return errors.Is(err, cluster.ErrNoRecord)
	}, func() string { return "the expired session's record is still there" })
	if a.b.Lookup("short") != nil {
		t.Fatal("the session is still there")
	}
	if n := len(a.wills); n != 0 {
		t.Fatalf("%d more wills", n)
	}
}

// TestConnectionEndWhileCutOff: a connection that ends while the node's
// NATS link is down is recorded once the link is back: its will (none
// after a clean DISCONNECT) published then, once, and the record saying
// the session is offline.
func TestConnectionEndWhileCutOff(t *testing.T) {
	_, nodes := sessCluster(t, 1)
	a := nodes[0]
	cases := []struct {
		id   string
		will *mqtt.Will // at the connection's end; nil: clean DISCONNECT
	}{
		{"cut-will", &mqtt.Will{QoS: 1, Topic: "will/cut", Payload: []byte("x")}},
		{"cut-clean", nil},
	}
	for _, tc := range cases {
		t.Run(tc.id, func(t *testing.T) {
			c := newSessClient()
			sess, _ := sessOpen(t, a, c, tc.id, true, 60, &mqtt.Will{QoS: 1, Topic: "will/cut", Payload: []byte("x")})
			a.down.Store(true)
			a.s.Detach(sess, c, tc.will)
			if rec := record(t, a, tc.id); !rec.Connected || len(a.wills) != 0 {
				t.Fatalf("decided while cut off: record %+v, %d wills", rec, len(a.wills))
			}
			a.down.Store(false)
			clustertest.Eventually(t, func() bool { rec := record(t, a, tc.id); return !rec.Connected && rec.Will == nil },
				func() string { return fmt.Sprintf("record %+v after the link came back", record(t, a, tc.id)) })
			want := 0
			if tc.will != nil {
				want = 1
			}
			if n := len(a.wills); n != want {
				t.Fatalf("%d wills, want %d", n, want)
			}
			for range want {
				<-a.wills
			}
		})
	}
}

// TestCurrentSparesANodeStartedSince: a node's watch of the others
// starts (its first read finds no record of node b), then b starts and
// holds sessions, and only then are the index's entries listed (Current):
// b's sessions are listed, though b was not live at the first read. They
// are b's: none is claimed, b's index keeps them, and when b then dies
// its session is claimed and its will published, once.
func TestCurrentSparesANodeStartedSince(t *testing.T) {
	_, nodes := sessCluster(t, 2)
	a, b := nodes[0], nodes[1]
	will := &mqtt.Will{QoS: 1, Topic: "will/late", Payload: []byte("late")}
	sessOpen(t, b, newSessClient(), "late", true, 0, will)

	lapseHandler{s: a.s, ctx: t.Context()}.Current(map[string]string{}) // b missing from the first read
	if n := a.s.Counts().Claimed.Load(); n != 0 {
		t.Fatalf("a claimed %d sessions of b, which is live", n)
	}
	if rec := record(t, a, "late"); rec.Owner != "b" {
		t.Fatalf("the record of late names %q, want b", rec.Owner)
	}
	es, err := a.s.index.List(t.Context(), "b", b.live.Incarnation())
	if err != nil || len(es) != 1 || es[0].ClientID != "late" {
		t.Fatalf("b's index lists %+v (%v), want late", es, err)
	}

	b.kill(t)
	select {
	case w := <-a.wills:
		if w.topic != "will/late" {
			t.Fatalf("will on %q, want will/late", w.topic)
		}
	case <-time.After(clustertest.Timeout):
		t.Fatal("b's session was not claimed after b died: no will")
	}
	if n := a.s.Counts().Claimed.Load(); n != 1 {
		t.Fatalf("a claimed %d sessions, want b's one", n)
	}
}
