// Command edgemq-bench loads an MQTT broker. It speaks plain MQTT through
// edgemq's codec and needs nothing broker specific, so the same run works
// against any broker (see compare.sh, which runs it against Mosquitto and
// edgemq).
//
// Scenarios:
//
//   - connect opens N connections, C at a time, measures CONNECT/CONNACK
//     handshakes per second, holds the connections idle, and, given the
//     broker's pid, reports the broker's resident memory per connection.
//   - fanin: P publishers, one subscriber, one topic.
//   - fanout: one publisher, K subscribers of its topic.
//   - pairs: K publisher/subscriber pairs, each on its own topic.
//   - retained: store N retained messages under a fresh prefix, then time
//     a new subscriber to prefix/# until it has all N (retained.go).
//   - sessions: N persistent sessions, each connected with a session
//     expiry, subscribed and disconnected, spread over the brokers of
//     -addrs (a cluster's nodes), with JetStream's sizes (sessions.go).
//
// -pub-addr and -sub-addr send the publishers and the subscribers to
// different brokers (nodes of one cluster), so that every message
// crosses from one node to another.
//
// The publish/subscribe scenarios publish at -rate messages per second in
// total, or as fast as a bounded window allows with -rate 0, for -duration
// after -warmup, and report loss, throughput and end-to-end latency (each
// payload carries its send time and a sequence number).
package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"edgemq/mqtt"
)

type options struct {
	addr string
	// pubAddr and subAddr, when set, send the publishers and the
	// subscribers to other brokers than addr: the nodes of a cluster.
	pubAddr, subAddr string
	transport        string
	path             string
	caFile           string
	insecure         bool
	curves           string
	tlsConfig        *tls.Config
	n, c             int
	version          int
	hold             time.Duration
	pid              int
	sources          int
	jsonOut          bool
	idPrefix         string
	// addrs, natsURL and sessionExpiry are the sessions scenario's.
	addrs         string
	natsURL       string
	sessionExpiry int

	// The publish/subscribe scenarios.
	qos      int
	size     int
	p, k     int
	rate     float64
	window   int
	duration time.Duration
	warmup   time.Duration
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// usageText heads the usage message.
const usageText = `usage: edgemq-bench [flags] connect|fanin|fanout|pairs|retained|sessions [flags]

A scenario is required. Exit status: 0 after a run, 1 when the run failed
(every connection failed, or a scenario could not connect), 2 for bad
usage (no scenario, unknown scenario or flag).

`

// run is main without os.Exit: it returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	var o options
	flags := flag.NewFlagSet("edgemq-bench", flag.ContinueOnError)
	flags.SetOutput(stderr)
	flags.StringVar(&o.addr, "addr", "127.0.0.1:1883", "broker host:port")
	flags.StringVar(&o.pubAddr, "pub-addr", "", "publishers' broker host:port (fanin, fanout, pairs, retained), e.g. one node of a cluster; empty: -addr")
	flags.StringVar(&o.subAddr, "sub-addr", "", "subscribers' broker host:port (fanin, fanout, pairs, retained), e.g. another node of a cluster; empty: -addr")
	flags.StringVar(&o.transport, "transport", "tcp", "tcp, tls, ws or wss")
	flags.StringVar(&o.path, "path", "/mqtt", "WebSocket path (ws, wss)")
	flags.StringVar(&o.caFile, "cafile", "", "PEM file of CAs to trust (tls, wss)")
	flags.BoolVar(&o.insecure, "insecure", false, "do not verify the broker's certificate (tls, wss)")
	flags.StringVar(&o.curves, "curves", "x25519", "TLS key exchanges offered, comma separated: x25519, x25519mlkem768, p256, p384; \"go\" for Go's defaults")
	flags.IntVar(&o.n, "n", 1000, "connections to open (connect); retained messages (retained)")
	flags.IntVar(&o.c, "c", 64, "connections opened at a time (all scenarios)")
	flags.IntVar(&o.version, "V", 4, "MQTT protocol level: 3 (3.1), 4 (3.1.1) or 5")
	flags.DurationVar(&o.hold, "hold", 5*time.Second, "how long to hold the connections idle before measuring memory")
	flags.IntVar(&o.pid, "pid", 0, "broker pid, to report its CPU use and resident memory (per connection for connect)")
	flags.IntVar(&o.sources, "sources", 1, "spread connections over this many source addresses 127.0.0.1, .2, ... (beats ephemeral port limits)")
	flags.BoolVar(&o.jsonOut, "json", false, "print one JSON line per scenario")
	flags.StringVar(&o.idPrefix, "id", "bench", "client id prefix")
	flags.StringVar(&o.addrs, "addrs", "", "brokers host:port, comma separated, the sessions are spread over (sessions), e.g. a cluster's nodes; empty: -addr")
	flags.StringVar(&o.natsURL, "nats", "", "a cluster's NATS server URL, to report JetStream's stream and bucket sizes (sessions)")
	flags.IntVar(&o.sessionExpiry, "session-expiry", 3600, "Session Expiry Interval of the sessions, seconds (sessions; -V 5)")
	flags.IntVar(&o.qos, "qos", 0, "QoS of publish and subscribe: 0, 1 or 2")
	flags.IntVar(&o.size, "size", 64, "payload bytes, at least 16 (send time and sequence number)")
	flags.IntVar(&o.p, "p", 4, "publishers of fanin")
	flags.IntVar(&o.k, "k", 100, "subscribers of fanout, pairs of pairs")
	flags.Float64Var(&o.rate, "rate", 0, "publishes per second offered in total, spread over the publishers; 0: saturation")
	flags.IntVar(&o.window, "window", 100, "most messages a publisher has unacknowledged (QoS 1/2) or unreceived (any QoS)")
	flags.DurationVar(&o.duration, "duration", 10*time.Second, "measured time; retained: the longest wait for all messages")
	flags.DurationVar(&o.warmup, "warmup", 2*time.Second, "time publishing before measuring")
	flags.Usage = func() {
		fmt.Fprint(flags.Output(), usageText)
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	scenario := flags.Arg(0)
	if scenario == "" {
		fmt.Fprintln(stderr, "edgemq-bench: no scenario given")
		flags.Usage()
		return 2
	}
	if flags.NArg() > 1 {
		// Flags may follow the scenario too.
		if err := flags.Parse(flags.Args()[1:]); err != nil || flags.NArg() > 0 {
			flags.Usage()
			return 2
		}
	}
	switch scenario {
	case "connect", "fanin", "fanout", "pairs", "retained", "sessions":
	default:
		fmt.Fprintf(stderr, "edgemq-bench: unknown scenario %q\n", scenario)
		flags.Usage()
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	tc, err := clientTLS(o)
	if err != nil {
		fmt.Fprintln(stderr, "edgemq-bench:", err)
		return 2
	}
	o.tlsConfig = tc
	switch scenario {
	case "connect":
		err = runConnect(ctx, o, stdout, stderr)
	case "fanin", "fanout", "pairs":
		_, err = runFlow(ctx, o, scenario, stdout)
	case "retained":
		_, err = runRetained(ctx, o, stdout)
	case "sessions":
		_, err = runSessions(ctx, o, stdout, stderr)
	}
	if err != nil {
		fmt.Fprintln(stderr, "edgemq-bench:", err)
		return 1
	}
	return 0
}

// connectResult is the outcome of the connect scenario.
type connectResult struct {
	Scenario       string  `json:"scenario"`
	Transport      string  `json:"transport"`
	Version        int     `json:"version"`
	Connections    int     `json:"connections"`
	Failed         int64   `json:"failed"`
	Seconds        float64 `json:"seconds"`
	ConnectsPerSec float64 `json:"connects_per_sec"`
	RSSBeforeKB    int64   `json:"rss_before_kb,omitempty"`
	RSSAfterKB     int64   `json:"rss_after_kb,omitempty"`
	KBPerConn      float64 `json:"kb_per_conn,omitempty"`
	BrokerCPUPct   float64 `json:"broker_cpu_pct,omitempty"` // of one core, while connecting
}

// runConnect runs the connect scenario; a run in which every connection
// failed is an error, after its result is printed.
func runConnect(ctx context.Context, o options, out, stderr io.Writer) error {
	var res connectResult
	res.Scenario, res.Version, res.Transport = "connect", o.version, o.transport
	if o.pid > 0 {
		rss, err := rssKB(o.pid)
		if err != nil {
			return err
		}
		res.RSSBeforeKB = rss
	}
	var ticks0 int64
	if o.pid > 0 {
		t, err := cpuTicks(o.pid)
		if err != nil {
			return err
		}
		ticks0 = t
	}
	conns := make([]net.Conn, o.n)
	var next atomic.Int64
	var failed atomic.Int64
	var firstErr firstError
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < o.c; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= o.n || ctx.Err() != nil {
					return
				}
				c, err := handshake(ctx, o, i)
				if err != nil {
					failed.Add(1)
					firstErr.add(err)
					continue
				}
				conns[i] = c
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	defer func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	}()
	res.Connections = o.n - int(failed.Load())
	res.Failed = failed.Load()
	res.Seconds = elapsed.Seconds()
	if o.pid > 0 {
		t, err := cpuTicks(o.pid)
		if err != nil {
			return err
		}
		res.BrokerCPUPct = 100 * float64(t-ticks0) / clockTicks / elapsed.Seconds()
	}
	res.ConnectsPerSec = float64(res.Connections) / elapsed.Seconds()
	if err := firstErr.err; err != nil {
		fmt.Fprintln(stderr, "edgemq-bench: first failure:", err)
	}
	if o.pid > 0 {
		select {
		case <-time.After(o.hold):
		case <-ctx.Done():
		}
		rss, err := rssKB(o.pid)
		if err != nil {
			return err
		}
		res.RSSAfterKB = rss
		if res.Connections > 0 {
			res.KBPerConn = float64(res.RSSAfterKB-res.RSSBeforeKB) / float64(res.Connections)
		}
	}
	if o.jsonOut {
		if err := json.NewEncoder(out).Encode(res); err != nil {
			return err
		}
		return allFailed(res)
	}
	fmt.Fprintf(out, "connect %s v%d: %d connections (%d failed) in %.2fs: %.0f connects/s\n",
		res.Transport, res.Version, res.Connections, res.Failed, res.Seconds, res.ConnectsPerSec)
	if o.pid > 0 {
		fmt.Fprintf(out, "broker rss: %d KB before, %d KB after: %.2f KB per connection; cpu %.1f%% of one core while connecting\n",
			res.RSSBeforeKB, res.RSSAfterKB, res.KBPerConn, res.BrokerCPUPct)
	}
	return allFailed(res)
}

// allFailed is an error when no connection of a connect run succeeded.
func allFailed(res connectResult) error {
	if res.Connections == 0 && res.Failed > 0 {
		return fmt.Errorf("every connection failed (%d of %d)", res.Failed, res.Failed)
	}
	return nil
}

// handshake opens connection i and completes CONNECT/CONNACK.
func handshake(ctx context.Context, o options, i int) (net.Conn, error) {
	d := net.Dialer{Timeout: 10 * time.Second}
	if o.sources > 1 {
		d.LocalAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(1+i%o.sources))}
	}
	c, err := dialTransport(ctx, &d, o)
	if err != nil {
		return nil, err
	}
	v := mqtt.Version(o.version)
	conn := &mqtt.Connect{Version: v, CleanStart: true, ClientID: o.idPrefix + "-" + strconv.Itoa(i)}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if err := mqtt.WritePacket(c, conn, v); err != nil {
		c.Close()
		return nil, fmt.Errorf("writing connect: %w", err)
	}
	p, err := mqtt.ReadPacket(c, v, 0)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("reading connack: %w", err)
	}
	ack, ok := p.(*mqtt.Connack)
	if !ok {
		c.Close()
		return nil, fmt.Errorf("reading connack: got %v", p.Type())
	}
	if ack.ReasonCode != 0 {
		c.Close()
		return nil, fmt.Errorf("connect refused: %v", ack.ReasonCode)
	}
	c.SetDeadline(time.Time{})
	return c, nil
}

// rssKB reads a process's resident set size from /proc.
func rssKB(pid int) (int64, error) { return procStatusKB(pid, "VmRSS:") }
