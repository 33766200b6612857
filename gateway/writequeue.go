package gateway

import (
	"net"
	"sync"
	"time"

	"edgemq/mqtt"
)

// outItem is one queued outbound packet: a control packet, or a delivery
// encoded at write time.
type outItem struct {
	pkt mqtt.Packet
	d   *delivery
}

// writeQueue is a connection's bounded outbound queue and its writer. A
// writer goroutine runs only while there is something to write, so an
// idle connection costs no goroutine here; it writes every queued packet
// in one system call.
type writeQueue struct {
	mu       sync.Mutex
	items    []outItem
	spare    []outItem
	flushing bool
	// closing: accept nothing more; close the socket once drained.
	closing bool
	// shut is set once the socket is closed; waiters, made only when
	// someone waits, is closed then.
	shut    bool
	waiters chan struct{}

	// bytes counts the payload bytes of the queued deliveries.
	bytes int64

	nc           net.Conn
	enc          *encoder
	limits       queueLimits
	writeTimeout time.Duration
	stats        *stats
}

// queueLimits bound what a connection's queue holds before QoS 0
// deliveries are dropped: items (session.max_outbound_queue) and payload
// bytes (session.max_outbound_bytes; 0: no bound). The batch being
// written is not counted, so at most twice the bounds are held.
type queueLimits struct {
	items int
	bytes int64
}

func newWriteQueue(nc net.Conn, enc *encoder, limits queueLimits, writeTimeout time.Duration, st *stats) *writeQueue {
	return &writeQueue{nc: nc, enc: enc, limits: limits, writeTimeout: writeTimeout, stats: st}
}

// send queues a control packet. It reports false once the queue is
// closing.
func (q *writeQueue) send(p mqtt.Packet) bool {
	return q.push(outItem{pkt: p}, false)
}

// deliver queues a delivery. QoS 0 deliveries beyond the queue bound are
// dropped; QoS 1/2 are bounded by the inflight window instead.
func (q *writeQueue) deliver(d *delivery) bool {
	return q.push(outItem{d: d}, d.qos == 0)
}

func (q *writeQueue) push(it outItem, droppable bool) bool {
	var size int64
	if it.d != nil {
		size = int64(len(it.d.msg.pub.Payload))
	}
	q.mu.Lock()
	if q.closing {
		q.mu.Unlock()
		return false
	}
	if droppable && (len(q.items) >= q.limits.items || (q.limits.bytes > 0 && q.bytes+size > q.limits.bytes)) {
		q.mu.Unlock()
		q.stats.drop(dropQueueFull)
		return false
	}
	q.items = append(q.items, it)
	q.bytes += size
	start := !q.flushing
	q.flushing = true
	q.mu.Unlock()
	if start {
		go q.flush()
	}
	return true
}

// close queues last (may be nil) as the final packet, then closes the
// socket once everything queued is written. It does not wait.
func (q *writeQueue) close(last mqtt.Packet) {
	q.mu.Lock()
	if q.closing {
		q.mu.Unlock()
		return
	}
	q.closing = true
	if last != nil {
		q.items = append(q.items, outItem{pkt: last})
	}
	start := !q.flushing
	q.flushing = true
	q.mu.Unlock()
	if start {
		go q.flush()
	}
}

// abort closes the socket at once, dropping what is queued.
func (q *writeQueue) abort() {
	q.mu.Lock()
	q.closing = true
	q.items = nil
	q.mu.Unlock()
	q.shutdown(false)
}

// lingerTime bounds how long a closing connection waits for the peer to
// read the last packets and close.
const lingerTime = 2 * time.Second

// shutdown ends the socket's writing and wakes waiters, once. With linger
// (after a clean drain) it only half-closes, so the peer reads the final
// DISCONNECT instead of a reset caused by its own unread bytes; the reader
// then drains and closes (conn.finish). Otherwise it closes.
func (q *writeQueue) shutdown(linger bool) {
	q.mu.Lock()
	if q.shut {
		q.mu.Unlock()
		return
	}
	q.shut = true
	if q.waiters != nil {
		close(q.waiters)
	}
	q.mu.Unlock()
	if hc, ok := q.nc.(interface{ CloseWrite() error }); linger && ok {
		if hc.CloseWrite() == nil {
			q.nc.SetReadDeadline(time.Now().Add(lingerTime))
			return
		}
	}
	q.nc.Close()
}

// closed returns a channel closed once the socket is closed for writing.
func (q *writeQueue) closed() <-chan struct{} {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.waiters == nil {
		q.waiters = make(chan struct{})
		if q.shut {
			close(q.waiters)
		}
	}
	return q.waiters
}

// flush writes batches until the queue is empty, then exits; when closing
// it shuts the socket. Each batch goes out in one writev.
func (q *writeQueue) flush() {
	var b batch
	for {
		q.mu.Lock()
		items := q.items
		if len(items) == 0 {
			q.flushing = false
			closing := q.closing
			q.mu.Unlock()
			if closing {
				q.shutdown(true)
			}
			return
		}
		q.items, q.spare, q.bytes = q.spare[:0], nil, 0
		q.mu.Unlock()

		b.reset()
		q.enc.encode(&b, items)
		clear(items)
		q.mu.Lock()
		q.spare = items[:0]
		q.mu.Unlock()
		bufs := b.buffers()
		if len(bufs) == 0 {
			continue
		}
		q.nc.SetWriteDeadline(time.Now().Add(q.writeTimeout))
		if _, err := bufs.WriteTo(q.nc); err != nil {
			q.mu.Lock()
			q.closing, q.items, q.flushing = true, nil, false
			q.mu.Unlock()
			q.shutdown(false)
			return
		}
		if cap(b.buf) > 64<<10 {
			b.buf = nil // don't keep a large buffer past a burst
		}
	}
}
