package main

// The sessions scenario: -n persistent sessions, each opened by a client
// that connects with a Session Expiry Interval of -session-expiry
// seconds (3.1.1: a clean-session-false CONNECT), subscribes to a topic
// of its own at -qos and disconnects, so that the broker keeps the
// sessions without holding a connection (or a file descriptor) for
// each. The clients are spread over the brokers of -addrs (the nodes of
// a cluster), round robin, and over -sources source addresses. Given
// -nats, the URL of one of the cluster's NATS servers, it reports
// JetStream's own account totals and the size of each stream and bucket
// of the cluster (sessions, nodes, messages, retained) afterwards,
// consumers included.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"edgemq/mqtt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// sessionsResult is the outcome of the sessions scenario.
type sessionsResult struct {
	Scenario       string         `json:"scenario"`
	Version        int            `json:"version"`
	Prefix         string         `json:"prefix"` // session i's client id is prefix-i
	Sessions       int            `json:"sessions"`
	Failed         int64          `json:"failed"`
	ExpirySeconds  int            `json:"session_expiry"`
	Seconds        float64        `json:"seconds"`
	SessionsPerSec float64        `json:"sessions_per_sec"`
	PerBroker      map[string]int `json:"per_broker"`
	JetStream      *jsSizes       `json:"jetstream,omitempty"`
}

// jsSizes are JetStream's own figures of the cluster's account.
type jsSizes struct {
	MemoryBytes uint64              `json:"memory_bytes"`
	StoreBytes  uint64              `json:"store_bytes"`
	Streams     int                 `json:"streams"`
	Consumers   int                 `json:"consumers"`
	ByStream    map[string]jsStream `json:"by_stream"`
}

type jsStream struct {
	Messages  uint64 `json:"messages"`
	Bytes     uint64 `json:"bytes"`
	Subjects  uint64 `json:"subjects"`
	Consumers int    `json:"consumers"`
}

// clusterStreams are the streams and buckets of an edgemq cluster.
var clusterStreams = []string{"KV_EMQ_SESSIONS", "KV_EMQ_NODES", "EMQ_MESSAGES", "EMQ_RETAINED"}

func runSessions(ctx context.Context, o options, out, stderr io.Writer) (*sessionsResult, error) {
	addrs := o.brokers()
	if o.n < 1 || o.sessionExpiry < 1 || o.qos < 0 || o.qos > 2 {
		return nil, errors.New("sessions: -n and -session-expiry must be at least 1, -qos 0, 1 or 2")
	}
	res := &sessionsResult{Scenario: "sessions", Version: o.version, ExpirySeconds: o.sessionExpiry, PerBroker: map[string]int{}}
	prefix := o.idPrefix + "-" + runID()
	res.Prefix = prefix
	var next, failed atomic.Int64
	var firstErr firstError
	per := make([]atomic.Int64, len(addrs))
	start := time.Now()
	var wg sync.WaitGroup
	for range o.c {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= o.n || ctx.Err() != nil {
					return
				}
				b := i % len(addrs)
				if err := openSession(ctx, o.at(addrs[b]), prefix, i); err != nil {
					failed.Add(1)
					firstErr.add(err)
					continue
				}
				per[b].Add(1)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	res.Failed = failed.Load()
	res.Sessions = o.n - int(res.Failed)
	res.Seconds = elapsed.Seconds()
	res.SessionsPerSec = float64(res.Sessions) / elapsed.Seconds()
	for i, a := range addrs {
		res.PerBroker[a] += int(per[i].Load())
	}
	if err := firstErr.err; err != nil {
		fmt.Fprintln(stderr, "edgemq-bench: first failure:", err)
	}
	if o.natsURL != "" {
		sz, err := readJetStream(ctx, o.natsURL)
		if err != nil {
			return nil, err
		}
		res.JetStream = sz
	}
	if o.jsonOut {
		if err := json.NewEncoder(out).Encode(res); err != nil {
			return nil, err
		}
	} else {
		fmt.Fprintf(out, "sessions v%d: %d persistent sessions (%d failed, expiry %ds) in %.2fs: %.0f sessions/s; per broker %v\n",
			res.Version, res.Sessions, res.Failed, res.ExpirySeconds, res.Seconds, res.SessionsPerSec, res.PerBroker)
		if sz := res.JetStream; sz != nil {
			fmt.Fprintf(out, "jetstream: %d streams, %d consumers, %d bytes stored, %d bytes in memory\n", sz.Streams, sz.Consumers, sz.StoreBytes, sz.MemoryBytes)
			for _, name := range clusterStreams {
				if s, ok := sz.ByStream[name]; ok {
					fmt.Fprintf(out, "  %s: %d messages, %d bytes, %d subjects, %d consumers\n", name, s.Messages, s.Bytes, s.Subjects, s.Consumers)
				}
			}
		}
	}
	if res.Sessions == 0 {
		return res, fmt.Errorf("every session failed (%d of %d)", res.Failed, o.n)
	}
	return res, nil
}

// brokers returns the brokers of -addrs, or -addr alone.
func (o options) brokers() []string {
	var out []string
	for a := range strings.SplitSeq(o.addrs, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		out = []string{o.addr}
	}
	return out
}

// openSession makes session i: CONNECT with the expiry, SUBSCRIBE to a
// topic of its own, DISCONNECT.
func openSession(ctx context.Context, o options, prefix string, i int) error {
	d := net.Dialer{Timeout: 10 * time.Second}
	if o.sources > 1 {
		d.LocalAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(1+i%o.sources))}
	}
	nc, err := dialTransport(ctx, &d, o)
	if err != nil {
		return err
	}
	v := mqtt.Version(o.version)
	c := &conn{nc: nc, v: v, rd: mqtt.NewReader(nc, 0, nil), w: bufio.NewWriterSize(nc, 512)}
	defer c.close()
	id := prefix + "-" + strconv.Itoa(i)
	connect := &mqtt.Connect{Version: v, CleanStart: true, ClientID: id}
	if v == mqtt.V5 {
		connect.Properties.SetUint32(mqtt.PropSessionExpiryInterval, uint32(o.sessionExpiry))
	} else {
		connect.CleanStart = false // the broker's expiry for persistent 3.x sessions
	}
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	if err := mqtt.WritePacket(nc, connect, v); err != nil {
		return fmt.Errorf("writing connect: %w", err)
	}
	p, err := c.rd.ReadPacket(v)
	if err != nil {
		return fmt.Errorf("reading connack: %w", err)
	}
	if ack, ok := p.(*mqtt.Connack); !ok || ack.ReasonCode != 0 {
		return fmt.Errorf("connect of %s refused: %v", id, p)
	}
	return c.subscribe("sessions/"+id, byte(o.qos))
}

// readJetStream reads JetStream's account totals and the cluster's
// streams from the NATS server at url.
func readJetStream(ctx context.Context, url string) (*jsSizes, error) {
	nc, err := nats.Connect(url, nats.Timeout(5*time.Second))
	if err != nil {
		return nil, fmt.Errorf("connecting to nats: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("connecting to nats: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ai, err := js.AccountInfo(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading jetstream account: %w", err)
	}
	sz := &jsSizes{MemoryBytes: ai.Memory, StoreBytes: ai.Store, Streams: ai.Streams, Consumers: ai.Consumers, ByStream: map[string]jsStream{}}
	for _, name := range clusterStreams {
		st, err := js.Stream(ctx, name)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading stream %s: %w", name, err)
		}
		info, err := st.Info(ctx)
		if err != nil {
			return nil, fmt.Errorf("reading stream %s: %w", name, err)
		}
		sz.ByStream[name] = jsStream{Messages: info.State.Msgs, Bytes: info.State.Bytes, Subjects: info.State.NumSubjects, Consumers: info.State.Consumers}
	}
	return sz, nil
}
