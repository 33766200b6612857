package conn

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"edgemq/gateway/auth"
	"edgemq/gateway/limits"
	"edgemq/gateway/proto"
	"edgemq/listeners"
	"edgemq/mqtt"

	"go.uber.org/zap"
)

// recordingHost is a Host that records what the connections ask of it.
type recordingHost struct {
	refuse bool // Track refuses

	mu        sync.Mutex
	tracked   int
	untracked int
	observed  []string // ObserveConnect's listeners
	ended     chan struct{}
}

func (h *recordingHost) Track(*Conn) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.tracked++
	return !h.refuse
}

func (h *recordingHost) Untrack(*Conn) {
	h.mu.Lock()
	h.untracked++
	h.mu.Unlock()
	h.ended <- struct{}{}
}

func (h *recordingHost) ConnectTimeout(profile time.Duration) time.Duration { return profile }
func (h *recordingHost) AdmissionBusy() bool                                { return false }
func (h *recordingHost) RefuseOverloaded() bool                             { return false }

func (h *recordingHost) ObserveConnect(listener string, _ time.Duration) {
	h.mu.Lock()
	h.observed = append(h.observed, listener)
	h.mu.Unlock()
}

// serveOne serves one loopback TCP connection with host and returns the
// client's side.
func serveOne(t *testing.T, host *recordingHost) net.Conn {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	nc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	e := benchEngine(t)
	prof, err := proto.NewProfile(mustDefault(t).MQTT)
	if err != nil {
		t.Fatal(err)
	}
	var bufs mqtt.BufferPool
	go Serve(context.Background(), nc, Config{
		Channel: proto.ChannelConfig{Meta: &listeners.Meta{Listener: "tcp", RemoteAddr: nc.RemoteAddr()}, Profile: prof,
			Auth: auth.NewChain(true), Log: zap.NewNop()},
		Engine: e, Host: host, Queue: QueueLimits{Items: 100}, Batches: &BatchPool{}, Bufs: &bufs,
		RateLimits: limits.NewRateLimits(zap.NewNop()),
	})
	client.SetDeadline(time.Now().Add(10 * time.Second))
	return client
}

// TestServeHost: a connection asks its Host to track it before anything
// else; a refused one is closed without a word and never untracked; an
// accepted one is untracked exactly once when it ends, whether its
// handshake failed or the client left after CONNACK; the CONNECT's
// latency is observed for a CONNECT that was handled.
func TestServeHost(t *testing.T) {
	connect := func(t *testing.T) []byte {
		b, err := mqtt.Append(nil, &mqtt.Connect{Version: mqtt.V311, ClientID: "h", CleanStart: true, KeepAlive: 60}, mqtt.V311)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name      string
		refuse    bool
		send      func(t *testing.T) []byte
		wantAck   bool // CONNACK 0x00 before the close
		untracked int
		observed  int
	}{
		{name: "track refused", refuse: true, send: connect, untracked: 0},
		// The first packet must be CONNECT [MQTT-3.1.0-1]: closed.
		{name: "first packet not connect", send: func(*testing.T) []byte { return []byte{0xC0, 0x00} }, untracked: 1},
		{name: "connected, then the client leaves", send: connect, wantAck: true, untracked: 1, observed: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			host := &recordingHost{refuse: tt.refuse, ended: make(chan struct{}, 2)}
			client := serveOne(t, host)
			client.Write(tt.send(t))
			if tt.wantAck {
				// [MQTT-3.2.0-1]: CONNACK is the first packet from the
				// server; 3.1.1, return code 0.
				ack := make([]byte, 4)
				if _, err := io.ReadFull(client, ack); err != nil {
					t.Fatalf("reading CONNACK: %v", err)
				}
				if ack[0] != 0x20 || ack[3] != 0 {
					t.Fatalf("got % x, want CONNACK 0x00", ack)
				}
				client.Close()
			} else {
				// Closed: EOF, or a reset for the CONNECT it did not read.
				n, err := io.Copy(io.Discard, client)
				var ne net.Error
				if n != 0 || errors.As(err, &ne) && ne.Timeout() {
					t.Fatalf("read %d bytes (%v) before the close, want none", n, err)
				}
				client.Close() // the server's linger ends
			}
			if tt.untracked > 0 {
				select {
				case <-host.ended:
				case <-time.After(10 * time.Second):
					t.Fatal("the connection was not untracked")
				}
			}
			host.mu.Lock()
			defer host.mu.Unlock()
			if host.tracked != 1 || host.untracked != tt.untracked || len(host.observed) != tt.observed {
				t.Errorf("tracked %d, untracked %d, observed %v; want 1, %d, %d", host.tracked, host.untracked, host.observed, tt.untracked, tt.observed)
			}
			for _, l := range host.observed {
				if l != "tcp" {
					t.Errorf("connect observed on listener %q, want tcp", l)
				}
			}
		})
	}
}
