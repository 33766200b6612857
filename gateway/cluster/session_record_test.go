package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"edgemq/gateway/cluster"
	"edgemq/gateway/cluster/clustertest"
	"edgemq/mqtt"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

func TestSessionRecordCodec(t *testing.T) {
	due := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		rec  cluster.SessionRecord
	}{
		{"empty", cluster.SessionRecord{}},
		{"connected", cluster.SessionRecord{Owner: "node1", Epoch: 7, Connected: true, Expiry: 0xFFFFFFFF, Cursor: 42}},
		{"offline with everything", cluster.SessionRecord{
			Owner: "n=2", Epoch: 1, Expiry: 60, Deadline: due,
			Subs: []cluster.RecordSub{{Filter: "a/+/#", QoS: 2, NoLocal: true, RetainAsPublished: true, RetainHandling: 2, ID: 9},
				{Filter: "$share/g/x", QoS: 1}, {Filter: "ü/ /."}},
			Will:     &cluster.RecordWill{Packet: []byte{0x30, 0x03, 0, 1, 'a'}, Delay: 5, Due: due},
			Rels:     []uint16{1, 65535},
			Identity: []byte(`{"Identity":"user:x"}`),
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, err := cluster.EncodeSession(&tc.rec)
			if err != nil {
				t.Fatal(err)
			}
			got, err := cluster.DecodeSession(b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(&tc.rec, got) {
				t.Fatalf("round trip: got %+v, want %+v", got, &tc.rec)
			}
		})
	}
	// Unknown fields and newer versions: compat_test.go.
	for _, bad := range [][]byte{nil, {}, {0, '{', '}'}, {2, '{', '}'}, {1, 'x'}, {1, '[', ']'}} {
		if _, err := cluster.DecodeSession(bad); err == nil {
			t.Errorf("DecodeSession(%q) = nil error, want one", bad)
		}
	}
}

func TestRecordWill(t *testing.T) {
	w := &mqtt.Will{QoS: 1, Retain: true, Topic: "dead/a", Payload: []byte("gone")}
	w.Properties.SetUint32(mqtt.PropWillDelayInterval, 30)
	w.Properties.SetString(mqtt.PropContentType, "text/plain")
	rw, err := cluster.NewRecordWill(w, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if rw.Delay != 30 {
		t.Fatalf("delay %d, want 30", rw.Delay)
	}
	pub, err := rw.Publish()
	if err != nil {
		t.Fatal(err)
	}
	// The PUBLISH a will becomes has no Will Delay Interval [MQTT-3.1.3-9
	// publishes it after the delay, as the client's message].
	if pub.Properties.Has(mqtt.PropWillDelayInterval) || pub.Topic != "dead/a" || string(pub.Payload) != "gone" ||
		pub.QoS != 1 || !pub.Retain || pub.Properties.ContentType != "text/plain" || pub.PacketID != 0 {
		t.Fatalf("publish %+v", pub)
	}
	back, err := rw.Will()
	if err != nil {
		t.Fatal(err)
	}
	if back.Properties.WillDelayInterval != 30 || back.Topic != w.Topic {
		t.Fatalf("will %+v", back)
	}
}

// sessionStores starts a 3-server cluster with the layout and returns a
// session store on each server.
func sessionStores(t *testing.T) (*clustertest.Cluster, []cluster.SessionStore, *cluster.Layout) {
	t.Helper()
	c := clustertest.Start(t, 3)
	l, jss := layout(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), clustertest.Timeout)
	defer cancel()
	var out []cluster.SessionStore
	for _, js := range jss {
		kv, err := js.KeyValue(ctx, cluster.SessionsBucket)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, cluster.NewSessionStore(kv))
	}
	return c, out, l
}

// TestSessionClaims races three nodes, one per server, claiming one
// client id round after round: every claim succeeds once, each sees the
// record the previous winner wrote, so the epochs form one chain (a
// write naming a stale revision never lands), and late writers are
// fenced.
func TestSessionClaims(t *testing.T) {
	_, stores, _ := sessionStores(t)
	ctx, cancel := context.WithTimeout(context.Background(), clustertest.Timeout)
	defer cancel()
	const rounds = 10
	var wg sync.WaitGroup
	for i, st := range stores {
		node := []string{"a", "b", "c"}[i]
		wg.Go(func() {
			for range rounds {
				_, _, err := st.Claim(ctx, "client/1", func(old *cluster.SessionRecord) *cluster.SessionRecord {
					rec := &cluster.SessionRecord{Owner: node, Connected: true, Epoch: 1}
					if old != nil {
						rec.Epoch = old.Epoch + 1
					}
					return rec
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	// 30 successful claims, each on the one before: epoch 30. Reads are
	// direct gets, and the replica answering may lag: poll until the
	// last claim is seen (a lost claim never gets there).
	var (
		rec *cluster.SessionRecord
		rev uint64
		err error
	)
	clustertest.Eventually(t, func() bool {
		rec, rev, err = stores[1].Get(ctx, "client/1")
		return err == nil && rec.Epoch >= 3*rounds
	}, func() string { return fmt.Sprintf("record %+v, %v: a claim was lost", rec, err) })
	if rec.Epoch != 3*rounds {
		t.Fatalf("epoch %d after %d claims: a claim was lost or doubled", rec.Epoch, 3*rounds)
	}
	// A write at an old revision is fenced.
	if _, err := stores[2].Put(ctx, "client/1", &cluster.SessionRecord{Owner: "late"}, rev-1); !errors.Is(err, cluster.ErrStale) {
		t.Fatalf("late write: %v, want ErrStale", err)
	}
	if err := stores[0].Delete(ctx, "client/1", rev-1); !errors.Is(err, cluster.ErrStale) {
		t.Fatalf("late delete: %v, want ErrStale", err)
	}
	owned, err := stores[0].OwnedBy(ctx, rec.Owner)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]uint64{"client/1": rev}; !reflect.DeepEqual(owned, want) {
		t.Fatalf("OwnedBy(%s) = %v, want %v", rec.Owner, owned, want)
	}
	if err := stores[0].Delete(ctx, "client/1", rev); err != nil {
		t.Fatal(err)
	}
	clustertest.Eventually(t, func() bool {
		_, _, err = stores[2].Get(ctx, "client/1")
		return errors.Is(err, cluster.ErrNoRecord)
	}, func() string { return fmt.Sprintf("after delete: %v, want ErrNoRecord", err) })
}

// TestKickAcrossServers: a node on server 3 answers the kicks of its
// sessions; a node on server 1 asks and gets the answer; a node nobody
// serves gets ErrNoKickServer, not a timeout.
func TestKickAcrossServers(t *testing.T) {
	c := clustertest.Start(t, 3)
	served, asker := c.Connect(t, 2), c.Connect(t, 0)
	got := make(chan cluster.KickRequest, 1)
	ks, err := cluster.ServeKicks(served, "node3", 5*time.Second, func(ctx context.Context, req cluster.KickRequest) cluster.KickReply {
		got <- req
		return cluster.KickReply{Held: true, Cursor: 99}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ks.Stop()
	clustertest.WaitInterest(t, c.Servers[0], cluster.KickSubject("node3"))
	ctx, cancel := context.WithTimeout(context.Background(), clustertest.Timeout)
	defer cancel()
	req := cluster.KickRequest{ClientID: "id.with*odd>chars", Epoch: 4, By: "node1"}
	r, err := cluster.Kick(ctx, asker, "node3", req)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Held || r.Cursor != 99 {
		t.Fatalf("reply %+v", r)
	}
	if g := <-got; g != req {
		t.Fatalf("served %+v, want %+v", g, req)
	}
	if _, err := cluster.Kick(ctx, asker, "node9", req); !errors.Is(err, cluster.ErrNoKickServer) {
		t.Fatalf("kick to nobody: %v, want ErrNoKickServer", err)
	}
}

type lapses struct {
	current chan map[string]string
	lapsed  chan string
}

func (l lapses) Current(live map[string]string) { l.current <- live }
func (l lapses) Lapsed(node, _ string)          { l.lapsed <- node }

// TestWatchLapses: a watcher sees the live nodes, then the lapse of a
// node that stops renewing, and the delete of one that stops cleanly;
// never its own.
func TestWatchLapses(t *testing.T) {
	c := clustertest.Start(t, 3)
	l, jss := layout(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), clustertest.Timeout)
	defer cancel()
	log := zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	var lives []*cluster.Liveness
	for i, name := range []string{"w", "crash", "clean"} {
		kv, err := jss[i].KeyValue(ctx, cluster.NodesBucket)
		if err != nil {
			t.Fatal(err)
		}
		lv := cluster.NewLiveness(jss[i], kv, name, 100*time.Millisecond, time.Second, log)
		if err := lv.Acquire(ctx); err != nil {
			t.Fatal(err)
		}
		lives = append(lives, lv)
	}
	// "w" keeps renewing; the others are never renewed: "crash" lapses
	// after its TTL.
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	go func() { _ = lives[0].Run(runCtx) }()
	h := lapses{current: make(chan map[string]string, 1), lapsed: make(chan string, 4)}
	watched := make(chan error, 1)
	go func() { watched <- cluster.WatchLapses(runCtx, l.Nodes, "w", h) }()
	var live map[string]string
	select {
	case live = <-h.current:
	case <-ctx.Done():
		t.Fatal("no current set")
	}
	if want := map[string]string{"crash": lives[1].Incarnation(), "clean": lives[2].Incarnation()}; !reflect.DeepEqual(live, want) {
		t.Fatalf("current %v, want %v", live, want)
	}
	if err := lives[2].Release(ctx); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for len(got) < 2 {
		select {
		case n := <-h.lapsed:
			got[n] = true
		case <-ctx.Done():
			t.Fatalf("lapses seen %v, want crash and clean", got)
		}
	}
	if want := map[string]bool{"crash": true, "clean": true}; !reflect.DeepEqual(got, want) {
		t.Fatalf("lapsed %v, want %v", got, want)
	}
	stopRun()
	if err := <-watched; err != nil {
		t.Fatal(err)
	}
}
