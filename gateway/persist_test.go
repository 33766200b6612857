package gateway

import (
	"context"
	"edgemq/gateway/internal/testclock"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"edgemq/configs"

	"github.com/eclipse/paho.golang/paho"
	"go.uber.org/zap/zaptest"
)

// runFor starts a gateway on cfg and returns a stop func that shuts it
// down gracefully.
func runFor(t *testing.T, cfg *configs.Config, opts ...Option) (*Server, func()) {
	t.Helper()
	srv, err := New(cfg, zaptest.NewLogger(t), opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	return srv, func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}
}

// TestStoreRestart checks, across a graceful restart on one data
// directory: an offline session's subscriptions and queue, a QoS 1
// message in flight (unacknowledged), retained messages, and a delayed
// will that came due while the server was down, published at startup.
func TestStoreRestart(t *testing.T) {
	cfg := testConfig(t)
	cfg.Listeners[0].Address = "127.0.0.1:0"
	srv, stop := runFor(t, cfg)
	addr := srv.Addr("tcp").String()
	props := &paho.ConnectProperties{SessionExpiryInterval: refOf(uint32(3600))}
	sub, _ := crashClient(t, addr, &paho.Connect{ClientID: "rs-sub", CleanStart: true, KeepAlive: 60, Properties: props}, nil)
	if _, err := sub.Subscribe(t.Context(), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "rs/#", QoS: 1}, {Topic: "will/#", QoS: 2}}}); err != nil {
		t.Fatal(err)
	}
	sub.Disconnect(&paho.Disconnect{})
	crashClient(t, addr, &paho.Connect{ClientID: "rs-will", CleanStart: true, KeepAlive: 60, Properties: props,
		WillMessage:    &paho.WillMessage{Topic: "will/rs", QoS: 1, Payload: []byte("gone")},
		WillProperties: &paho.WillProperties{WillDelayInterval: refOf(uint32(1))}}, nil)
	pub, _ := crashClient(t, addr, &paho.Connect{ClientID: "rs-pub", CleanStart: true, KeepAlive: 60}, nil)
	for _, m := range []string{"one", "two"} {
		if _, err := pub.Publish(t.Context(), &paho.Publish{Topic: "rs/q", QoS: 1, Payload: []byte(m)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := pub.Publish(t.Context(), &paho.Publish{Topic: "rs/retained", QoS: 1, Retain: true, Payload: []byte("kept")}); err != nil {
		t.Fatal(err)
	}
	stop() // the will's client is disconnected by the shutdown: its delay starts

	// The restarted server's clock (clock.go) reads 1.2 s later than the
	// shutdown: the will's delay of 1 s has passed while it was down.
	later := testclock.New(time.Now().Add(1200 * time.Millisecond))
	cfg.Listeners[0].Address = addr
	srv, stop = runFor(t, cfg, withClock(later))
	defer stop()
	if n := srv.Stats().Sessions; n != 2 {
		t.Errorf("%d sessions restored, want 2 (rs-sub, rs-will)", n)
	}
	got := make(chan string, 16)
	sub, ack := crashClient(t, addr, &paho.Connect{ClientID: "rs-sub", CleanStart: false, KeepAlive: 60, Properties: props}, func(p *paho.Publish) {
		got <- p.Topic + "=" + string(p.Payload)
	})
	if !ack.SessionPresent {
		t.Fatal("session not present")
	}
	var all []string
	for range 4 {
		select {
		case m := <-got:
			all = append(all, m)
		case <-time.After(5 * time.Second):
			t.Fatalf("got %v, want the queue, the retained message and the will", all)
		}
	}
	want := "rs/q=one rs/q=two rs/retained=kept will/rs=gone"
	// The will, published at startup, is queued after what was queued
	// before the restart.
	if strings.Join(all, " ") != want {
		t.Errorf("got %v, want %s", all, want)
	}
}

// TestStoreCorruptRefused checks that an unreadable store stops startup
// with a message naming the file and what to do, and is left alone.
func TestStoreCorruptRefused(t *testing.T) {
	cfg := testConfig(t)
	path := filepath.Join(cfg.DataDir, StoreFile)
	garbage := []byte(strings.Repeat("not a bbolt file ", 1000))
	if err := os.WriteFile(path, garbage, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := New(cfg, zaptest.NewLogger(t))
	if err == nil {
		t.Fatal("started on a corrupt store")
	}
	for _, want := range []string{path, "move the file away", "restore a backup"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if b, _ := os.ReadFile(path); string(b) != string(garbage) {
		t.Error("the corrupt store was modified")
	}
}

// TestStoreQueueBound checks that the offline queue bound holds in the
// store too: what was dropped (and counted) is not there after a restart.
func TestStoreQueueBound(t *testing.T) {
	cfg := testConfig(t)
	cfg.Session.MaxOfflineMessages = 3
	srv, stop := runFor(t, cfg)
	addr := srv.Addr("tcp").String()
	props := &paho.ConnectProperties{SessionExpiryInterval: refOf(uint32(3600))}
	sub, _ := crashClient(t, addr, &paho.Connect{ClientID: "qb-sub", CleanStart: true, KeepAlive: 60, Properties: props}, nil)
	if _, err := sub.Subscribe(t.Context(), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "qb", QoS: 1}}}); err != nil {
		t.Fatal(err)
	}
	sub.Disconnect(&paho.Disconnect{})
	pub, _ := crashClient(t, addr, &paho.Connect{ClientID: "qb-pub", CleanStart: true, KeepAlive: 60}, nil)
	waitOffline(t, srv, "qb-sub")
	for i := range 5 {
		if _, err := pub.Publish(t.Context(), &paho.Publish{Topic: "qb", QoS: 1, Payload: []byte{byte('0' + i)}}); err != nil {
			t.Fatal(err)
		}
	}
	if n := srv.Stats().Dropped["queue_full"]; n != 2 {
		t.Errorf("dropped %d, want 2", n)
	}
	stop()
	cfg.Listeners[0].Address = addr
	srv, stop = runFor(t, cfg)
	defer stop()
	got := make(chan string, 16)
	crashClient(t, addr, &paho.Connect{ClientID: "qb-sub", KeepAlive: 60, Properties: props}, func(p *paho.Publish) { got <- string(p.Payload) })
	var all string
	for range 3 {
		select {
		case m := <-got:
			all += m
		case <-time.After(5 * time.Second):
			t.Fatalf("got %q, want 012", all)
		}
	}
	select {
	case m := <-got:
		t.Errorf("got %q beyond the bound", m)
	case <-time.After(300 * time.Millisecond):
	}
	if all != "012" {
		t.Errorf("got %q, want 012", all)
	}
}
