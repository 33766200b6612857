package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// drainQuiet is how long the drain after the measured window waits
// without any new delivery before it counts the rest as lost.
const drainQuiet = 2 * time.Second

// firstError keeps the first of many concurrent errors.
type firstError struct {
	mu    sync.Mutex
	err   error
	count int64
}

func (f *firstError) add(err error) {
	if err == nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.count++
	if f.err == nil {
		f.err = err
	}
}

// runFlow runs a publish/subscribe scenario and prints its result to out.
func runFlow(ctx context.Context, o options, name string, out io.Writer) (*flowResult, error) {
	if err := checkFlowOptions(o); err != nil {
		return nil, err
	}
	run := runID()
	spec, err := specFor(name, o, run)
	if err != nil {
		return nil, err
	}
	clk := newClock()
	qos := byte(o.qos)

	subs := make([]*subscriber, spec.subs)
	subConns, err := connectAll(ctx, o.at(o.subAddr), spec.subs, func(i int) string { return fmt.Sprintf("%s-%s-s%d", o.idPrefix, run, i) },
		func(i int, c *conn) error {
			subs[i] = &subscriber{c: c, clk: clk, tracks: make([]*track, spec.pubs),
				hist: hdrhistogram.New(1, histMaxUS, histSigFigs)}
			return c.subscribe(spec.filter(i), qos)
		})
	if err != nil {
		return nil, fmt.Errorf("connecting subscribers: %w", err)
	}
	pubs := make([]*publisher, spec.pubs)
	pubConns, err := connectAll(ctx, o.at(o.pubAddr), spec.pubs, func(i int) string { return fmt.Sprintf("%s-%s-p%d", o.idPrefix, run, i) },
		func(i int, c *conn) error {
			acks := 0
			if qos > 0 {
				acks = o.window
				if c.recvMax > 0 {
					acks = min(acks, c.recvMax) // [MQTT-3.3.4-9]
				}
			}
			pubs[i] = &publisher{c: c, idx: uint32(i), topic: spec.topic(i), qos: qos, win: newWindow(o.window, acks), clk: clk}
			if qos > 0 {
				pubs[i].inUse = make([]atomic.Uint64, 65536/64)
				pubs[i].sentAt = make([]atomic.Int64, 65536)
				pubs[i].ackHist = hdrhistogram.New(1, histMaxUS, histSigFigs)
			}
			return nil
		})
	if err != nil {
		closeAll(subConns)
		return nil, fmt.Errorf("connecting publishers: %w", err)
	}
	for j, p := range pubs {
		for _, s := range spec.links(j) {
			tr := &track{win: p.win}
			subs[s].tracks[j] = tr
			p.win.watch(&tr.seen)
			p.fan++
		}
	}

	begin := clk.now()
	plan := pubPlan{clk: clk, t0: begin + o.warmup, size: o.size}
	plan.t1 = plan.t0 + o.duration
	for _, s := range subs {
		s.t0 = plan.t0
	}
	for _, p := range pubs {
		p.t0 = plan.t0
	}

	var errs firstError
	rctx, stopReaders := context.WithCancel(ctx)
	defer stopReaders()
	var readers sync.WaitGroup
	for _, s := range subs {
		readers.Go(func() { errs.add(s.c.serve(rctx, s)) })
	}
	for _, p := range pubs {
		readers.Go(func() { errs.add(p.c.serve(rctx, p)) })
	}

	sampler := startSampler(o.pid, clk, plan.t0, plan.t1)
	probe := startWakeProbe(rctx, clk, plan.t0, plan.t1) // wakeprobe.go
	prog := startProgress(o, clk, begin, plan.t1, func() (int64, int64) { return sentOf(pubs), receivedOf(subs) })

	var pubWG sync.WaitGroup
	for j, p := range pubs {
		pp := plan
		if o.rate > 0 {
			rate := o.rate / float64(len(pubs))
			// Publisher j starts j/rate later: together they send evenly.
			pc := newPacer(begin+time.Duration(float64(j)*float64(time.Second)/o.rate), rate)
			pp.pace = &pc
		}
		pubWG.Go(func() { errs.add(p.run(ctx, pp)) })
	}
	pubWG.Wait()

	// Drain: wait for what is still on its way, deliveries and the
	// publishers' acknowledgements alike (a subscriber may have every
	// message while the last PUBACK or PUBCOMP is still on the wire).
	expected := expectedOf(pubs)
	last, acks, quietSince := receivedOf(subs), unackedOf(pubs), time.Now()
	for ctx.Err() == nil && (last < expected || acks > 0) && time.Since(quietSince) < drainQuiet {
		time.Sleep(10 * time.Millisecond)
		r, a := receivedOf(subs), unackedOf(pubs)
		if r != last || a != acks {
			last, acks, quietSince = r, a, time.Now()
		}
	}
	prog.stop()
	stopReaders()
	closeAll(pubConns)
	closeAll(subConns)
	readers.Wait()
	cpu, rss, serr := sampler.result()
	if serr != nil {
		return nil, serr
	}

	res := newFlowResult(o, spec, pubs, subs, expected)
	res.Seconds = o.duration.Seconds()
	res.addRates()
	if o.pid > 0 {
		res.BrokerCPUPct, res.BrokerRSSKB = cpu, rss
	}
	res.ToolWakeP99, res.ToolWakeMax, res.ToolWakes = probe.result()
	res.Errors = errs.count
	if errs.err != nil {
		res.FirstError = errs.err.Error()
	}
	return res, res.print(out, o.jsonOut)
}

// at returns o aimed at addr instead of o.addr when addr is set.
func (o options) at(addr string) options {
	if addr != "" {
		o.addr = addr
	}
	return o
}

// checkFlowOptions validates the flags of the publish/subscribe scenarios.
func checkFlowOptions(o options) error {
	switch {
	case o.qos < 0 || o.qos > 2:
		return fmt.Errorf("-qos %d: want 0, 1 or 2", o.qos)
	case o.size < headerSize:
		return fmt.Errorf("-size %d: at least %d bytes", o.size, headerSize)
	case o.window < 1 || o.window > 65000:
		return fmt.Errorf("-window %d: want 1 to 65000", o.window)
	case o.duration <= 0:
		return errors.New("-duration must be positive")
	case o.rate < 0:
		return errors.New("-rate must not be negative")
	case o.p < 1 || o.k < 1:
		return errors.New("-p and -k must be at least 1")
	case o.version != 3 && o.version != 4 && o.version != 5:
		return fmt.Errorf("-V %d: want 3, 4 or 5", o.version)
	}
	return nil
}

func closeAll(cs []*conn) {
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Go(c.close)
	}
	wg.Wait()
}

func sentOf(pubs []*publisher) int64 {
	var n int64
	for _, p := range pubs {
		n += p.sent.Load()
	}
	return n
}

// unackedOf returns the QoS 1/2 publishes still waiting for their
// acknowledgement.
func unackedOf(pubs []*publisher) int64 {
	var n int64
	for _, p := range pubs {
		n += p.win.unacked.Load()
	}
	return n
}

func expectedOf(pubs []*publisher) int64 {
	var n int64
	for _, p := range pubs {
		n += p.sent.Load() * int64(p.fan)
	}
	return n
}

func receivedOf(subs []*subscriber) int64 {
	var n int64
	for _, s := range subs {
		n += s.received.Load()
	}
	return n
}
