package backend

import (
	"context"
	"sync"
	"testing"

	"edgemq/gateway/broker"
	"edgemq/gateway/cluster"
	"edgemq/gateway/cluster/clustertest"
	"edgemq/mqtt"
)

// TestWillOnceAcrossCrash: the node holding an offline session publishes
// its will when due and dies (kill -9) before it removes the will from
// the session's record. The node that claims the session finds the will
// due in the record and publishes it again: the messages stream keeps
// one (same Nats-Msg-Id), and a subscriber gets the will exactly once
// [MQTT-3.1.3-9], not twice.
func TestWillOnceAcrossCrash(t *testing.T) {
	nc := clustertest.Start(t, 3)
	nodes := startNodesOn(t, nc, []int{0, 1, 2}, 3)
	watchNode, other, victim := nodes[0], nodes[1], nodes[2]
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	watch := newAckingClient()
	ws, _, err := watchNode.be.Sessions().Open(broker.OpenRequest{ClientID: "watch", Client: watch, Owner: &broker.Owner{Identity: "w"}},
		func(*broker.Session, bool) {})
	if err != nil {
		t.Fatal(err)
	}
	watch.sess.Store(ws)
	go watch.run(ctx)
	watchNode.subscribe(t, ws, "will/#", 0)
	for _, s := range nc.Servers {
		clustertest.WaitInterest(t, s, cluster.TopicSubject("will/x"))
	}

	published := make(chan struct{})
	var once sync.Once
	victim.be.sess.willSent = func(id string) {
		if id == "dev-w" {
			// Published: the node dies before the record says so.
			once.Do(func() {
				victim.kill()
				close(published)
			})
		}
	}
	will := &mqtt.Will{QoS: 1, Topic: "will/dev-w", Payload: []byte("gone")}
	will.Properties.SetUint32(mqtt.PropWillDelayInterval, 1)
	c := newTestClient()
	sess, _, err := victim.be.Sessions().Open(broker.OpenRequest{ClientID: "dev-w", Expiry: 60, Client: c, Owner: &broker.Owner{Identity: "d"},
		Will: will}, func(*broker.Session, bool) {})
	if err != nil {
		t.Fatal(err)
	}
	victim.be.Sessions().Detach(sess, c, will) // the connection ends: the will in 1s
	<-published

	// A survivor claims the session and finds the will due in its record.
	clustertest.Eventually(t, func() bool {
		rec, _, err := other.be.sess.store.Get(t.Context(), "dev-w")
		return err == nil && rec.Owner != victim.node.Name() && rec.Will == nil
	}, func() string { return "the dead node's session is not claimed, or its will not settled" })
	other.publish(t, "fence", &mqtt.Publish{QoS: 1, PacketID: 1, Topic: "will/fence", Payload: []byte("fence")})
	clustertest.Eventually(t, func() bool { return len(watch.missing([]string{"fence"})) == 0 },
		func() string { return "no fence" })
	watch.mu.Lock()
	n := watch.got["gone"]
	watch.mu.Unlock()
	if n != 1 {
		t.Fatalf("the will was received %d times, want once", n)
	}
	if wills := watchNode.be.sess.Counts().Wills.Load() + other.be.sess.Counts().Wills.Load(); wills != 1 {
		t.Fatalf("%d wills published by the survivors, want 1 (sent again, stored once)", wills)
	}
}
