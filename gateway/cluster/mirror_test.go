package cluster_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"edgemq/gateway/cluster"
	"edgemq/gateway/cluster/clustertest"
	"edgemq/mqtt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

// mirrorState is a MirrorHandler applying entries to a map, as a node's
// retained store would.
type mirrorState struct {
	mu      sync.Mutex
	topics  map[string]string
	synced  int
	atSync  map[string]string
	entries int
	reads   int
	origins map[string]int
}

func newMirrorState() *mirrorState {
	return &mirrorState{topics: map[string]string{}, origins: map[string]int{}}
}

func (s *mirrorState) Entry(e cluster.RetainedEntry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.entries++
	s.origins[e.Origin]++
	if e.Deleted() {
		delete(s.topics, e.Topic)
		return
	}
	p, _, err := cluster.DecodeRetained(e.Value)
	if err != nil {
		s.topics[e.Topic] = "undecodable: " + err.Error()
		return
	}
	s.topics[e.Topic] = string(p.Payload)
}

// Reading counts the full reads; the topics are kept (a full read
// brings every current one again).
func (s *mirrorState) Reading() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads++
}

func (s *mirrorState) Synced(uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.synced++
	s.atSync = maps.Clone(s.topics)
}

func (s *mirrorState) snapshot() (topics map[string]string, synced int, atSync map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.topics), s.synced, s.atSync
}

// retainedWriter stores retained messages as a node does.
type retainedWriter struct {
	js   jetstream.JetStream
	node string
	seq  uint64
}

func (w *retainedWriter) put(tb testing.TB, topic, payload string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clustertest.Timeout)
	defer cancel()
	w.seq++
	v, err := cluster.EncodeRetained(&mqtt.Publish{Topic: topic, Payload: []byte(payload), QoS: 1, Retain: true}, "client-"+w.node)
	if err != nil {
		tb.Fatal(err)
	}
	msg := &nats.Msg{Subject: cluster.RetainedSubject(topic), Data: v, Header: cluster.RetainedHeader(w.node, w.seq)}
	if _, err := w.js.PublishMsg(ctx, msg); err != nil {
		tb.Fatalf("storing retained %q: %v", topic, err)
	}
}

// putMany stores topic i with payload(i) for i in [0, n), asynchronously,
// waiting for every acknowledgement.
func (w *retainedWriter) putMany(tb testing.TB, n int, topic, payload func(int) string) {
	tb.Helper()
	futures := make([]jetstream.PubAckFuture, 0, n)
	for i := range n {
		w.seq++
		v, err := cluster.EncodeRetained(&mqtt.Publish{Topic: topic(i), Payload: []byte(payload(i)), Retain: true}, "c")
		if err != nil {
			tb.Fatal(err)
		}
		f, err := w.js.PublishMsgAsync(&nats.Msg{Subject: cluster.RetainedSubject(topic(i)), Data: v, Header: cluster.RetainedHeader(w.node, w.seq)})
		if err != nil {
			tb.Fatal(err)
		}
		futures = append(futures, f)
	}
	ctx, cancel := context.WithTimeout(context.Background(), clustertest.Timeout)
	defer cancel()
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			tb.Fatalf("storing retained: %v", err)
		case <-ctx.Done():
			tb.Fatal("no acknowledgement of a retained message")
		}
	}
}

func runMirror(tb testing.TB, js jetstream.JetStream, h cluster.MirrorHandler) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	m := cluster.NewRetainedMirror(js, h, zaptest.NewLogger(tb, zaptest.Level(zap.WarnLevel)))
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("mirror Run: %v", err)
		}
	})
}

// TestRetainedMirror: a node's mirror starts on a stream holding more
// than one direct-get batch (1,024) of topics, some overwritten and some
// deleted, and reads exactly the current set before Synced; then changes
// stored on another server (overwrite, deletion, new topic) reach it.
func TestRetainedMirror(t *testing.T) {
	c := clustertest.Start(t, 3)
	_, jss := layout(t, c)
	w1 := &retainedWriter{js: jss[0], node: "n1"}
	w2 := &retainedWriter{js: jss[1], node: "n2"}

	const n = 1500
	topic := func(i int) string { return fmt.Sprintf("site/%d/temp", i) }
	w1.putMany(t, n, topic, func(i int) string { return fmt.Sprintf("v1-%d", i) })
	// Every third overwritten from another server, every fifth deleted.
	w2.putMany(t, n/3, func(i int) string { return topic(3 * i) }, func(i int) string { return fmt.Sprintf("v2-%d", 3*i) })
	w2.putMany(t, n/5, func(i int) string { return topic(5 * i) }, func(int) string { return "" })
	// Edge-case topics.
	odd := []string{"a//b", "/", "$SYS/x", "a.b c", "日本/東京", "%", "*", ">"}
	for _, tp := range odd {
		w1.put(t, tp, "odd "+tp)
	}
	want := map[string]string{}
	for i := range n {
		switch {
		case i%5 == 0:
		case i%3 == 0:
			want[topic(i)] = fmt.Sprintf("v2-%d", i)
		default:
			want[topic(i)] = fmt.Sprintf("v1-%d", i)
		}
	}
	for _, tp := range odd {
		want[tp] = "odd " + tp
	}

	st := newMirrorState()
	runMirror(t, jss[2], st)
	clustertest.Eventually(t, func() bool { _, synced, _ := st.snapshot(); return synced > 0 },
		func() string { return "the mirror never reported Synced" })
	_, synced, atSync := st.snapshot()
	if synced != 1 {
		t.Errorf("Synced called %d times", synced)
	}
	if !maps.Equal(atSync, want) {
		t.Errorf("at Synced the mirror holds %d topics, want %d; first difference: %s", len(atSync), len(want), firstDiff(atSync, want))
	}
	st.mu.Lock()
	if st.entries > n+len(odd) {
		t.Errorf("the mirror read %d entries for %d topics: not the last per subject", st.entries, n+len(odd))
	}
	st.mu.Unlock()

	// Live changes, stored through another server.
	w2.put(t, topic(1), "live")
	want[topic(1)] = "live"
	w2.putMany(t, 1, func(int) string { return topic(2) }, func(int) string { return "" })
	delete(want, topic(2))
	w1.put(t, "new/topic", "fresh")
	want["new/topic"] = "fresh"
	clustertest.Eventually(t, func() bool { got, _, _ := st.snapshot(); return maps.Equal(got, want) },
		func() string { got, _, _ := st.snapshot(); return "live changes missing: " + firstDiff(got, want) })
	if _, synced, _ := st.snapshot(); synced != 1 {
		t.Errorf("Synced called %d times", synced)
	}
	st.mu.Lock()
	if st.origins["n1"] == 0 || st.origins["n2"] == 0 || st.origins[""] != 0 {
		t.Errorf("origins read %v, want n1 and n2 only", st.origins)
	}
	st.mu.Unlock()
}

// TestRetainedMirrorEmptyStream: on an empty stream Synced comes at once.
func TestRetainedMirrorEmptyStream(t *testing.T) {
	c := clustertest.Start(t, 1)
	_, jss := layout(t, c)
	st := newMirrorState()
	runMirror(t, jss[0], st)
	clustertest.Eventually(t, func() bool { _, synced, _ := st.snapshot(); return synced == 1 },
		func() string { return "no Synced on an empty stream" })
	w := &retainedWriter{js: jss[0], node: "n1"}
	w.put(t, "x", "1")
	clustertest.Eventually(t, func() bool { got, _, _ := st.snapshot(); return got["x"] == "1" },
		func() string { return "the first live message did not arrive" })
}

// TestRetainedMirrorAcrossACut: a mirror whose link is cut while other
// servers change the stream catches up once the link heals, deletions
// included.
func TestRetainedMirrorAcrossACut(t *testing.T) {
	c := clustertest.Start(t, 3)
	_, jss := layout(t, c)
	w1 := &retainedWriter{js: jss[0], node: "n1"}
	for i := range 10 {
		w1.put(t, fmt.Sprintf("cut/%d", i), "before")
	}
	proxy := clustertest.NewProxy(t, strings.TrimPrefix(c.Servers[2].ClientURL(), "nats://"))
	down := make(chan struct{}, 4)
	nc := clustertest.ConnectURL(t, proxy.URL(), nats.PingInterval(100*time.Millisecond), nats.MaxPingsOutstanding(2),
		nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond),
		nats.DisconnectErrHandler(func(*nats.Conn, error) { down <- struct{}{} }))
	st := newMirrorState()
	runMirror(t, newJS(t, nc), st)
	clustertest.Eventually(t, func() bool { got, _, _ := st.snapshot(); return len(got) == 10 },
		func() string {
			got, _, _ := st.snapshot()
			return fmt.Sprintf("mirror holds %d topics before the cut, want 10", len(got))
		})

	proxy.Cut()
	select {
	case <-down:
	case <-t.Context().Done():
		t.Fatal("the cut went unnoticed")
	}
	want := map[string]string{}
	for i := range 10 {
		switch {
		case i%2 == 0:
			w1.putMany(t, 1, func(int) string { return fmt.Sprintf("cut/%d", i) }, func(int) string { return "" })
		default:
			w1.put(t, fmt.Sprintf("cut/%d", i), "during")
			want[fmt.Sprintf("cut/%d", i)] = "during"
		}
	}
	w1.put(t, "cut/new", "during")
	want["cut/new"] = "during"
	if got, _, _ := st.snapshot(); maps.Equal(got, want) {
		t.Fatal("the mirror saw the changes through a cut link")
	}
	proxy.Heal()
	clustertest.Eventually(t, func() bool { got, _, _ := st.snapshot(); return maps.Equal(got, want) },
		func() string { got, _, _ := st.snapshot(); return "after healing: " + firstDiff(got, want) })
}

func firstDiff(got, want map[string]string) string {
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			return fmt.Sprintf("%q: got %q (present %v), want %q", k, g, ok, v)
		}
	}
	for k, v := range got {
		if _, ok := want[k]; !ok {
			return fmt.Sprintf("%q: got %q, want none", k, v)
		}
	}
	return "none"
}

// TestRetainedCodec: what a node stores decodes to the same PUBLISH and
// client id; damaged values are refused with ErrBadRetained.
func TestRetainedCodec(t *testing.T) {
	props := mqtt.Properties{}
	props.SetUint32(mqtt.PropMessageExpiryInterval, 60)
	props.UserProperties = []mqtt.UserProperty{{Key: "k", Value: "v"}}
	props.SetString(mqtt.PropContentType, "text/plain")
	cases := []struct {
		name string
		pub  mqtt.Publish
		from string
	}{
		{"qos0", mqtt.Publish{Topic: "a/b", Payload: []byte("x")}, "c1"},
		{"qos1 with properties", mqtt.Publish{Topic: "a//b", Payload: []byte("hello"), QoS: 1, PacketID: 77, Dup: true, Properties: props}, "client"},
		{"qos2 empty client id", mqtt.Publish{Topic: "$SYS/x", Payload: bytes.Repeat([]byte{0, 1}, 70000), QoS: 2}, ""},
		{"client id with a newline", mqtt.Publish{Topic: "t", Payload: []byte{0}}, "a\nb\r\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, err := cluster.EncodeRetained(&tc.pub, tc.from)
			if err != nil {
				t.Fatal(err)
			}
			p, from, err := cluster.DecodeRetained(v)
			if err != nil {
				t.Fatal(err)
			}
			if from != tc.from || p.Topic != tc.pub.Topic || !bytes.Equal(p.Payload, tc.pub.Payload) || p.QoS != tc.pub.QoS ||
				!p.Retain || p.Dup || p.PacketID != 0 {
				t.Errorf("decoded %+v from %q", p, from)
			}
			if p.Properties.MessageExpiryInterval != tc.pub.Properties.MessageExpiryInterval ||
				p.Properties.ContentType != tc.pub.Properties.ContentType ||
				len(p.Properties.UserProperties) != len(tc.pub.Properties.UserProperties) {
				t.Errorf("properties %+v, want %+v", p.Properties, tc.pub.Properties)
			}
			for cut := range min(len(v), 40) {
				if _, _, err := cluster.DecodeRetained(v[:cut]); !errors.Is(err, cluster.ErrBadRetained) {
					t.Fatalf("value cut at %d: %v, want ErrBadRetained", cut, err)
				}
			}
		})
	}
	if v, err := cluster.EncodeRetained(&mqtt.Publish{Topic: "t"}, "c"); err != nil || len(v) != 0 {
		t.Errorf("an empty payload (deletion) encodes as %q, %v; want empty", v, err)
	}
	if _, _, err := cluster.DecodeRetained([]byte{9, 0, 0, 0x30, 0}); !errors.Is(err, cluster.ErrBadRetained) {
		t.Errorf("unknown version: %v", err)
	}
}
