package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"golang.org/x/term"
)

// flowResult is the outcome of a publish/subscribe scenario. Its JSON
// keys are stable: scripts read them.
type flowResult struct {
	Scenario     string  `json:"scenario"`
	Transport    string  `json:"transport"`
	Version      int     `json:"version"`
	QoS          int     `json:"qos"`
	Size         int     `json:"size"`
	Publishers   int     `json:"publishers"`
	Subscribers  int     `json:"subscribers"`
	Rate         float64 `json:"rate"` // offered publishes/s; 0: saturation
	Window       int     `json:"window"`
	Seconds      float64 `json:"seconds"`
	Sent         int64   `json:"sent"`
	Expected     int64   `json:"expected"`
	Received     int64   `json:"received"`
	Lost         int64   `json:"lost"`
	LossPct      float64 `json:"loss_pct"`
	SentPerSec   float64 `json:"sent_per_sec"`
	Throughput   float64 `json:"throughput"` // deliveries/s received
	LatencyCount int64   `json:"latency_count"`
	LatencyP50   float64 `json:"latency_p50_us"`
	LatencyP90   float64 `json:"latency_p90_us"`
	LatencyP99   float64 `json:"latency_p99_us"`
	LatencyP999  float64 `json:"latency_p999_us"`
	LatencyMax   float64 `json:"latency_max_us"`
	LatencyMean  float64 `json:"latency_mean_us"`
	// The publishers' wait from writing a QoS 1/2 PUBLISH to its PUBACK
	// (QoS 1) or PUBCOMP (QoS 2), for the messages of the measured window.
	AckCount     int64   `json:"ack_count"`
	AckP50       float64 `json:"ack_p50_us"`
	AckP99       float64 `json:"ack_p99_us"`
	AckMax       float64 `json:"ack_max_us"`
	PubAddr      string  `json:"pub_addr"`       // -pub-addr, when set
	SubAddr      string  `json:"sub_addr"`       // -sub-addr, when set
	BrokerCPUPct float64 `json:"broker_cpu_pct"` // of one core, over the measured window; needs -pid
	BrokerRSSKB  int64   `json:"broker_rss_kb"`  // at the end of the measured window; needs -pid
	Stalls       int64   `json:"stalls"`         // windows given up on (lost QoS 0 tails)
	Unacked      int64   `json:"unacked"`        // QoS 1/2 publishes never acknowledged
	Gaps         int64   `json:"gaps"`           // deliveries skipped in sequence (dropped, not just late)
	Foreign      int64   `json:"foreign"`        // deliveries that were not this run's
	Errors       int64   `json:"errors"`
	FirstError   string  `json:"first_error"`

	// The load tool's own wake-up lateness over the measured window, in
	// microseconds, and how many wake-ups were sampled (wakeprobe.go):
	// near the latencies above, the run measured the machine's other
	// work rather than the broker.
	ToolWakeP99 float64 `json:"tool_wake_p99_us"`
	ToolWakeMax float64 `json:"tool_wake_max_us"`
	ToolWakes   int64   `json:"tool_wakes"`
}

func newFlowResult(o options, spec flowSpec, pubs []*publisher, subs []*subscriber, expected int64) *flowResult {
	r := &flowResult{Scenario: spec.name, Transport: o.transport, Version: o.version, QoS: o.qos, Size: o.size,
		Publishers: spec.pubs, Subscribers: spec.subs, Rate: o.rate, Window: o.window}
	h := hdrhistogram.New(1, histMaxUS, histSigFigs)
	for _, s := range subs {
		h.Merge(s.hist)
		r.Received += s.received.Load()
		r.Foreign += s.foreign.Load()
		r.Gaps += s.gaps.Load()
	}
	acks := hdrhistogram.New(1, histMaxUS, histSigFigs)
	for _, p := range pubs {
		if p.ackHist != nil {
			acks.Merge(p.ackHist)
		}
		r.Sent += p.sent.Load()
		r.Stalls += p.stalls.Load()
		r.Unacked += p.win.unacked.Load()
	}
	r.Expected = expected
	r.Lost = r.Expected - r.Received
	if r.Expected > 0 {
		r.LossPct = 100 * float64(r.Lost) / float64(r.Expected)
	}
	r.LatencyCount = h.TotalCount()
	if r.LatencyCount > 0 {
		r.LatencyP50 = float64(h.ValueAtQuantile(50))
		r.LatencyP90 = float64(h.ValueAtQuantile(90))
		r.LatencyP99 = float64(h.ValueAtQuantile(99))
		r.LatencyP999 = float64(h.ValueAtQuantile(99.9))
		r.LatencyMax = float64(h.Max())
		r.LatencyMean = h.Mean()
	}
	if r.AckCount = acks.TotalCount(); r.AckCount > 0 {
		r.AckP50 = float64(acks.ValueAtQuantile(50))
		r.AckP99 = float64(acks.ValueAtQuantile(99))
		r.AckMax = float64(acks.Max())
	}
	r.PubAddr, r.SubAddr = o.pubAddr, o.subAddr
	return r
}

func (r *flowResult) addRates() {
	if r.Seconds > 0 {
		r.SentPerSec = float64(r.Sent) / r.Seconds
		r.Throughput = float64(r.Received) / r.Seconds
	}
}

func (r *flowResult) print(w io.Writer, asJSON bool) error {
	if asJSON {
		return json.NewEncoder(w).Encode(r)
	}
	mode := "saturation, window " + strconv.Itoa(r.Window)
	if r.Rate > 0 {
		mode = fmt.Sprintf("%.0f publishes/s offered", r.Rate)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s v%d qos %d, %d B, %d pub -> %d sub, %s, %.1fs\n",
		r.Scenario, r.Transport, r.Version, r.QoS, r.Size, r.Publishers, r.Subscribers, mode, r.Seconds)
	fmt.Fprintf(&b, "  sent %d (%.0f/s), expected %d, received %d, lost %d (%.3f%%)\n",
		r.Sent, r.SentPerSec, r.Expected, r.Received, r.Lost, r.LossPct)
	fmt.Fprintf(&b, "  throughput %.0f deliveries/s\n", r.Throughput)
	fmt.Fprintf(&b, "  latency us: p50 %.0f  p90 %.0f  p99 %.0f  p99.9 %.0f  max %.0f  (mean %.1f, n=%d)\n",
		r.LatencyP50, r.LatencyP90, r.LatencyP99, r.LatencyP999, r.LatencyMax, r.LatencyMean, r.LatencyCount)
	if r.AckCount > 0 {
		fmt.Fprintf(&b, "  publish to ack us: p50 %.0f  p99 %.0f  max %.0f  (n=%d)\n", r.AckP50, r.AckP99, r.AckMax, r.AckCount)
	}
	if r.PubAddr != "" || r.SubAddr != "" {
		fmt.Fprintf(&b, "  publishers at %s, subscribers at %s\n", orAddr(r.PubAddr), orAddr(r.SubAddr))
	}
	if r.ToolWakes > 0 {
		fmt.Fprintf(&b, "  load tool wake-up lateness us: p99 %.0f  max %.0f  (n=%d)\n", r.ToolWakeP99, r.ToolWakeMax, r.ToolWakes)
	}
	if r.BrokerRSSKB > 0 {
		fmt.Fprintf(&b, "  broker: cpu %.1f%% of one core, rss %d KB\n", r.BrokerCPUPct, r.BrokerRSSKB)
	}
	if r.Stalls > 0 || r.Foreign > 0 || r.Unacked > 0 || r.Gaps > 0 {
		fmt.Fprintf(&b, "  stalls %d, unacknowledged %d, sequence gaps %d, foreign deliveries %d\n", r.Stalls, r.Unacked, r.Gaps, r.Foreign)
	}
	if r.Errors > 0 {
		fmt.Fprintf(&b, "  errors %d, first: %s\n", r.Errors, r.FirstError)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func orAddr(a string) string {
	if a == "" {
		return "-addr"
	}
	return a
}

// clockTicks is the kernel's USER_HZ, the unit of /proc/PID/stat times;
// 100 on every Linux architecture Go runs on.
const clockTicks = 100

// cpuTicks reads a process's user plus system time from /proc.
func cpuTicks(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("reading broker cpu: %w", err)
	}
	// The command name may hold spaces: fields are counted after its ')'.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("reading broker cpu: short stat %q", s)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64) // field 14
	stime, err2 := strconv.ParseInt(f[12], 10, 64) // field 15
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("reading broker cpu: bad stat %q", s)
	}
	return utime + stime, nil
}

// sampler measures the broker over [t0, t1] in a goroutine of its own.
type sampler struct {
	done chan struct{}
	cpu  float64
	rss  int64
	err  error
}

// startSampler samples pid's CPU time at t0 and t1 and its memory at t1;
// pid 0 samples nothing.
func startSampler(pid int, clk clock, t0, t1 time.Duration) *sampler {
	s := &sampler{done: make(chan struct{})}
	if pid <= 0 {
		close(s.done)
		return s
	}
	go func() {
		defer close(s.done)
		time.Sleep(t0 - clk.now())
		start, w0 := clk.now(), int64(0)
		if w0, s.err = cpuTicks(pid); s.err != nil {
			return
		}
		time.Sleep(t1 - clk.now())
		w1, err := cpuTicks(pid)
		if err != nil {
			s.err = err
			return
		}
		secs := (clk.now() - start).Seconds()
		s.cpu = 100 * float64(w1-w0) / clockTicks / secs
		s.rss, s.err = rssKB(pid)
	}()
	return s
}

// result waits for the sampler and returns the CPU used, as % of one
// core, and the resident memory in KB.
func (s *sampler) result() (float64, int64, error) {
	<-s.done
	return s.cpu, s.rss, s.err
}

// progress draws a progress bar on stderr while it is a terminal.
type progress struct {
	stopOnce sync.Once
	done     chan struct{}
	wg       sync.WaitGroup
}

// startProgress shows the run from begin to end, with counts from
// counts, until stop is called.
func startProgress(o options, clk clock, begin, end time.Duration, counts func() (sent, received int64)) *progress {
	p := &progress{done: make(chan struct{})}
	if !term.IsTerminal(int(os.Stderr.Fd())) {
		return p
	}
	p.wg.Go(func() {
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-p.done:
				fmt.Fprint(os.Stderr, "\r\033[K")
				return
			case <-t.C:
			}
			now := clk.now()
			frac := min(max(float64(now-begin)/float64(end-begin), 0), 1)
			const width = 30
			bar := strings.Repeat("#", int(frac*width)) + strings.Repeat(".", width-int(frac*width))
			phase := "measure"
			if now < begin+o.warmup {
				phase = "warm-up"
			} else if now >= end {
				phase = "drain"
			}
			sent, recv := counts()
			fmt.Fprintf(os.Stderr, "\r\033[K[%s] %3.0f%% %-7s sent %d received %d", bar, 100*frac, phase, sent, recv)
		}
	})
	return p
}

func (p *progress) stop() {
	p.stopOnce.Do(func() { close(p.done) })
	p.wg.Wait()
}
