package backend

import (
	"bytes"
	"context"
	"slices"
	"strconv"
	"testing"

	"edgemq/gateway/broker"
	"edgemq/gateway/cluster"
	"edgemq/gateway/cluster/clustertest"
	"edgemq/gateway/store"
	"edgemq/mqtt"

	"github.com/nats-io/nats.go"
)

// TestRecordsOfANewerNode plays the records a node of a newer edgemq
// writes during a rolling upgrade against nodes of this version, on a
// real NATS cluster: fields this version does not know survive its
// takeover, checkpoint and lapse claim byte for byte; a record of a newer
// version is neither taken over nor claimed, rewritten or deleted; a
// stored message handed to a shared group keeps the headers it came with.
func TestRecordsOfANewerNode(t *testing.T) {
	c, nodes := sessCluster(t, 2)
	a, b := nodes[0], nodes[1]
	ctx, cancel := context.WithTimeout(context.Background(), clustertest.Timeout)
	defer cancel()
	kv := a.layout.Sessions
	leader := func(t *testing.T, id string) ([]byte, uint64) {
		t.Helper()
		r, err := cluster.NewRecords(kv).Latest(ctx, a.nc, cluster.SessionKey(id))
		if err != nil {
			t.Fatalf("reading %s's record: %v", id, err)
		}
		return r.Value, r.Revision
	}
	const field = `"zz_future":{"v":[1, 2],"w":"\u00fc"}`

	t.Run("unknown fields survive a takeover and a checkpoint", func(t *testing.T) {
		const id = "future1"
		ca := newSessClient()
		sa, _ := sessOpen(t, a, ca, id, false, 300, nil)
		sessSubscribe(t, a, sa, "f/1", 1)
		a.s.Detach(sa, ca, nil)
		clustertest.Eventually(t, func() bool { r := record(t, a, id); return !r.Connected && len(r.Subs) == 1 },
			func() string { return "the record offline with its subscription" })
		// A newer node's field, written straight to the bucket (again if
		// a wrote the record meanwhile).
		clustertest.Eventually(t, func() bool {
			v, rev := leader(t, id)
			v = append(v[:len(v)-1:len(v)-1], ","+field+"}"...)
			_, err := kv.Update(ctx, cluster.SessionKey(id), v, rev)
			return err == nil
		}, func() string { return "the newer node's field written" })
		cb := newSessClient()
		sb, present := sessOpen(t, b, cb, id, false, 300, nil)
		if !present {
			t.Fatal("session not present on b")
		}
		v, _ := leader(t, id)
		if rec, err := cluster.DecodeSession(v); err != nil || rec.Owner != "b" || !bytes.Contains(v, []byte(field)) {
			t.Fatalf("record after b's takeover %s (%+v, %v), want owner b and %s", v, rec, err, field)
		}
		sessSubscribe(t, b, sb, "f/2", 1) // rewritten by b
		clustertest.Eventually(t, func() bool { return len(record(t, b, id).Subs) == 2 },
			func() string { return "b's record with both subscriptions" })
		if v, _ = leader(t, id); !bytes.Contains(v, []byte(field)) {
			t.Fatalf("record after b's checkpoint %s, want %s", v, field)
		}
	})

	t.Run("a newer version is refused on connect and left as it was", func(t *testing.T) {
		const id = "future2"
		want := append([]byte{2}, `{"owner":"z","epoch":4,"connected":false,"zz":1}`...)
		rev, err := kv.Create(ctx, cluster.SessionKey(id), want)
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = b.s.Open(broker.OpenRequest{ClientID: id, Client: newSessClient(),
			Owner: &broker.Owner{Identity: "user:u", Record: store.Owner{Identity: "user:u"}}}, func(*broker.Session, bool) {})
		// Not this node's to serve: 0x88 Server unavailable, and the
		// client tries again, on an upgraded node [MQTT-3.2.2-6 (return code 3)].
		if code := mqtt.CodeOf(err); code != mqtt.ServerUnavailable {
			t.Fatalf("open of a newer record: %v (code %v), want 0x88", err, code)
		}
		if got, gotRev := leader(t, id); gotRev != rev || !bytes.Equal(got, want) {
			t.Fatalf("record after the refused open: %q at %d, want %q at %d", got, gotRev, want, rev)
		}
		if b.b.Lookup(id) != nil {
			t.Fatal("a refused CONNECT made a session")
		}
	})

	t.Run("a lapse claims what it reads and leaves a newer version", func(t *testing.T) {
		ix := cluster.NewOwnerIndex(b.js, kv)
		newer := append([]byte{2}, `{"owner":"gone","inc":"inc1","epoch":4,"connected":true,"expiry":300}`...)
		older := append([]byte{1}, `{"owner":"gone","inc":"inc1","epoch":4,"connected":true,"expiry":300,"cursor":0,`+field+`}`...)
		revs := map[string]uint64{}
		for id, v := range map[string][]byte{"future3": newer, "future4": older} {
			if _, err := ix.Add(ctx, "gone", "inc1", id); err != nil {
				t.Fatal(err)
			}
			rev, err := kv.Create(ctx, cluster.SessionKey(id), v)
			if err != nil {
				t.Fatal(err)
			}
			revs[id] = rev
		}
		lapseHandler{s: b.s, ctx: ctx}.Lapsed("gone", "inc1")
		// The one it reads is claimed (by b, or by a if it happened to
		// look at absent owners meanwhile), the newer node's field kept.
		v, _ := leader(t, "future4")
		if rec, err := cluster.DecodeSession(v); err != nil || (rec.Owner != "b" && rec.Owner != "a") || !bytes.Contains(v, []byte(field)) {
			t.Fatalf("claimed record %s (%+v, %v), want owner a or b and %s", v, rec, err, field)
		}
		// The newer one is left untouched, and its index entry with it.
		if slices.Contains(b.s.Owned(), "future3") || slices.Contains(a.s.Owned(), "future3") {
			t.Fatal("a record of a newer version was claimed")
		}
		if got, rev := leader(t, "future3"); rev != revs["future3"] || !bytes.Equal(got, newer) {
			t.Fatalf("newer record after the lapse: %q at %d, want %q at %d", got, rev, newer, revs["future3"])
		}
		entries, err := ix.List(ctx, "gone", "inc1")
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(entries, func(e cluster.IndexEntry) bool { return e.ClientID == "future3" }) {
			t.Fatalf("index of the lapsed node %+v lost future3's entry", entries)
		}
	})

	t.Run("a shared message handed over keeps a newer node's headers", func(t *testing.T) {
		const topic = "g/1"
		sub, err := b.nc.SubscribeSync(GroupSubject("grp", topic))
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = sub.Unsubscribe() }()
		if err := b.nc.Flush(); err != nil {
			t.Fatal(err)
		}
		pub := &mqtt.Publish{QoS: 1, Topic: topic, Payload: []byte("owed"), PacketID: 1}
		data, err := mqtt.AppendPublish(nil, pub, mqtt.V5)
		if err != nil {
			t.Fatal(err)
		}
		m := nats.NewMsg(cluster.DurableSubject(topic))
		m.Data = data
		m.Header.Set(hdrFrom, "publisher")
		m.Header.Set(hdrOrigin, "newer/1")
		m.Header.Set("Emq-Future", "kept")
		m.Header.Set(nats.MsgIdHdr, "future-msg-1")
		ack, err := a.js.PublishMsg(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		clustertest.WaitInterest(t, c.Servers[0], GroupSubject("grp", topic))
		a.s.handOverShared(ctx, "gone-member", []cluster.RecordShared{{Share: "grp", Filter: topic, Seq: ack.Sequence}})
		got, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			t.Fatalf("no handed-over message: %v", err)
		}
		h := got.Header
		if h.Get("Emq-Future") != "kept" || h.Get(hdrFrom) != "publisher" || h.Get(hdrOrigin) != "newer/1" ||
			h.Get(hdrStreamSeq) != strconv.FormatUint(ack.Sequence, 10) || h.Get(nats.MsgIdHdr) != "" {
			t.Fatalf("handed-over headers %v", h)
		}
	})
}
