package broker

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"edgemq/gateway/stats"
	"edgemq/gateway/store/bolt"
	"edgemq/mqtt"

	"go.uber.org/zap"
)

// TestDurablePublisher: over a real store (bolt, sync), the Publisher's
// completion runs only once what the publish changed is committed, and a
// broker restored from the file finds it: the persistent session, its
// subscription, the QoS 1 delivery it was owed and the inbound QoS 2 id
// awaiting PUBREL, all written in the publish's group.
func TestDurablePublisher(t *testing.T) {
	path := filepath.Join(t.TempDir(), "broker.db")
	db, err := bolt.Open(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	b := testBroker()
	if err := b.Restore(context.Background(), db, db, ""); err != nil {
		t.Fatal(err)
	}
	var pub Publisher = b
	if !pub.Durable() {
		t.Fatal("a broker with a store is not durable")
	}
	c := &testClient{window: 0, room: 10} // no window: the delivery waits pending
	s, _, err := b.Open(OpenRequest{ClientID: "sub", Clean: true, Expiry: 3600, Client: c, Owner: &Owner{Identity: "user:sub"}}, func(*Session, bool) {})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Subscribing(func() error {
		sub := NewSubscription(SubOptions{Filter: "d/+", QoS: 1})
		b.Subscribe(s, sub)
		s.PutSubs([]*Subscription{sub})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	b.Detach(s, c, nil) // offline: the session stays for its expiry

	p, _, err := b.Open(OpenRequest{ClientID: "pub", Clean: true, Expiry: 3600, Client: &testClient{window: 10, room: 10}, Owner: &Owner{Identity: "user:pub"}}, func(*Session, bool) {})
	if err != nil {
		t.Fatal(err)
	}
	end := pub.Begin()
	if dup, refused := p.ReceiveQoS2(7, false); dup || refused {
		t.Fatalf("a new QoS 2 id: dup %v, refused %v", dup, refused)
	}
	var buf []Match
	now := time.Now()
	if n := pub.RouteAt(NewMessage(&mqtt.Publish{Topic: "d/1", QoS: 2, PacketID: 7, Payload: []byte("kept")}, "pub", now), &buf, now); n != 1 {
		t.Fatalf("routed to %d sessions, want 1", n)
	}
	end()
	done := make(chan error, 1)
	if !pub.AfterCommit("", func(err error) { done <- err }) {
		t.Fatal("a durable publisher made no completion")
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("commit: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the completion never ran")
	}
	b.CloseAll()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db2, err := bolt.Open(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	b2 := New(Config{MaxPending: 1000}, &stats.Counters{}, allowReads{}, zap.NewNop())
	if err := b2.Restore(context.Background(), db2, db2, ""); err != nil {
		t.Fatal(err)
	}
	defer b2.CloseAll()
	rs := b2.Lookup("sub")
	if rs == nil {
		t.Fatal("the subscriber's session was not restored")
	}
	if v := rs.View(); v.Queued != 1 || len(v.Subs) != 1 || v.Subs[0].Filter != "d/+" {
		t.Errorf("restored subscriber %+v, want d/+ and one queued delivery", v)
	}
	rp := b2.Lookup("pub")
	if rp == nil {
		t.Fatal("the publisher's session was not restored")
	}
	// The id committed with the routing: a resend is a repeat [MQTT-4.3.3-10].
	if dup, _ := rp.ReceiveQoS2(7, true); !dup {
		t.Error("the QoS 2 id awaiting PUBREL was not restored")
	}
	if found, stored := rp.Release(7); !found || !stored {
		t.Errorf("PUBREL of the restored id: found %v, stored %v", found, stored)
	}
}
