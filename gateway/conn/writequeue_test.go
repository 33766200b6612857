package conn

import (
	"bytes"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"edgemq/gateway/broker"
	"edgemq/gateway/proto"
	"edgemq/gateway/stats"
	"edgemq/mqtt"
)

// heldConn is a connection whose first Write waits until the test
// releases it, so that what is queued meanwhile stays in the queue.
type heldConn struct {
	net.Conn
	entered chan struct{} // closed when the first Write starts
	release chan struct{}
	once    sync.Once
	mu      sync.Mutex
	written bytes.Buffer
	closed  bool
}

func (c *heldConn) Write(b []byte) (int, error) {
	c.once.Do(func() { close(c.entered) })
	<-c.release
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.written.Write(b)
}

func (c *heldConn) SetWriteDeadline(time.Time) error { return nil }
func (c *heldConn) SetReadDeadline(time.Time) error  { return nil }
func (c *heldConn) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	return nil
}

// TestWriteQueueBounds: while the writer is busy, QoS 0 deliveries
// beyond the queue's bounds are dropped and counted (queue_full), and
// while the server sheds load those behind a backlog too (overload);
// control packets and acknowledgements are never dropped; everything
// accepted is written, in order, once the writer goes on, and the socket
// is closed after Close's last packet.
func TestWriteQueueBounds(t *testing.T) {
	tests := []struct {
		name          string
		limits        QueueLimits
		shed          bool
		qos0          int // QoS 0 deliveries queued while the writer is busy
		wantQueued    int // of them accepted
		wantQueueFull int64
		wantOverload  int64
	}{
		{name: "items bound", limits: QueueLimits{Items: 3}, qos0: 5, wantQueued: 3, wantQueueFull: 2},
		// Each payload is 4 bytes: 10 bytes hold two.
		{name: "bytes bound", limits: QueueLimits{Items: 100, Bytes: 10}, qos0: 5, wantQueued: 2, wantQueueFull: 3},
		// Shedding keeps the first QoS 0 (an empty queue), drops those
		// behind it.
		{name: "shedding", limits: QueueLimits{Items: 100}, shed: true, qos0: 4, wantQueued: 1, wantOverload: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := &proto.Stats{}
			nc := &heldConn{entered: make(chan struct{}), release: make(chan struct{})}
			enc := encoder{Wire: proto.Wire{Version: mqtt.V311, ProblemInfo: true}, stats: st}
			q := newWriteQueue(nc, enc, tt.limits)
			var shed atomic.Bool
			shed.Store(tt.shed)
			q.shed = &shed
			// The writer takes PINGRESP and waits in Write.
			q.Send(&mqtt.Pingresp{})
			<-nc.entered
			accepted := 0
			for i := range tt.qos0 {
				m := broker.NewMessage(&mqtt.Publish{Topic: "t", Payload: []byte{'p', 'a', 'y', byte('0' + i)}}, "", time.Now())
				if q.Deliver(m.DeliveryFor(0, false, nil)) {
					accepted++
				}
			}
			// Never dropped, whatever the bounds.
			if !q.Ack(mqtt.PUBACK, 7, mqtt.Success) || !q.Send(&mqtt.Pingresp{}) {
				t.Fatal("an acknowledgement or control packet was refused")
			}
			if accepted != tt.wantQueued {
				t.Errorf("%d QoS 0 deliveries accepted, want %d", accepted, tt.wantQueued)
			}
			if n := st.Dropped(stats.DropQueueFull); n != tt.wantQueueFull {
				t.Errorf("queue_full drops %d, want %d", n, tt.wantQueueFull)
			}
			if n := st.Dropped(stats.DropOverload); n != tt.wantOverload {
				t.Errorf("overload drops %d, want %d", n, tt.wantOverload)
			}
			q.Close(&mqtt.Disconnect{})
			close(nc.release)
			select {
			case <-q.closed():
			case <-time.After(10 * time.Second):
				t.Fatal("the queue did not close its socket")
			}
			// PINGRESP, the accepted PUBLISHes (3.1.1, QoS 0: 0x30, length
			// 7, topic "t", payload), PUBACK 7, PINGRESP, DISCONNECT.
			var want []byte
			want = append(want, 0xD0, 0x00)
			for i := range tt.wantQueued {
				want = append(want, 0x30, 0x07, 0x00, 0x01, 't', 'p', 'a', 'y', byte('0'+i))
			}
			want = append(want, 0x40, 0x02, 0x00, 0x07, 0xD0, 0x00, 0xE0, 0x00)
			nc.mu.Lock()
			if !bytes.Equal(nc.written.Bytes(), want) {
				t.Errorf("written % x\nwant    % x", nc.written.Bytes(), want)
			}
			nc.mu.Unlock()
			// The waiters are woken just before the socket is closed.
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
				nc.mu.Lock()
				closed := nc.closed
				nc.mu.Unlock()
				if closed {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the socket is not closed")
				}
			}
		})
	}
}
