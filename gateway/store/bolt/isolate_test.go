package bolt

import (
	"bytes"
	"encoding/json"
	"errors"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"edgemq/gateway/store"

	bbolt "go.etcd.io/bbolt"
)

// TestBadWriteIsolated checks that an Apply call the store cannot hold (a
// retained topic over bbolt's key limit) fails alone: the other calls of
// the same commit are stored and their done gets nil; before, the whole
// group commit failed and every caller got the error.
func TestBadWriteIsolated(t *testing.T) {
	long := strings.Repeat("t", store.MaxRetainedTopic+1)
	ret := store.Message{Packet: []byte("r")}
	sess := store.Session{ClientID: "good", Expiry: 60}
	msg := store.Message{ID: 1, Packet: []byte("m")}
	for _, tc := range []struct {
		name string
		bad  []store.Op
	}{
		{"retained topic over the key limit", []store.Op{{Kind: store.PutRetained, Topic: long, Retained: &ret}}},
		{"client id over the key limit", []store.Op{{Kind: store.PutSession, Session: &store.Session{ClientID: long, Expiry: 1}}}},
		{"bad op after good ones of its call", []store.Op{
			{Kind: store.PutRetained, Topic: "bad/first", Retained: &ret},
			{Kind: store.PutRetained, Topic: long, Retained: &ret},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "edgemq.db")
			d := open(t, path)
			errs := make(chan error, 4)
			done := func(err error) { errs <- err }
			// One group: all three calls are in one batch.
			end := d.Group()
			d.Apply([]store.Op{{Kind: store.PutSession, Session: &sess}, {Kind: store.PutDelivery, ClientID: "good", Delivery: &store.Delivery{Seq: 1, Msg: msg, QoS: 1}}}, done)
			d.Apply(tc.bad, done)
			d.Apply([]store.Op{{Kind: store.PutRetained, Topic: "good/after", Retained: &ret}}, done)
			end()
			got := []error{<-errs, <-errs, <-errs}
			if got[0] != nil || got[2] != nil {
				t.Errorf("good calls got %v and %v, want nil", got[0], got[2])
			}
			if !errors.Is(got[1], store.ErrTooLarge) {
				t.Errorf("bad call got %v, want store.ErrTooLarge", got[1])
			}
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
			d = open(t, path)
			defer d.Close()
			st, err := d.Load(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if len(st.Sessions) != 1 || st.Sessions[0].ClientID != "good" || len(st.Sessions[0].Deliveries) != 1 {
				t.Errorf("sessions = %+v, want good with its delivery", st.Sessions)
			}
			// Only good/after: the bad call's first op is left out with it.
			if len(st.Retained) != 1 || string(st.Retained[0].Packet) != "r" {
				t.Errorf("retained = %+v, want good/after only", st.Retained)
			}
		})
	}
}

// TestSubscriptionsPerKey checks that subscriptions are stored one key
// each: added and removed by filter, dropped with their session, and
// that PutSession leaves the stored ones alone.
func TestSubscriptionsPerKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "edgemq.db")
	d := open(t, path)
	long := strings.Repeat("f", 70000) // longer than a bbolt key
	sub := func(f string, qos byte) store.Subscription {
		return store.Subscription{Filter: f, QoS: qos, NoLocal: qos == 2, RetainAsPublished: qos == 1, RetainHandling: qos, ID: uint32(qos) + 7}
	}
	applyWait(t, d,
		store.Op{Kind: store.PutSession, Session: &store.Session{ClientID: "c1", Expiry: 60}},
		store.Op{Kind: store.PutSubscriptions, ClientID: "c1", Subs: []store.Subscription{sub("a/#", 1), sub("b", 0), sub(long, 2)}},
		store.Op{Kind: store.PutSubscriptions, ClientID: "c1", Subs: []store.Subscription{sub("b", 2)}}, // replaces b
		store.Op{Kind: store.DeleteSubscriptions, ClientID: "c1", Filters: []string{"a/#", "never"}},
		store.Op{Kind: store.PutSession, Session: &store.Session{ClientID: "c1", Expiry: 90}},
		store.Op{Kind: store.PutSession, Session: &store.Session{ClientID: "c2", Expiry: 60}},
		store.Op{Kind: store.PutSubscriptions, ClientID: "c2", Subs: []store.Subscription{sub("x", 1)}},
		store.Op{Kind: store.DeleteSession, ClientID: "c2"},
	)
	st, err := d.Load(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Sessions) != 1 || st.Sessions[0].Expiry != 90 {
		t.Fatalf("sessions = %+v, want c1 with expiry 90", st.Sessions)
	}
	got := st.Sessions[0].Subs
	slices.SortFunc(got, func(a, b store.Subscription) int { return strings.Compare(a.Filter, b.Filter) })
	if want := []store.Subscription{sub("b", 2), sub(long, 2)}; !reflect.DeepEqual(got, want) {
		t.Errorf("subs = %+v, want b (replaced) and the long filter", got)
	}
	if err := d.db.View(func(tx *bbolt.Tx) error {
		if n := tx.Bucket(bSubs).Stats().KeyN; n != 2 {
			t.Errorf("%d subscription keys, want 2 (c2's went with its session)", n)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	d.Close()
}

// TestSubscriptionsMigrated checks that a store of schema version 1,
// whose session records hold their subscriptions, is moved to one key per
// subscription at open and marked version 2.
func TestSubscriptionsMigrated(t *testing.T) {
	path := filepath.Join(t.TempDir(), "edgemq.db")
	d := open(t, path)
	subs := []store.Subscription{{Filter: "a/#", QoS: 1}, {Filter: "b", QoS: 2, ID: 3}}
	old := store.Session{ClientID: "old", Expiry: 60, Subs: subs}
	// The version 1 layout: the record with its subscriptions, no
	// subscriptions bucket.
	if err := d.db.Update(func(tx *bbolt.Tx) error {
		v, err := json.Marshal(&old)
		if err != nil {
			return err
		}
		if err := tx.Bucket(bSessions).Put([]byte("old"), v); err != nil {
			return err
		}
		if err := tx.Bucket(bMeta).Put(kSchema, []byte{0, 0, 0, 1}); err != nil {
			return err
		}
		return tx.DeleteBucket(bSubs)
	}); err != nil {
		t.Fatal(err)
	}
	d.Close()
	d = open(t, path)
	if err := d.db.View(func(tx *bbolt.Tx) error {
		if v := tx.Bucket(bMeta).Get(kSchema); !bytes.Equal(v, []byte{0, 0, 0, 2}) {
			t.Errorf("schema %x after the upgrade, want 2", v)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// A record written after the migration no longer holds them: they
	// must survive it.
	applyWait(t, d, store.Op{Kind: store.PutSession, Session: &store.Session{ClientID: "old", Expiry: 120}})
	d.Close()
	d = open(t, path)
	defer d.Close()
	st, err := d.Load(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Sessions) != 1 {
		t.Fatalf("sessions = %+v", st.Sessions)
	}
	got := st.Sessions[0].Subs
	slices.SortFunc(got, func(a, b store.Subscription) int { return strings.Compare(a.Filter, b.Filter) })
	if !reflect.DeepEqual(got, subs) || st.Sessions[0].Expiry != 120 {
		t.Errorf("session = %+v, want expiry 120 and subs %+v", st.Sessions[0], subs)
	}
}
