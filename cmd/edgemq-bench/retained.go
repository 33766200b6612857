package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"edgemq/mqtt"
)

// The retained scenario: one client stores -n retained messages of -size
// bytes (at QoS 1, or 2 with -qos 2, so that each is known stored once
// acknowledged, and is delivered at -qos) under a
// fresh prefix, then a new client subscribes to prefix/# at -qos and the
// time until it has all -n, each counted once, is measured. Given the
// broker's pid it reports the broker's resident memory before the
// SUBSCRIBE and its peak during the delivery. It gives up after
// -duration.

// retainedResult is the outcome of the retained scenario.
type retainedResult struct {
	Scenario     string  `json:"scenario"`
	Version      int     `json:"version"`
	QoS          int     `json:"qos"`
	Messages     int     `json:"messages"`
	Size         int     `json:"size"`
	StoreSeconds float64 `json:"store_seconds"`
	Received     int64   `json:"received"`
	Duplicates   int64   `json:"duplicates"`
	Complete     bool    `json:"complete"`
	// Seconds is from the SUBSCRIBE to the last message (the last one
	// received, when not complete).
	Seconds     float64 `json:"seconds"`
	MsgsPerSec  float64 `json:"msgs_per_sec"`
	RSSBeforeKB int64   `json:"rss_before_kb,omitempty"`
	PeakRSSKB   int64   `json:"peak_rss_kb,omitempty"`
}

func runRetained(ctx context.Context, o options, out io.Writer) (*retainedResult, error) {
	if o.n < 1 || o.size < 8 || o.qos < 0 || o.qos > 2 {
		return nil, errors.New("retained: -n must be at least 1, -size at least 8, -qos 0, 1 or 2")
	}
	res := &retainedResult{Scenario: "retained", Version: o.version, QoS: o.qos, Messages: o.n, Size: o.size}
	prefix := "retained/" + runID()
	start := time.Now()
	if err := storeRetained(ctx, o, prefix); err != nil {
		return nil, err
	}
	res.StoreSeconds = time.Since(start).Seconds()

	peak := startPeakRSS(o.pid)
	if o.pid > 0 {
		rss, err := rssKB(o.pid)
		if err != nil {
			return nil, err
		}
		res.RSSBeforeKB = rss
	}
	c, err := dialMQTT(ctx, o.at(o.subAddr), o.idPrefix+"-retained-sub-"+runID(), 0)
	if err != nil {
		return nil, fmt.Errorf("connecting the subscriber: %w", err)
	}
	defer c.close()
	h := &retainedCounter{prefix: prefix + "/", seen: make([]bool, o.n), done: make(chan struct{})}
	begin := time.Now()
	h.begin = begin
	if err := c.write(&mqtt.Subscribe{PacketID: 1, Subscriptions: []mqtt.Subscription{{Filter: prefix + "/#", QoS: byte(o.qos)}}}); err != nil {
		return nil, fmt.Errorf("writing subscribe: %w", err)
	}
	if err := c.flush(); err != nil {
		return nil, fmt.Errorf("writing subscribe: %w", err)
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- c.serve(rctx, h) }()
	timeout := time.NewTimer(o.duration)
	defer timeout.Stop()
	select {
	case <-h.done:
		res.Complete = true
	case err := <-served:
		return nil, fmt.Errorf("subscriber: %w", err)
	case <-timeout.C:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	cancel()
	c.close()
	<-served
	res.Received, res.Duplicates = h.got.Load(), h.dups.Load()
	res.Seconds = time.Duration(h.last.Load()).Seconds()
	if res.Seconds > 0 {
		res.MsgsPerSec = float64(res.Received) / res.Seconds
	}
	if o.pid > 0 {
		if res.PeakRSSKB, err = peak.result(); err != nil {
			return nil, err
		}
	}
	return res, res.print(out, o.jsonOut)
}

// storeRetained publishes o.n retained messages prefix/0.. at QoS 1 (2
// with -qos 2) and waits until each is acknowledged, o.window at most
// unacknowledged. Each payload
// starts with its index.
func storeRetained(ctx context.Context, o options, prefix string) error {
	c, err := dialMQTT(ctx, o.at(o.pubAddr), o.idPrefix+"-retained-pub-"+runID(), 0)
	if err != nil {
		return fmt.Errorf("connecting the publisher: %w", err)
	}
	defer c.close()
	window := max(o.window, 1)
	if c.recvMax > 0 {
		window = min(window, c.recvMax)
	}
	h := &storeAcks{free: make(chan uint16, window)}
	for id := range window {
		h.free <- uint16(id + 1)
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- c.serve(sctx, h) }()
	payload := make([]byte, o.size)
	for i := range o.n {
		var id uint16
		select {
		case id = <-h.free:
		case err := <-served:
			return fmt.Errorf("publisher: %w", err)
		case <-ctx.Done():
			return ctx.Err()
		}
		binary.BigEndian.PutUint64(payload, uint64(i))
		p := &mqtt.Publish{Topic: prefix + "/" + strconv.Itoa(i), QoS: byte(max(o.qos, 1)), Retain: true, PacketID: id, Payload: payload}
		if err := c.writePublish(p); err != nil {
			return fmt.Errorf("publishing: %w", err)
		}
		if len(h.free) == 0 {
			if err := c.flush(); err != nil {
				return fmt.Errorf("publishing: %w", err)
			}
		}
	}
	if err := c.flush(); err != nil {
		return fmt.Errorf("publishing: %w", err)
	}
	for len(h.free) < window {
		select {
		case err := <-served:
			return fmt.Errorf("publisher: %w", err)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}

// storeAcks hands back the packet ids the broker acknowledged.
type storeAcks struct{ free chan uint16 }

func (h *storeAcks) delivered(*mqtt.Publish) {}
func (h *storeAcks) released(id uint16)      { h.free <- id }

// retainedCounter counts the distinct retained messages received.
type retainedCounter struct {
	prefix string
	begin  time.Time
	seen   []bool // reader goroutine only
	got    atomic.Int64
	dups   atomic.Int64
	last   atomic.Int64 // time of the last new message since begin
	once   sync.Once
	done   chan struct{}
}

func (h *retainedCounter) delivered(p *mqtt.Publish) {
	i, err := strconv.Atoi(strings.TrimPrefix(p.Topic, h.prefix))
	if err != nil || i < 0 || i >= len(h.seen) {
		return
	}
	if h.seen[i] {
		h.dups.Add(1)
		return
	}
	h.seen[i] = true
	h.last.Store(int64(time.Since(h.begin)))
	if h.got.Add(1) == int64(len(h.seen)) {
		h.once.Do(func() { close(h.done) })
	}
}

func (h *retainedCounter) released(uint16) {}

// peakRSS follows a process's peak resident memory from now on: the
// kernel's high-water mark (VmHWM) after resetting it (clear_refs 5), or,
// where the reset is refused, the highest of samples taken every 5 ms.
type peakRSS struct {
	pid   int
	reset bool
	stop  chan struct{}
	done  chan struct{}
	max   int64
	err   error
}

func startPeakRSS(pid int) *peakRSS {
	p := &peakRSS{pid: pid, stop: make(chan struct{}), done: make(chan struct{})}
	if pid <= 0 {
		close(p.done)
		return p
	}
	p.reset = os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0) == nil
	go func() {
		defer close(p.done)
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			rss, err := rssKB(p.pid)
			if err != nil {
				p.err = err
				return
			}
			p.max = max(p.max, rss)
			select {
			case <-p.stop:
				return
			case <-t.C:
			}
		}
	}()
	return p
}

// result stops the sampling and returns the peak in KB.
func (p *peakRSS) result() (int64, error) {
	close(p.stop)
	<-p.done
	if p.err != nil {
		return 0, p.err
	}
	if p.reset {
		if hwm, err := procStatusKB(p.pid, "VmHWM:"); err == nil {
			return max(hwm, p.max), nil
		}
	}
	return p.max, nil
}

// procStatusKB reads one kB field of /proc/PID/status.
func procStatusKB(pid int, field string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("reading broker memory: %w", err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field); ok {
			return strconv.ParseInt(strings.Fields(rest)[0], 10, 64)
		}
	}
	return 0, fmt.Errorf("reading broker memory: no %s", field)
}

func (r *retainedResult) print(w io.Writer, asJSON bool) error {
	if asJSON {
		return json.NewEncoder(w).Encode(r)
	}
	_, err := fmt.Fprintf(w, "retained: %d messages of %d bytes at qos %d (MQTT level %d), stored in %.2fs\n"+
		"  received %d (complete: %v, duplicates %d) in %.3fs, %.0f msgs/s\n",
		r.Messages, r.Size, r.QoS, r.Version, r.StoreSeconds, r.Received, r.Complete, r.Duplicates, r.Seconds, r.MsgsPerSec)
	if err == nil && r.PeakRSSKB > 0 {
		_, err = fmt.Fprintf(w, "  broker RSS %d KB before the subscribe, peak %d KB during delivery\n", r.RSSBeforeKB, r.PeakRSSKB)
	}
	return err
}
