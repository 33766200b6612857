package gateway

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// TestCrashRecovery builds the real edgemq binary, runs QoS 1 and QoS 2
// traffic from paho.golang clients into an offline persistent session,
// kills the binary with SIGKILL at random points over several rounds,
// restarts it, and checks with clean start false: session present,
// subscriptions intact, every acknowledged QoS 1 message delivered at
// least once and every acknowledged QoS 2 message exactly once, the
// retained message present.
func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the edgemq binary")
	}
	g := newCrashGateway(t) // persist_exactly_once_test.go
	addr, start, kill := g.addr, g.start, g.kill
	sessProps := &paho.ConnectProperties{SessionExpiryInterval: refOf(uint32(3600))}

	start()
	// The persistent subscriber: subscribes, then goes offline.
	sub, _ := crashClient(t, addr, &paho.Connect{ClientID: "crash-sub", CleanStart: true, KeepAlive: 60, Properties: sessProps}, nil)
	ctx := t.Context()
	if _, err := sub.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{
		{Topic: "crash/q1", QoS: 1}, {Topic: "crash/q2", QoS: 2}}}); err != nil {
		t.Fatal(err)
	}
	sub.Disconnect(&paho.Disconnect{})
	pub, _ := crashClient(t, addr, &paho.Connect{ClientID: "crash-pub", CleanStart: true, KeepAlive: 60}, nil)
	if _, err := pub.Publish(ctx, &paho.Publish{Topic: "crash/retained", QoS: 1, Retain: true, Payload: []byte("kept")}); err != nil {
		t.Fatal(err)
	}
	pub.Disconnect(&paho.Disconnect{})

	var mu sync.Mutex
	acked := map[string]byte{} // payload → qos
	// A live subscriber, connected during the rounds (clean start false
	// after the first), gets QoS 1 messages in flight when the kill comes.
	live := map[string]int{}
	onLive := func(p *paho.Publish) {
		mu.Lock()
		live[string(p.Payload)]++
		mu.Unlock()
	}
	lc, _ := crashClient(t, addr, &paho.Connect{ClientID: "crash-live", CleanStart: true, KeepAlive: 60, Properties: sessProps}, onLive)
	if _, err := lc.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "crash/q1", QoS: 1}}}); err != nil {
		t.Fatal(err)
	}
	const rounds = 4
	for round := range rounds {
		if round > 0 {
			start()
			if c, err := crashDial(addr, &paho.Connect{ClientID: "crash-live", KeepAlive: 60, Properties: sessProps}, onLive); err == nil {
				defer c.Disconnect(&paho.Disconnect{})
			}
		}
		var wg sync.WaitGroup
		for w := range 4 {
			qos := byte(1 + w%2)
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := crashDial(addr, &paho.Connect{ClientID: fmt.Sprintf("crash-pub-%d", w), CleanStart: true, KeepAlive: 60}, nil)
				if err != nil {
					return
				}
				defer c.Disconnect(&paho.Disconnect{})
				for i := 0; i < 2000; i++ {
					payload := fmt.Sprintf("r%d-w%d-%d", round, w, i)
					pctx, pcancel := context.WithTimeout(context.Background(), 5*time.Second)
					_, err := c.Publish(pctx, &paho.Publish{Topic: fmt.Sprintf("crash/q%d", qos), QoS: qos, Payload: []byte(payload)})
					pcancel()
					if err != nil {
						return // killed
					}
					mu.Lock()
					acked[payload] = qos
					mu.Unlock()
				}
			}()
		}
		time.Sleep(time.Duration(50+rand.IntN(250)) * time.Millisecond)
		kill()
		wg.Wait()
	}
	start()
	defer kill()
	_, lack := crashClient(t, addr, &paho.Connect{ClientID: "crash-live", KeepAlive: 60, Properties: sessProps}, onLive)
	if !lack.SessionPresent {
		t.Fatal("live session not present after the restarts")
	}

	got := map[string]int{}
	var gmu sync.Mutex
	sub, ack := crashClient(t, addr, &paho.Connect{ClientID: "crash-sub", CleanStart: false, KeepAlive: 60, Properties: sessProps}, func(p *paho.Publish) {
		gmu.Lock()
		got[string(p.Payload)]++
		gmu.Unlock()
	})
	if !ack.SessionPresent {
		t.Fatal("session not present after the restarts")
	}
	t.Logf("%d messages acknowledged over %d crashes", len(acked), rounds)
	missing := func() int {
		gmu.Lock()
		defer gmu.Unlock()
		n := 0
		for p := range acked {
			if got[p] == 0 {
				n++
			}
		}
		return n
	}
	deadline := time.Now().Add(30 * time.Second)
	for missing() > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	// Subscriptions intact: a new message arrives.
	pub, _ = crashClient(t, addr, &paho.Connect{ClientID: "crash-pub", CleanStart: true, KeepAlive: 60}, nil)
	if _, err := pub.Publish(ctx, &paho.Publish{Topic: "crash/q2", QoS: 2, Payload: []byte("after")}); err != nil {
		t.Fatal(err)
	}
	// "after" is queued behind every redelivery of the session: once it
	// arrived, so has any duplicate.
	for {
		gmu.Lock()
		arrived := got["after"] > 0
		gmu.Unlock()
		if arrived {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(`the message published after the restarts did not arrive`)
		}
		time.Sleep(10 * time.Millisecond)
	}
	gmu.Lock()
	defer gmu.Unlock()
	if n := missing2(acked, got); n > 0 {
		t.Errorf("%d acknowledged messages not delivered after the restart", n)
	}
	for p, q := range acked {
		if q == 2 && got[p] > 1 {
			t.Errorf("QoS 2 message %q delivered %d times", p, got[p])
		}
	}
	liveLost := func() int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for p, q := range acked {
			if q == 1 && live[p] == 0 {
				n++
			}
		}
		return n
	}
	for liveLost() > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	lost := liveLost()
	if lost > 0 {
		t.Errorf("%d acknowledged QoS 1 messages never reached the live subscriber", lost)
	}
	if got["after"] != 1 {
		t.Errorf("subscription lost: the message after the restart arrived %d times", got["after"])
	}
	// The retained message is present.
	rc := make(chan string, 1)
	r, _ := crashClient(t, addr, &paho.Connect{ClientID: "crash-ret", CleanStart: true, KeepAlive: 60}, func(p *paho.Publish) {
		select {
		case rc <- string(p.Payload):
		default:
		}
	})
	if _, err := r.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "crash/retained", QoS: 1}}}); err != nil {
		t.Fatal(err)
	}
	select {
	case p := <-rc:
		if p != "kept" {
			t.Errorf("retained %q, want kept", p)
		}
	case <-time.After(5 * time.Second):
		t.Error("retained message lost")
	}
}

func missing2(acked map[string]byte, got map[string]int) int {
	n := 0
	for p := range acked {
		if got[p] == 0 {
			n++
		}
	}
	return n
}

// crashDial connects a paho.golang client to addr.
func crashDial(addr string, cp *paho.Connect, onMsg func(*paho.Publish)) (*paho.Client, error) {
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	c := paho.NewClient(paho.ClientConfig{Conn: nc,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			if onMsg != nil {
				onMsg(pr.Packet)
			}
			return true, nil
		}},
		OnClientError: func(error) {},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ack, err := c.Connect(ctx, cp)
	if err != nil {
		nc.Close()
		return nil, err
	}
	lastConnack.Store(c, ack)
	return c, nil
}

var lastConnack sync.Map

func crashClient(t *testing.T, addr string, cp *paho.Connect, onMsg func(*paho.Publish)) (*paho.Client, *paho.Connack) {
	t.Helper()
	c, err := crashDial(addr, cp, onMsg)
	if err != nil {
		t.Fatalf("connect %q: %v", cp.ClientID, err)
	}
	t.Cleanup(func() { c.Disconnect(&paho.Disconnect{}) })
	ack, _ := lastConnack.Load(c)
	return c, ack.(*paho.Connack)
}
