package main

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"edgemq/mqtt"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// headerSize is the part of every payload the tool reads back: the send
// time (clock nanoseconds), the publisher's index and its sequence number.
const headerSize = 16

// Latencies are recorded in microseconds, up to ten minutes, to three
// significant digits.
const (
	histMaxUS   = int64(10 * time.Minute / time.Microsecond)
	histSigFigs = 3
)

// flowSpec is the shape of a publish/subscribe scenario: who publishes
// where and who receives what.
type flowSpec struct {
	name       string
	pubs, subs int
	topic      func(pub int) string // a publisher's topic
	filter     func(sub int) string // a subscriber's filter
	links      func(pub int) []int  // the subscribers of a publisher's messages
}

// specFor returns the named scenario; run makes its topics unique.
func specFor(name string, o options, run string) (flowSpec, error) {
	base := "bench/" + run + "/"
	one := func(int) string { return base + name }
	switch name {
	case "fanin":
		return flowSpec{name: name, pubs: o.p, subs: 1, topic: one, filter: one,
			links: func(int) []int { return []int{0} }}, nil
	case "fanout":
		all := make([]int, o.k)
		for i := range all {
			all[i] = i
		}
		return flowSpec{name: name, pubs: 1, subs: o.k, topic: one, filter: one,
			links: func(int) []int { return all }}, nil
	case "pairs":
		pair := func(i int) string { return fmt.Sprintf("%spair/%d", base, i) }
		return flowSpec{name: name, pubs: o.k, subs: o.k, topic: pair, filter: pair,
			links: func(i int) []int { return []int{i} }}, nil
	}
	return flowSpec{}, fmt.Errorf("unknown scenario %q", name)
}

// track is what one subscriber saw of one publisher.
type track struct {
	seen atomic.Uint32 // highest sequence number received
	win  *window       // the publisher's window, to wake it
}

// subscriber counts and times the messages one connection receives.
// delivered runs on the connection's reader goroutine; hist is read only
// after that goroutine ended.
type subscriber struct {
	c        *conn
	clk      clock
	t0       time.Duration // messages sent before t0 are warm-up
	tracks   []*track      // by publisher index; nil where not linked
	hist     *hdrhistogram.Histogram
	received atomic.Int64 // measured deliveries
	foreign  atomic.Int64 // deliveries that are not ours
	gaps     atomic.Int64 // sequence numbers skipped: messages the broker dropped
}

func (s *subscriber) delivered(p *mqtt.Publish) {
	now := s.clk.now()
	if len(p.Payload) < headerSize {
		s.foreign.Add(1)
		return
	}
	sent := time.Duration(binary.BigEndian.Uint64(p.Payload))
	pub := binary.BigEndian.Uint32(p.Payload[8:])
	seq := binary.BigEndian.Uint32(p.Payload[12:])
	if int(pub) >= len(s.tracks) || s.tracks[pub] == nil {
		s.foreign.Add(1)
		return
	}
	tr := s.tracks[pub]
	if last := tr.seen.Load(); seq > last {
		if seq > last+1 {
			s.gaps.Add(int64(seq - last - 1))
		}
		tr.seen.Store(seq)
	} else {
		s.gaps.Add(-1) // late, not lost: it was counted as a gap
	}
	tr.win.kick()
	if sent >= s.t0 {
		us := min(max(int64((now-sent)/time.Microsecond), 0), histMaxUS)
		s.hist.RecordValue(us) //nolint:errcheck // clamped into range
		s.received.Add(1)
	}
}

func (s *subscriber) released(uint16) {}

// publisher sends one topic's messages through one connection.
type publisher struct {
	c      *conn
	idx    uint32
	topic  string
	qos    byte
	fan    int // deliveries expected per message
	win    *window
	inUse  []atomic.Uint64 // packet identifiers awaiting their ack (QoS 1/2)
	nextID uint16          // publisher-owned
	// sentAt is when each packet identifier's PUBLISH was written, on
	// clk (QoS 1/2); ackHist the times to its PUBACK or PUBCOMP, in
	// microseconds, of the messages written from t0 on (the reader's).
	clk     clock
	t0      time.Duration
	sentAt  []atomic.Int64
	ackHist *hdrhistogram.Histogram

	sent   atomic.Int64 // measured messages sent
	stalls atomic.Int64 // times the window was given up on
}

// released ends the flow of packet identifier id.
func (p *publisher) released(id uint16) {
	word, bit := &p.inUse[id/64], uint64(1)<<(id%64)
	if word.Load()&bit == 0 {
		return // not ours: ignore
	}
	word.And(^bit)
	if sent := time.Duration(p.sentAt[id].Load()); sent >= p.t0 {
		us := min(max(int64((p.clk.now()-sent)/time.Microsecond), 0), histMaxUS)
		p.ackHist.RecordValue(us) //nolint:errcheck // clamped into range
	}
	p.win.release()
}

func (p *publisher) delivered(*mqtt.Publish) {}

// takeID returns a free packet identifier and marks it in use.
func (p *publisher) takeID() uint16 {
	for {
		p.nextID++
		if p.nextID == 0 {
			p.nextID = 1
		}
		word, bit := &p.inUse[p.nextID/64], uint64(1)<<(p.nextID%64)
		if word.Load()&bit == 0 {
			word.Or(bit)
			return p.nextID
		}
	}
}

// pubPlan is when and how fast a publisher sends.
type pubPlan struct {
	clk    clock
	t0, t1 time.Duration // the measured window: warm-up before t0, stop at t1
	pace   *pacer        // nil: saturation
	size   int
}

// stallTimeout is how long a publisher waits for its window before it
// counts what is outstanding as lost.
const stallTimeout = time.Second

// saturationBatch is how many messages a saturating publisher writes
// between flushes.
const saturationBatch = 64

// run publishes until plan.t1 or ctx is done.
func (p *publisher) run(ctx context.Context, plan pubPlan) error {
	payload := make([]byte, plan.size)
	binary.BigEndian.PutUint32(payload[8:], p.idx)
	pub := mqtt.Publish{Topic: p.topic, QoS: p.qos, Payload: payload}
	var seq uint32 // the last sequence number sent
	var i int64    // paced: the next message's index
	for ctx.Err() == nil {
		now := plan.clk.now()
		// Saturation stops at t1; a paced publisher sends all that is
		// due before t1, even late, so that what it offers is exact.
		if plan.pace == nil && now >= plan.t1 || plan.pace != nil && plan.pace.at(i) >= plan.t1 {
			break
		}
		n := int64(saturationBatch)
		if plan.pace != nil {
			n = min(plan.pace.due(now)-i, 1024)
			if n <= 0 {
				if err := p.c.flush(); err != nil {
					return fmt.Errorf("writing: %w", err)
				}
				sleepUntil(ctx, plan.clk, min(plan.pace.at(i), plan.t1))
				continue
			}
		}
		for ; n > 0; n-- {
			if plan.pace != nil && plan.pace.at(i) >= plan.t1 {
				break
			}
			if !p.win.open(seq + 1) {
				if err := p.c.flush(); err != nil {
					return fmt.Errorf("writing: %w", err)
				}
				if !p.wait(ctx, plan, seq) {
					return p.c.flush() // time is up
				}
			}
			// Paced, a message is timed from when it was due, so that a
			// publisher held back by the broker counts the wait as
			// latency (no coordinated omission); saturating, from now.
			ts := plan.clk.now()
			if plan.pace != nil {
				ts = plan.pace.at(i)
			}
			seq++
			i++
			binary.BigEndian.PutUint64(payload, uint64(ts))
			binary.BigEndian.PutUint32(payload[12:], seq)
			if p.qos > 0 {
				pub.PacketID = p.takeID()
				p.sentAt[pub.PacketID].Store(int64(plan.clk.now()))
				p.win.sent()
			}
			if err := p.c.writePublish(&pub); err != nil {
				return fmt.Errorf("writing: %w", err)
			}
			if ts >= plan.t0 {
				p.sent.Add(1)
			}
		}
		if err := p.c.flush(); err != nil {
			return fmt.Errorf("writing: %w", err)
		}
	}
	return p.c.flush()
}

// pacedGrace is how long after t1 a paced publisher may wait for its
// window to send what was due before t1.
const pacedGrace = 5 * time.Second

// wait waits for the window to let message seq+1 go, giving up on the
// outstanding messages after stallTimeout; false means time is up.
func (p *publisher) wait(ctx context.Context, plan pubPlan, seq uint32) bool {
	since, end := plan.clk.now(), plan.t1
	if plan.pace != nil {
		end += pacedGrace
	}
	for ctx.Err() == nil && plan.clk.now() < end {
		if p.win.await(ctx, seq+1, 50*time.Millisecond) {
			return true
		}
		if plan.clk.now()-since > stallTimeout {
			p.win.giveUp(seq)
			p.stalls.Add(1)
			since = plan.clk.now()
		}
	}
	return false
}

// sleepUntil sleeps until the clock reads t or ctx is done.
func sleepUntil(ctx context.Context, clk clock, t time.Duration) {
	d := t - clk.now()
	if d <= 0 {
		return
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
	case <-ctx.Done():
	}
}

// runID returns a random name that keeps one run's topics and client ids
// apart from another's.
func runID() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// connectAll opens n connections, o.c at a time, calling setup on each;
// it closes them all and fails if any fails.
func connectAll(ctx context.Context, o options, n int, id func(int) string, setup func(int, *conn) error) ([]*conn, error) {
	conns := make([]*conn, n)
	var next atomic.Int64
	var mu sync.Mutex
	var first error
	var wg sync.WaitGroup
	for range min(max(o.c, 1), n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				c, err := dialMQTT(ctx, o, id(i), i)
				if err == nil {
					if err = setup(i, c); err != nil {
						c.nc.Close()
					}
				}
				if err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					return
				}
				conns[i] = c
			}
		})
	}
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		first = ctx.Err()
	}
	if first != nil {
		for _, c := range conns {
			if c != nil {
				c.nc.Close()
			}
		}
		return nil, first
	}
	return conns, nil
}
