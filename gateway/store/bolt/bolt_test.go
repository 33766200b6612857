package bolt

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"edgemq/gateway/store"

	bbolt "go.etcd.io/bbolt"
)

func open(t *testing.T, path string) *DB {
	t.Helper()
	d, err := Open(path, 0)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return d
}

func applyWait(t *testing.T, d *DB, ops ...store.Op) {
	t.Helper()
	done := make(chan error, 1)
	d.Apply(ops, func(err error) { done <- err })
	if err := <-done; err != nil {
		t.Fatalf("apply: %v", err)
	}
}

func TestRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "edgemq.db")
	d := open(t, path)
	deadline := time.Unix(2000000000, 0)
	msg := store.Message{ID: 7, From: "pub", Expires: time.Unix(1900000000, 5), Packet: []byte("packet")}
	will := store.Message{From: "c1", Packet: []byte("will")}
	sess := store.Session{ClientID: "c1", Expiry: 3600, Deadline: deadline, NextPID: 9,
		Subs: []store.Subscription{{Filter: "a/#", QoS: 2, NoLocal: true, RetainAsPublished: true, RetainHandling: 1, ID: 4}},
		Will: &will, WillDelay: 30, WillDeadline: deadline.Add(-time.Hour),
		Owner: &store.Owner{Identity: "user:alice", Listener: "tcp", Username: "alice", HasUsername: true,
			Claims: &store.ACLClaims{Pub: []string{"a/#"}, Sub: []string{"b/+"}}}}
	d1 := store.Delivery{Seq: 1, Msg: msg, QoS: 1, PID: 3, State: store.AwaitingPuback, SubIDs: []uint32{4}}
	d2 := store.Delivery{Seq: 2, Msg: msg, QoS: 2, Retain: true, State: store.Pending, Share: "$share/g/a/#"}
	ret := store.Message{Packet: []byte("retained"), Expires: time.Unix(1900000001, 0)}
	applyWait(t, d,
		store.Op{Kind: store.PutSession, Session: &sess},
		store.Op{Kind: store.PutDelivery, ClientID: "c1", Delivery: &d1},
		store.Op{Kind: store.PutDelivery, ClientID: "c1", Delivery: &d2},
		store.Op{Kind: store.PutRel, ClientID: "c1", PID: 11},
		store.Op{Kind: store.PutRel, ClientID: "c1", PID: 12},
		store.Op{Kind: store.DeleteRel, ClientID: "c1", PID: 12},
		store.Op{Kind: store.PutRetained, Topic: "a/b", Retained: &ret},
		store.Op{Kind: store.PutRetained, Topic: "a/c", Retained: &ret},
		store.Op{Kind: store.DeleteRetained, Topic: "a/c"},
	)
	// The message is stored once, referenced twice.
	if err := d.db.View(func(tx *bbolt.Tx) error {
		if n := tx.Bucket(bMessages).Stats().KeyN; n != 1 {
			t.Errorf("messages stored: %d, want 1", n)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	d = open(t, path)
	defer d.Close()
	st, err := d.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := sess
	want.Deliveries = []store.Delivery{d1, d2}
	want.Rels = []uint16{11}
	if len(st.Sessions) != 1 {
		t.Fatalf("sessions: %+v", st.Sessions)
	}
	got := st.Sessions[0]
	if !got.Deadline.Equal(want.Deadline) || !got.WillDeadline.Equal(want.WillDeadline) || !got.Deliveries[0].Msg.Expires.Equal(msg.Expires) {
		t.Errorf("times: %+v", got)
	}
	for _, s := range []*store.Session{&got, &want} {
		s.Deadline, s.WillDeadline = time.Time{}, time.Time{}
		for i := range s.Deliveries {
			s.Deliveries[i].Msg.Expires = time.Time{}
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("session\n got %+v\nwant %+v", got, want)
	}
	if len(st.Retained) != 1 || string(st.Retained[0].Packet) != "retained" || !st.Retained[0].Expires.Equal(ret.Expires) {
		t.Errorf("retained: %+v", st.Retained)
	}
	// Acks release the message once no delivery refers to it; deleting
	// the session removes the rest.
	applyWait(t, d, store.Op{Kind: store.DeleteDelivery, ClientID: "c1", Seq: 1})
	applyWait(t, d, store.Op{Kind: store.DeleteSession, ClientID: "c1"}, store.Op{Kind: store.DeleteSession, ClientID: "nobody"})
	if err := d.db.View(func(tx *bbolt.Tx) error {
		for _, b := range [][]byte{bSessions, bDeliveries, bMessages, bRels} {
			if n := tx.Bucket(b).Stats().KeyN; n != 0 {
				t.Errorf("%s: %d keys left", b, n)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func TestCorruptRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "edgemq.db")
	d := open(t, path)
	d.Close()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] ^= 0x5a
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Open(path, 0)
	if !errors.Is(err, store.ErrCorrupt) {
		t.Fatalf("open of a corrupt file: %v", err)
	}
	// Never reset: the file is as it was.
	after, _ := os.ReadFile(path)
	if string(after) != string(b) {
		t.Error("corrupt file was modified")
	}
	if err := os.WriteFile(path, []byte("not a database"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path, 0); !errors.Is(err, store.ErrCorrupt) {
		t.Fatalf("open of a non-database: %v", err)
	}
}

func TestVersionRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "edgemq.db")
	d := open(t, path)
	if err := d.db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bMeta).Put(kSchema, []byte{0, 0, 0, 99})
	}); err != nil {
		t.Fatal(err)
	}
	d.Close()
	_, err := Open(path, 0)
	if !errors.Is(err, store.ErrVersion) {
		t.Fatalf("open of version 99: %v", err)
	}
	// A bbolt file without a schema key is refused too.
	path2 := filepath.Join(t.TempDir(), "other.db")
	db, _ := bbolt.Open(path2, 0o600, nil)
	db.Update(func(tx *bbolt.Tx) error { _, err := tx.CreateBucket([]byte("x")); return err })
	db.Close()
	if _, err := Open(path2, 0); !errors.Is(err, store.ErrVersion) {
		t.Fatalf("open of a store without version: %v", err)
	}
}

func TestAsyncFlush(t *testing.T) {
	path := filepath.Join(t.TempDir(), "edgemq.db")
	d, err := Open(path, 10*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	ret := store.Message{Packet: []byte("r")}
	called := false
	d.Apply([]store.Op{{Kind: store.PutRetained, Topic: "t", Retained: &ret}}, func(error) { called = true })
	if !called {
		t.Error("async done not called at once")
	}
	d.Close()
	d = open(t, path)
	defer d.Close()
	st, err := d.Load(context.Background())
	if err != nil || len(st.Retained) != 1 {
		t.Fatalf("after close: %v %+v", err, st)
	}
}

// TestAckedInBatch checks that a delivery put and deleted in one batch
// leaves nothing, and a message still referenced stays.
func TestAckedInBatch(t *testing.T) {
	d := open(t, filepath.Join(t.TempDir(), "edgemq.db"))
	defer d.Close()
	msg := store.Message{ID: 1, Packet: []byte("p")}
	other := store.Message{ID: 2, Packet: []byte("q")}
	d.gate.Lock() // hold the writer: everything below is one batch
	d.Apply([]store.Op{
		{Kind: store.PutDelivery, ClientID: "a", Delivery: &store.Delivery{Seq: 1, Msg: msg, QoS: 1}},
		{Kind: store.PutDelivery, ClientID: "b", Delivery: &store.Delivery{Seq: 1, Msg: msg, QoS: 1}},
		{Kind: store.PutDelivery, ClientID: "a", Delivery: &store.Delivery{Seq: 2, Msg: other, QoS: 1}},
		{Kind: store.PutDelivery, ClientID: "a", Delivery: &store.Delivery{Seq: 2, Msg: other, QoS: 1, PID: 5, State: store.AwaitingPuback}},
	}, nil)
	d.Apply([]store.Op{
		{Kind: store.DeleteDelivery, ClientID: "a", Seq: 1},
		{Kind: store.DeleteDelivery, ClientID: "a", Seq: 2},
	}, nil)
	d.gate.Unlock()
	applyWait(t, d)
	if err := d.db.View(func(tx *bbolt.Tx) error {
		if n := tx.Bucket(bDeliveries).Stats().KeyN; n != 1 {
			t.Errorf("deliveries: %d, want 1", n)
		}
		v := tx.Bucket(bMessages).Get(msgKey(1))
		if refs, _, err := decodeMessage(1, v); err != nil || refs != 1 {
			t.Errorf("message 1: refs %d, %v; want 1", refs, err)
		}
		if tx.Bucket(bMessages).Get(msgKey(2)) != nil {
			t.Error("message 2 written though acknowledged in the batch")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// TestSessionWithoutOwner loads a session record written before sessions
// had owners: it loads, with no owner.
func TestSessionWithoutOwner(t *testing.T) {
	path := filepath.Join(t.TempDir(), "edgemq.db")
	d := open(t, path)
	if err := d.db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(bSessions).Put([]byte("old"), []byte(`{"ClientID":"old","Expiry":60,"Subs":[{"Filter":"a/#","QoS":1}]}`))
	}); err != nil {
		t.Fatal(err)
	}
	st, err := d.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if len(st.Sessions) != 1 || st.Sessions[0].ClientID != "old" || len(st.Sessions[0].Subs) != 1 {
		t.Fatalf("sessions: %+v", st.Sessions)
	}
	if o := st.Sessions[0].Owner; o != nil {
		t.Errorf("owner of an old record: %+v, want nil", o)
	}
}

// TestWaitCommitsNothing: an Apply of no operations (an acknowledgement
// waiting for what was queued before it) completes without a commit of
// its own once what came before is committed, and without waiting for
// the groups in progress (a wait-only batch is cut without the gate);
// an Apply with operations still commits.
func TestWaitCommitsNothing(t *testing.T) {
	d := open(t, filepath.Join(t.TempDir(), "edgemq.db"))
	defer d.Close()
	txid := func() int {
		t.Helper()
		var id int
		if err := d.db.View(func(tx *bbolt.Tx) error { id = tx.ID(); return nil }); err != nil {
			t.Fatal(err)
		}
		return id
	}
	msg := store.Message{ID: 1, Packet: []byte("p")}
	put := store.Op{Kind: store.PutDelivery, ClientID: "a", Delivery: &store.Delivery{Seq: 1, Msg: msg, QoS: 1}}
	for _, tc := range []struct {
		name string
		// write queues a write in the same batch, before the Apply.
		write   bool
		ops     []store.Op
		commits int
	}{
		{"a write", false, []store.Op{put}, 1},
		{"a wait", false, nil, 0},
		{"a wait behind a write", true, nil, 1},
	} {
		before := txid()
		if tc.write {
			d.gate.Lock() // hold the writer: one batch
			d.Apply([]store.Op{put}, nil)
		}
		done := make(chan error, 1)
		d.Apply(tc.ops, func(err error) { done <- err })
		if tc.write {
			d.gate.Unlock()
		}
		if err := <-done; err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := txid() - before; got != tc.commits {
			t.Errorf("%s: %d commits, want %d", tc.name, got, tc.commits)
		}
	}
	// A publisher's group in progress does not hold up a wait.
	end := d.Group()
	defer end()
	done := make(chan error, 1)
	d.Apply(nil, func(err error) { done <- err })
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a wait waited for a group in progress")
	}
}
