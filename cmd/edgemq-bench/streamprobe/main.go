// Command streamprobe measures the round trip of a publish to a running
// edgemq cluster's messages stream (NATS JetStream, as the nodes
// configured it: replicas, sync interval) with no MQTT in the path: the
// least a QoS 1 PUBACK across the cluster costs on the machine at that
// moment. It publishes -rate messages a second of -size bytes for
// -duration on one NATS connection, each with its own reply subject as
// a node does, and prints the time to each answer as one JSON line
// (cluster.sh's stream_p50_us, stream_p99_us).
//
//	streamprobe -nats nats://127.0.0.1:4231 -rate 5000 -duration 10s
//
// The probe's messages go to the stream under an MQTT topic no client
// uses (-topic), so the nodes route them to nobody; they stay in the
// stream until its max age, like any QoS 1 message.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// durablePrefix is the messages stream's subject prefix
// (gateway/cluster.DurablePrefix); the topic's levels follow, dot
// separated.
const durablePrefix = "emq_q."

type result struct {
	Rate     float64 `json:"rate"`
	Seconds  float64 `json:"seconds"`
	Sent     int     `json:"sent"`
	Answered int     `json:"answered"`
	Failed   int     `json:"failed"`
	P50      float64 `json:"stream_p50_us"`
	P99      float64 `json:"stream_p99_us"`
	Max      float64 `json:"stream_max_us"`
}

func main() {
	url := flag.String("nats", "nats://127.0.0.1:4231", "a cluster node's NATS client URL")
	rate := flag.Float64("rate", 5000, "publishes per second")
	dur := flag.Duration("duration", 10*time.Second, "how long to publish")
	size := flag.Int("size", 64, "payload bytes")
	topic := flag.String("topic", "edgemq-bench-probe", "MQTT topic of the probe's messages (one level: no dots or slashes)")
	flag.Parse()
	if err := run(*url, *rate, *dur, *size, *topic); err != nil {
		fmt.Fprintln(os.Stderr, "streamprobe:", err)
		os.Exit(1)
	}
}

func run(url string, rate float64, dur time.Duration, size int, topic string) error {
	if rate <= 0 || strings.ContainsAny(topic, "./*> ") || topic == "" {
		return errors.New("-rate must be above 0 and -topic one plain level")
	}
	nc, err := nats.Connect(url, nats.Name("edgemq streamprobe"))
	if err != nil {
		return fmt.Errorf("connecting to nats: %w", err)
	}
	defer nc.Close()
	inbox := nc.NewRespInbox() + "."
	var (
		mu     sync.Mutex
		sent   = map[uint64]time.Time{}
		rtts   []time.Duration
		failed int
	)
	all := make(chan struct{})
	var total uint64
	sub, err := nc.Subscribe(inbox+"*", func(m *nats.Msg) {
		n, _ := strconv.ParseUint(m.Subject[strings.LastIndexByte(m.Subject, '.')+1:], 10, 64)
		var ack struct {
			Seq   uint64          `json:"seq"`
			Error json.RawMessage `json:"error"`
		}
		ok := m.Header.Get("Status") == "" && json.Unmarshal(m.Data, &ack) == nil && ack.Seq > 0 && ack.Error == nil
		mu.Lock()
		defer mu.Unlock()
		t, pending := sent[n]
		if !pending {
			return
		}
		delete(sent, n)
		if ok {
			rtts = append(rtts, time.Since(t))
		} else {
			failed++
		}
		if total > 0 && len(rtts)+failed == int(total) {
			close(all)
		}
	})
	if err != nil {
		return fmt.Errorf("subscribing to answers: %w", err)
	}
	if err := sub.SetPendingLimits(-1, -1); err != nil {
		return fmt.Errorf("subscribing to answers: %w", err)
	}
	payload := make([]byte, size)
	every := time.Duration(float64(time.Second) / rate)
	start := time.Now()
	var n uint64
	for time.Since(start) < dur {
		if d := time.Until(start.Add(time.Duration(n) * every)); d > 0 {
			time.Sleep(d)
		}
		n++
		mu.Lock()
		sent[n] = time.Now()
		mu.Unlock()
		msg := &nats.Msg{Subject: durablePrefix + topic, Reply: inbox + strconv.FormatUint(n, 10), Data: payload}
		if err := nc.PublishMsg(msg); err != nil {
			return fmt.Errorf("publishing: %w", err)
		}
	}
	mu.Lock()
	total = n
	if len(rtts)+failed == int(total) {
		close(all)
	}
	mu.Unlock()
	select {
	case <-all:
	case <-time.After(10 * time.Second):
	}
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(rtts)
	r := result{Rate: rate, Seconds: dur.Seconds(), Sent: int(n), Answered: len(rtts), Failed: failed}
	if len(rtts) > 0 {
		q := func(p float64) float64 { return float64(rtts[int(p*float64(len(rtts)-1))].Microseconds()) }
		r.P50, r.P99, r.Max = q(.50), q(.99), float64(rtts[len(rtts)-1].Microseconds())
	}
	return json.NewEncoder(os.Stdout).Encode(r)
}
