package conn

import (
	"net"
	"sync"
	"sync/atomic"
	"time"

	"edgemq/gateway/broker"
	"edgemq/gateway/internal/lockorder"
	"edgemq/gateway/stats"
	"edgemq/mqtt"
)

// outItem is one queued outbound packet: a control packet, a delivery
// encoded at write time, or (ack.t set) an acknowledgement without
// properties, which is made only when encoded.
type outItem struct {
	pkt mqtt.Packet
	d   *broker.Delivery
	ack ackItem
}

// ackItem is a PUBACK, PUBREC, PUBREL or PUBCOMP with no properties.
type ackItem struct {
	t    mqtt.Type
	code mqtt.ReasonCode
	pid  uint16
}

// writeQueue is a connection's bounded outbound queue and its writer. A
// writer goroutine runs only while there is something to write, so an
// idle connection costs no goroutine here; it writes every queued packet
// in one system call.
type writeQueue struct {
	mu       lockorder.Mutex[writeQueueMu]
	items    []outItem
	spare    []outItem
	flushing bool
	// trim asks the writer to let go of its item slices when it finds the
	// queue empty: the reader parked while it was writing (trimIdle).
	trim bool
	// closing: accept nothing more; close the socket once drained.
	closing bool
	// shut is set once the socket is closed; waiters, made only when
	// someone waits, is closed then.
	shut    bool
	waiters chan struct{}

	// bytes counts the payload bytes of the queued deliveries.
	bytes int64

	nc net.Conn
	// enc is the connection's encoder, inline: one allocation less per
	// connection; its stats are the queue's too.
	enc    encoder
	limits QueueLimits
	// deadline is the write deadline in force (writer only), writeTimeout
	// (conn.go) ahead.
	deadline lazyDeadline
	// shed, when set and true (the server is overloaded, limits/overload.go),
	// drops QoS 0 deliveries while the queue already holds data.
	shed *atomic.Bool
	// sentBytes and sentMsgs count what was written: bytes, and PUBLISH
	// packets (the connection-life log, connlog.go).
	sentBytes, sentMsgs atomic.Int64
	// batches, when set, lends the writer its output buffers, so that a
	// burst does not grow a fresh buffer from nothing and an idle
	// connection keeps none.
	batches *BatchPool
	// refill, when set, is called by the writer each time it takes a
	// batch, so that paced deliveries refill the queue
	// (writequeue_pace.go).
	refill func()
	// onShut, when set, is told before the socket is shut: a parked
	// reader is started again to see it (Conn.wakeForClose, park.go). The
	// connection rather than a func value: a method value would be one
	// more allocation per connection.
	onShut *Conn
}

// BatchPool lends batches to writers: one pool serves all the
// connections of a server. It is safe for concurrent use; the zero value
// is ready.
type BatchPool struct {
	p sync.Pool
}

// maxPooledBatch is the largest batch buffer given back to the pool: a
// large burst's buffer is left to the collector.
const maxPooledBatch = 64 << 10

func (bp *BatchPool) get() *batch {
	if bp != nil {
		if b, ok := bp.p.Get().(*batch); ok {
			return b
		}
	}
	return &batch{}
}

func (bp *BatchPool) put(b *batch) {
	if bp == nil || cap(b.buf) > maxPooledBatch {
		return
	}
	b.reset()
	bp.p.Put(b)
}

// QueueLimits bound what a connection's queue holds before QoS 0
// deliveries are dropped: Items (session.max_outbound_queue) and payload
// Bytes (session.max_outbound_bytes; 0: no bound). The batch being
// written is not counted, so at most twice the bounds are held.
type QueueLimits struct {
	Items int
	Bytes int64
}

// newWriteQueue returns the queue of nc with a copy of enc, whose Wire
// the channel then sets through &q.enc.Wire.
func newWriteQueue(nc net.Conn, enc encoder, limits QueueLimits) *writeQueue {
	return &writeQueue{nc: nc, enc: enc, limits: limits}
}

// Send queues a control packet. It reports false once the queue is
// closing.
func (q *writeQueue) Send(p mqtt.Packet) bool {
	return q.push(outItem{pkt: p}, false)
}

// Ack queues an acknowledgement (PUBACK, PUBREC, PUBREL, PUBCOMP) with
// no properties. It reports false once the queue is closing.
func (q *writeQueue) Ack(t mqtt.Type, pid uint16, code mqtt.ReasonCode) bool {
	return q.push(outItem{ack: ackItem{t: t, code: code, pid: pid}}, false)
}

// Deliver queues a delivery (broker.Queue). QoS 0 deliveries beyond the
// queue bound are dropped; QoS 1/2 are bounded by the inflight window
// instead, and paced ones by their sender (broker/retained_feed.go).
func (q *writeQueue) Deliver(d *broker.Delivery) bool {
	return q.push(outItem{d: d}, d.QoS() == 0 && !d.Paced())
}

func (q *writeQueue) push(it outItem, droppable bool) bool {
	var size int64
	if it.d != nil {
		size = int64(it.d.PayloadLen())
	}
	q.mu.Lock()
	if q.closing {
		q.mu.Unlock()
		return false
	}
	if droppable && (len(q.items) >= q.limits.Items || (q.limits.Bytes > 0 && q.bytes+size > q.limits.Bytes)) {
		q.mu.Unlock()
		q.enc.stats.Drop(stats.DropQueueFull)
		return false
	}
	if droppable && len(q.items) > 0 && q.shed != nil && q.shed.Load() {
		// Overloaded: a subscriber with a backlog loses its QoS 0.
		q.mu.Unlock()
		q.enc.stats.Drop(stats.DropOverload)
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

// Close queues last (may be nil) as the final packet, then closes the
// socket once everything queued is written. It does not wait.
func (q *writeQueue) Close(last mqtt.Packet) {
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
	if q.onShut != nil {
		q.onShut.wakeForClose()
	}
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
	b := q.batches.get()
	defer func() { q.batches.put(b) }()
	for {
		q.mu.Lock()
		items := q.items
		if len(items) == 0 {
			q.flushing = false
			if q.trim {
				q.trimLocked()
			}
			closing := q.closing
			q.mu.Unlock()
			if closing {
				q.shutdown(true)
			}
			return
		}
		q.items, q.spare, q.bytes = q.spare[:0], nil, 0
		refill := q.refill
		q.mu.Unlock()
		if refill != nil {
			refill()
		}

		b.reset()
		q.enc.encode(b, items)
		clear(items)
		q.mu.Lock()
		q.spare = items[:0]
		q.mu.Unlock()
		// In the (pooled) batch: WriteTo consumes it, and a local would
		// be allocated for that.
		b.out = b.buffers()
		bufs := &b.out
		if len(*bufs) == 0 {
			continue
		}
		if t, ok := q.deadline.next(writeTimeout); ok {
			q.nc.SetWriteDeadline(t) // not one timer update per batch
		}
		n, err := q.write(bufs)
		q.sentBytes.Add(n)
		if err != nil {
			q.mu.Lock()
			q.closing, q.items, q.flushing = true, nil, false
			q.mu.Unlock()
			q.shutdown(false)
			return
		}
		q.sentMsgs.Add(int64(b.pubs))
		if cap(b.buf) > maxPooledBatch {
			b.buf = nil // don't keep a large buffer past a burst
		}
	}
}

// write writes bufs: one buffer with Write, several with writev
// (WriteTo). A single buffer through writev would make the socket keep
// an iovec array for the rest of its life (internal/poll caches it), which
// an idle connection that only ever got CONNACK would hold for nothing.
func (q *writeQueue) write(bufs *net.Buffers) (int64, error) {
	if len(*bufs) == 1 {
		n, err := q.nc.Write((*bufs)[0])
		*bufs = (*bufs)[:0]
		return int64(n), err
	}
	return bufs.WriteTo(q.nc)
}

// trimIdle lets go of what the queue keeps between bursts when nothing
// is queued: its item slices, the spare one included, and its write
// deadline (a timer in the runtime's heap until it passes, writeTimeout
// after the last write). The reader calls it as it parks (park.go), so an
// idle connection holds neither. A writer still running does it when it
// finds the queue empty.
func (q *writeQueue) trimIdle() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.flushing {
		q.trim = true
		return
	}
	if len(q.items) == 0 {
		q.trimLocked()
	}
}

// trimLocked does trimIdle's work; q.mu held, no writer running (the
// next one sets a deadline afresh: lazyDeadline 0).
func (q *writeQueue) trimLocked() {
	q.items, q.spare, q.trim = nil, nil, false
	if q.deadline != 0 {
		q.deadline = 0
		q.nc.SetWriteDeadline(time.Time{})
	}
}

// depth returns the number of queued packets and their payload bytes.
// It takes writeQueue.mu, a leaf; safe from any goroutine.
func (q *writeQueue) depth() (items int, bytes int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items), q.bytes
}
