package gateway

import (
	"errors"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"edgemq/configs"
	"edgemq/gateway/internal/park"
	"edgemq/mqtt"
)

// parked reports whether the connection of client id is parked now.
func parked(s *Server, id string) bool {
	ac, ok := (adminSource{s}).find(id)
	return ok && ac.c.Parked()
}

// parkedConns counts the server's connections that are parked now: no
// goroutine reads them.
func parkedConns(s *Server) int {
	n := 0
	for _, c := range s.connections() {
		if c.Parked() {
			n++
		}
	}
	return n
}

// waitUntil polls cond until it holds, failing after eventTimeout.
func waitUntil(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(eventTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// idleClient connects a 3.1.1 client with keepAlive seconds over a raw
// socket, which no goroutine of the test reads.
func idleClient(tb testing.TB, ts *testServer, id string, keepAlive uint16) net.Conn {
	tb.Helper()
	nc := dial(tb, ts, "tcp")
	nc.SetDeadline(time.Now().Add(eventTimeout))
	defer nc.SetDeadline(time.Time{})
	if err := mqtt.WritePacket(nc, &mqtt.Connect{ProtocolName: "MQTT", Version: mqtt.V311, CleanStart: true, KeepAlive: keepAlive, ClientID: id}, mqtt.V311); err != nil {
		tb.Fatalf("writing connect: %v", err)
	}
	p, err := mqtt.ReadPacket(nc, mqtt.V311, 0)
	if err != nil {
		tb.Fatalf("reading connack of %s: %v", id, err)
	}
	if ack, ok := p.(*mqtt.Connack); !ok || ack.ReasonCode != 0 {
		tb.Fatalf("client %s: got %v, want a CONNACK accepting it", id, p)
	}
	return nc
}

// expectEnd waits for the server to end nc: an end of stream or a reset,
// after at most the packets listed (by type) in want.
func expectEnd(tb testing.TB, nc net.Conn, want ...mqtt.Type) {
	tb.Helper()
	nc.SetReadDeadline(time.Now().Add(eventTimeout))
	for {
		p, err := mqtt.ReadPacket(nc, mqtt.V311, 0)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			tb.Fatal("the server did not end the parked connection")
		}
		if err != nil {
			return
		}
		if len(want) == 0 || p.Type() != want[0] {
			tb.Fatalf("got %v before the end, want %v", p.Type(), want)
		}
		want = want[1:]
	}
}

// idleConns connects n idle 3.1.1 clients, idle-0 to idle-(n-1), with
// no keep alive.
func idleConns(tb testing.TB, ts *testServer, n int) []net.Conn {
	tb.Helper()
	conns := make([]net.Conn, n)
	for i := range conns {
		conns[i] = idleClient(tb, ts, "idle-"+strconv.Itoa(i), 0)
	}
	return conns
}

// parkConfig is the configuration of the parking tests: 1,000 clients
// and more from 127.0.0.1, no store.
func parkConfig(tb testing.TB) *configs.Config {
	tb.Helper()
	cfg := testConfig(tb)
	cfg.Store.Durability = "memory"
	cfg.Limits.PerIPConnections = 0
	return cfg
}

// TestIdleConnectionsHoldNoGoroutine: 1,000 connected clients that send
// nothing hold no goroutine each.
func TestIdleConnectionsHoldNoGoroutine(t *testing.T) {
	const idle = 1000
	ts := startServer(t, parkConfig(t))
	before := runtime.NumGoroutine()
	idleConns(t, ts, idle)
	// The server's own goroutines come and go (a writer flushing a
	// CONNACK, a timer); none is left per connection.
	deadline := time.Now().Add(eventTimeout)
	for runtime.NumGoroutine() >= before+idle/10 {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines more with %d idle connections, want none per connection", runtime.NumGoroutine()-before, idle)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestParkedConnections: a parked connection still gets what is
// published to it, parks again after its client's packets, and is ended
// by its keep alive, by a takeover, by a kick and by the drain at
// shutdown, which leave no goroutine behind.
func TestParkedConnections(t *testing.T) {
	if !park.Supported() {
		t.Skip("connections park on Linux only")
	}
	const idle = 100
	ts := startServerWith(t, parkConfig(t), func(s *Server) { s.parkIdle = 20 * time.Millisecond })
	before := runtime.NumGoroutine()
	conns := idleConns(t, ts, idle)
	waitUntil(t, "every idle connection to park", func() bool { return parkedConns(ts.Server) == idle })

	t.Run("delivery", func(t *testing.T) {
		sub := conns[0]
		sub.SetDeadline(time.Now().Add(eventTimeout))
		if err := mqtt.WritePacket(sub, &mqtt.Subscribe{PacketID: 1, Subscriptions: []mqtt.Subscription{{Filter: "park/0", QoS: 1}}}, mqtt.V311); err != nil {
			t.Fatal(err)
		}
		if p, err := mqtt.ReadPacket(sub, mqtt.V311, 0); err != nil || p.Type() != mqtt.SUBACK {
			t.Fatalf("subscribing: %v, %v", p, err)
		}
		waitUntil(t, "the subscriber to park again", func() bool { return parked(ts.Server, "idle-0") })
		pub := idleClient(t, ts, "park-publisher", 0)
		pub.SetDeadline(time.Now().Add(eventTimeout))
		if err := mqtt.WritePacket(pub, &mqtt.Publish{Topic: "park/0", QoS: 1, PacketID: 1, Payload: []byte("to a parked client")}, mqtt.V311); err != nil {
			t.Fatal(err)
		}
		if p, err := mqtt.ReadPacket(pub, mqtt.V311, 0); err != nil || p.Type() != mqtt.PUBACK {
			t.Fatalf("publishing: %v, %v", p, err)
		}
		pub.Close()
		p, err := mqtt.ReadPacket(sub, mqtt.V311, 0)
		if err != nil {
			t.Fatalf("the parked subscriber got nothing: %v", err)
		}
		if m, ok := p.(*mqtt.Publish); !ok || string(m.Payload) != "to a parked client" {
			t.Fatalf("the parked subscriber got %v, want the message", p)
		}
		// Its PUBACK wakes it; the QoS 1 delivery is then done, so it
		// parks again with nothing in flight.
		if err := mqtt.WritePacket(sub, &mqtt.Puback{PacketID: p.(*mqtt.Publish).PacketID}, mqtt.V311); err != nil {
			t.Fatal(err)
		}
		sub.SetDeadline(time.Time{})
		waitUntil(t, "the subscriber to park after its PUBACK", func() bool { return parked(ts.Server, "idle-0") })
	})

	// Each of these ends a parked connection from outside; the client
	// then reads the end (3.1.1: a close).
	ends := []struct {
		name string
		end  func(t *testing.T, i int)
	}{
		{"keep alive", nil}, // a client of its own, below
		{"takeover", func(t *testing.T, i int) { idleClient(t, ts, "idle-"+strconv.Itoa(i), 0) }},
		{"kick", func(t *testing.T, i int) {
			if _, ok := (adminSource{ts.Server}).Kick("idle-"+strconv.Itoa(i), mqtt.AdministrativeAction); !ok {
				t.Fatal("the client to kick is not listed")
			}
		}},
	}
	for i, tt := range ends {
		t.Run(tt.name, func(t *testing.T) {
			i++ // conns[0] is the subscriber
			if tt.end == nil {
				// [MQTT-3.1.2-24]: no packet within one and a half times
				// the Keep Alive, and the server closes the connection.
				nc := idleClient(t, ts, "keepalive", 1)
				waitUntil(t, "the keep-alive client to park", func() bool { return parked(ts.Server, "keepalive") })
				expectEnd(t, nc)
				waitUntil(t, "the server to forget it", func() bool { _, ok := (adminSource{ts.Server}).find("keepalive"); return !ok })
				return
			}
			id := "idle-" + strconv.Itoa(i)
			if !parked(ts.Server, id) {
				t.Fatalf("%s is not parked", id)
			}
			tt.end(t, i)
			expectEnd(t, conns[i])
			conns[i] = nil
		})
	}

	t.Run("drain", func(t *testing.T) {
		ts.cancel() // shutdown: every client is disconnected
		select {
		case err := <-ts.done:
			ts.done <- err // for the cleanup
		case <-time.After(eventTimeout):
			t.Fatal("the server did not shut down with parked connections")
		}
		for _, nc := range conns {
			if nc != nil {
				nc.SetReadDeadline(time.Now().Add(eventTimeout))
				if _, err := io.ReadAll(nc); errors.Is(err, os.ErrDeadlineExceeded) {
					t.Fatal("a parked connection was not closed at shutdown")
				}
			}
		}
		waitUntil(t, "the connections' goroutines to end", func() bool { return runtime.NumGoroutine() <= before })
	})
}
