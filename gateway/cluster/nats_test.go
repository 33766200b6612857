package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
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

// Topics and filters of every edge case the mapping handles, routed
// through a real NATS cluster.
var (
	routedTopics = []string{
		"a", "a/b", "a/b/c", "a//b", "/a", "a/", "/", "//", "a.b", ".", "*", ">",
		"a/*/>", "a b", "%", "%25", "température/salle", "日本/東京", "$SYS/broker/uptime",
		"$SYS", "$", "a/$b", "b", "b/a",
	}
	routedFilters = []string{
		"#", "+", "a", "a/#", "a/+", "+/+", "+/#", "/#", "+/b", "a//b", "a.b", "*", ">",
		"$SYS/#", "$SYS/+/uptime", "a/+/>", "日本/+", "%", "+/$b", "//",
	}
)

// TestMappingMatchesMQTTAcrossServers subscribes on server 1 with the
// subjects of each filter, publishes every topic's subject on server 3,
// and checks that each subscription receives exactly the topics
// mqtt.Match says its filter matches, each once.
func TestMappingMatchesMQTTAcrossServers(t *testing.T) {
	c := clustertest.Start(t, 3)
	sub, pub := c.Connect(t, 0), c.Connect(t, 2)

	// All on one channel, so that the order the server delivered in is
	// kept: the sentinel comes after every topic.
	ch := make(chan *nats.Msg, len(routedTopics)*len(routedFilters)*2+1)
	filterOf := map[*nats.Subscription]string{}
	var subjects []string
	for _, f := range routedFilters {
		if err := mqtt.ValidTopicFilter(f); err != nil {
			t.Fatalf("%q: %v", f, err)
		}
		for _, s := range cluster.FilterSubjects(f) {
			ns, err := sub.ChanSubscribe(s, ch)
			if err != nil {
				t.Fatalf("subscribing %q (filter %q): %v", s, f, err)
			}
			filterOf[ns] = f
			subjects = append(subjects, s)
		}
	}
	const sentinel = "sentinel.done"
	if _, err := sub.ChanSubscribe(sentinel, ch); err != nil {
		t.Fatal(err)
	}
	if err := sub.Flush(); err != nil {
		t.Fatal(err)
	}
	// Server 3 has interest in a literal subject of each filter subject's
	// shape, and in the sentinel, subscribed last: subscriptions cross a
	// route in order, so every filter's has arrived with it.
	probes := []string{sentinel}
	for _, s := range subjects {
		probes = append(probes, probe(s))
	}
	clustertest.WaitInterest(t, c.Servers[2], probes...)

	for _, topic := range routedTopics {
		if err := mqtt.ValidTopicName(topic); err != nil {
			t.Fatalf("%q: %v", topic, err)
		}
		if err := pub.Publish(cluster.TopicSubject(topic), []byte(topic)); err != nil {
			t.Fatal(err)
		}
	}
	if err := pub.Publish(sentinel, nil); err != nil {
		t.Fatal(err)
	}

	got := map[string][]string{}
	deadline := time.After(clustertest.Timeout)
	for done := false; !done; {
		select {
		case m := <-ch:
			if m.Subject == sentinel {
				done = true
				continue
			}
			topic, err := cluster.SubjectTopic(m.Subject)
			if err != nil || topic != string(m.Data) {
				t.Errorf("subject %q maps back to %q, %v; published as %q", m.Subject, topic, err, m.Data)
			}
			f := filterOf[m.Sub]
			got[f] = append(got[f], topic)
		case <-deadline:
			t.Fatal("the sentinel did not arrive")
		}
	}
	for _, f := range routedFilters {
		var want []string
		for _, topic := range routedTopics {
			if mqtt.Match(f, topic) {
				want = append(want, topic)
			}
		}
		slices.Sort(want)
		slices.Sort(got[f])
		if !slices.Equal(got[f], want) {
			t.Errorf("filter %q received %q, mqtt.Match says %q", f, got[f], want)
		}
	}
}

// probe returns a literal subject the subscription subject matches.
func probe(subject string) string {
	toks := strings.Split(subject, ".")
	for i, t := range toks {
		if t == "*" || t == ">" {
			toks[i] = "probe"
		}
	}
	return strings.Join(toks, ".")
}

// TestLayout creates the layout twice (every node does at start) and
// checks what the design relies on: one retained message per topic
// read with a direct get, QoS 1/2 messages deduplicated by Nats-Msg-Id
// and republished to their live subject with their sequence, and a
// liveness bucket with per-key TTLs.
func TestLayout(t *testing.T) {
	c := clustertest.Start(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), clustertest.Timeout)
	defer cancel()
	js := newJS(t, c.Connect(t, 0))
	opts := cluster.LayoutOptions{Replicas: 3, DuplicateWindow: time.Minute}
	l, err := cluster.EnsureLayout(ctx, js, opts)
	if err != nil {
		t.Fatal(err)
	}
	// Again, from another server: idempotent.
	js3 := newJS(t, c.Connect(t, 2))
	if _, err := cluster.EnsureLayout(ctx, js3, opts); err != nil {
		t.Fatalf("second EnsureLayout: %v", err)
	}

	t.Run("streams", func(t *testing.T) {
		ri, err := l.Retained.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if cfg := ri.Config; cfg.MaxMsgsPerSubject != 1 || !cfg.AllowDirect || cfg.Replicas != 3 {
			t.Errorf("retained stream config %+v", cfg)
		}
		mi, err := l.Messages.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if cfg := mi.Config; cfg.Duplicates != time.Minute || cfg.Replicas != 3 || cfg.RePublish == nil {
			t.Errorf("messages stream config %+v", cfg)
		}
		ns, err := l.Nodes.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ns.LimitMarkerTTL() == 0 {
			t.Errorf("nodes bucket: no per-key TTLs")
		}
	})

	t.Run("retained keeps the last per topic", func(t *testing.T) {
		for _, topic := range []string{"r/a", "r/a", "r//b", "$SYS/r"} {
			if _, err := js3.Publish(ctx, cluster.RetainedSubject(topic), []byte(topic+" latest")); err != nil {
				t.Fatal(err)
			}
		}
		for _, topic := range []string{"r/a", "r//b", "$SYS/r"} {
			m, err := l.Retained.GetLastMsgForSubject(ctx, cluster.RetainedSubject(topic))
			if err != nil {
				t.Errorf("retained %q: %v", topic, err)
			} else if string(m.Data) != topic+" latest" {
				t.Errorf("retained %q: %q", topic, m.Data)
			}
		}
		info, err := l.Retained.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.State.Msgs != 3 {
			t.Errorf("retained stream holds %d messages, want 3 (one per topic)", info.State.Msgs)
		}
	})

	t.Run("messages are stored once and republished live", func(t *testing.T) {
		live := c.Connect(t, 1)
		ch := make(chan *nats.Msg, 4)
		s, err := live.ChanSubscribe(cluster.TopicSubject("q/a.b"), ch)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Unsubscribe()
		if err := live.Flush(); err != nil {
			t.Fatal(err)
		}
		// The stream leader republishes: wait for the interest everywhere.
		for _, srv := range c.Servers {
			clustertest.WaitInterest(t, srv, cluster.TopicSubject("q/a.b"))
		}
		var seqs []uint64
		for i := range 2 { // the second is a DUP retransmission
			ack, err := js.Publish(ctx, cluster.DurableSubject("q/a.b"), []byte("once"), jetstream.WithMsgID("client-1/7"))
			if err != nil {
				t.Fatal(err)
			}
			if ack.Duplicate != (i == 1) {
				t.Errorf("publish %d: duplicate %v", i, ack.Duplicate)
			}
			seqs = append(seqs, ack.Sequence)
		}
		if seqs[0] != seqs[1] {
			t.Errorf("retransmission stored at %d, first at %d", seqs[1], seqs[0])
		}
		select {
		case m := <-ch:
			if got := m.Header.Get(jetstream.SequenceHeader); got != fmt.Sprint(seqs[0]) {
				t.Errorf("republished with sequence %q, stored at %d", got, seqs[0])
			}
			if topic, err := cluster.SubjectTopic(m.Subject); err != nil || topic != "q/a.b" {
				t.Errorf("republished on %q (%q, %v)", m.Subject, topic, err)
			}
		case <-time.After(clustertest.Timeout):
			t.Fatal("the stored message was not republished")
		}
		info, err := l.Messages.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.State.Msgs != 1 {
			t.Errorf("messages stream holds %d, want 1", info.State.Msgs)
		}
	})
}

func newJS(tb testing.TB, nc *nats.Conn) jetstream.JetStream {
	tb.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatal(err)
	}
	return js
}

// layout starts a 3-server cluster and creates the layout on it.
func layout(tb testing.TB, c *clustertest.Cluster) (*cluster.Layout, []jetstream.JetStream) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clustertest.Timeout)
	defer cancel()
	var jss []jetstream.JetStream
	for i := range c.Servers {
		jss = append(jss, newJS(tb, c.Connect(tb, i)))
	}
	l, err := cluster.EnsureLayout(ctx, jss[0], cluster.LayoutOptions{Replicas: len(c.Servers)})
	if err != nil {
		tb.Fatal(err)
	}
	return l, jss
}

// TestFencing races two writers on two servers for one session record,
// round after round, each naming the revision both read: exactly one
// write wins each round and the other gets ErrStale.
func TestFencing(t *testing.T) {
	c := clustertest.Start(t, 3)
	_, jss := layout(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), clustertest.Timeout)
	defer cancel()
	var recs []cluster.Records
	for _, i := range []int{0, 2} {
		kv, err := jss[i].KeyValue(ctx, cluster.SessionsBucket)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, cluster.NewRecords(kv))
	}
	key := cluster.SessionKey("sensor:1/ü")
	rev, err := recs[0].Create(ctx, key, []byte("owner n1"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := recs[1].Create(ctx, key, []byte("owner n3")); !errors.Is(err, cluster.ErrStale) {
		t.Fatalf("second create: %v, want ErrStale", err)
	}
	for round := range 20 {
		var wg sync.WaitGroup
		revs, errs := make([]uint64, 2), make([]error, 2)
		for w := range 2 {
			wg.Go(func() {
				revs[w], errs[w] = recs[w].Update(ctx, key, []byte(fmt.Sprintf("round %d writer %d", round, w)), rev)
			})
		}
		wg.Wait()
		won := -1
		for w, err := range errs {
			switch {
			case err == nil:
				if won >= 0 {
					t.Fatalf("round %d: both writers won", round)
				}
				won = w
			case !errors.Is(err, cluster.ErrStale):
				t.Fatalf("round %d writer %d: %v", round, w, err)
			}
		}
		if won < 0 {
			t.Fatalf("round %d: no writer won: %v", round, errs)
		}
		// The loser reads the winner's record (reads are direct gets, and
		// the replica answering may not have applied the write yet).
		var got cluster.Record
		clustertest.Eventually(t, func() bool {
			got, err = recs[1-won].Get(ctx, key)
			return err == nil && got.Revision == revs[won] && string(got.Value) == fmt.Sprintf("round %d writer %d", round, won)
		}, func() string {
			return fmt.Sprintf("round %d: record %q at %d, %v; winner %d wrote at %d", round, got.Value, got.Revision, err, won, revs[won])
		})
		// Asked of the leader, the record is the winner's at once.
		if got, err := recs[1-won].Latest(ctx, jss[2*(1-won)].Conn(), key); err != nil || got.Revision != revs[won] {
			t.Fatalf("round %d: the leader holds %q at %d, %v; winner %d wrote at %d", round, got.Value, got.Revision, err, won, revs[won])
		}
		rev = revs[won]
	}
	if err := recs[0].Delete(ctx, key, rev-1); !errors.Is(err, cluster.ErrStale) {
		t.Errorf("delete at a stale revision: %v, want ErrStale", err)
	}
	if err := recs[0].Delete(ctx, key, rev); err != nil {
		t.Errorf("delete at the current revision: %v", err)
	}
	clustertest.Eventually(t, func() bool {
		_, err = recs[1].Get(ctx, key)
		return errors.Is(err, cluster.ErrNoRecord)
	}, func() string { return fmt.Sprintf("get after delete: %v, want ErrNoRecord", err) })
	if _, err := recs[1].Latest(ctx, jss[2].Conn(), key); !errors.Is(err, cluster.ErrNoRecord) {
		t.Errorf("the leader's record after delete: %v, want ErrNoRecord", err)
	}
	if _, err := recs[1].Latest(ctx, jss[2].Conn(), cluster.SessionKey("never")); !errors.Is(err, cluster.ErrNoRecord) {
		t.Errorf("the leader's record of a key never written: %v, want ErrNoRecord", err)
	}
}

// TestLiveness: a node's record is renewed while it runs, lapses after
// its TTL once it stops (seen through a watch), and a second process with
// the same name waits for the lapse; a record written by someone else
// fences the runner.
func TestLiveness(t *testing.T) {
	c := clustertest.Start(t, 3)
	l, jss := layout(t, c)
	log := zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	ctx, cancel := context.WithTimeout(context.Background(), clustertest.Timeout)
	defer cancel()
	nodes3, err := jss[2].KeyValue(ctx, cluster.NodesBucket)
	if err != nil {
		t.Fatal(err)
	}
	events, err := cluster.WatchNodes(ctx, nodes3)
	if err != nil {
		t.Fatal(err)
	}
	const heartbeat, ttl = 100 * time.Millisecond, time.Second
	a := cluster.NewLiveness(jss[0], l.Nodes, "node-a", heartbeat, ttl, log)
	if err := a.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() { ran <- a.Run(runCtx) }()

	// Renewals arrive as new revisions; wait for several.
	next := func() cluster.NodeEvent {
		t.Helper()
		select {
		case ev := <-events:
			return ev
		case <-ctx.Done():
			t.Fatal("no node event before the deadline")
		}
		return cluster.NodeEvent{}
	}
	var last uint64
	for renewals := 0; renewals < 5; {
		ev := next()
		if ev.Node != "node-a" || !ev.Live {
			t.Fatalf("event %+v while node-a renews", ev)
		}
		if ev.Revision <= last {
			t.Fatalf("revision %d after %d", ev.Revision, last)
		}
		last = ev.Revision
		renewals++
	}

	// The same name elsewhere cannot acquire while node-a renews.
	b := cluster.NewLiveness(jss[2], nodes3, "node-a", heartbeat, ttl, log)
	short, cancelShort := context.WithTimeout(ctx, 3*heartbeat)
	if err := b.Acquire(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a second node-a acquired while the first renews: %v", err)
	}
	cancelShort()

	stop()
	if err := <-ran; err != nil {
		t.Fatalf("Run: %v", err)
	}
	// No more renewals: the record lapses by itself.
	for ev := next(); ev.Live; ev = next() {
		if ev.Node != "node-a" {
			t.Fatalf("event %+v", ev)
		}
	}
	// A read may be served by a replica that has not applied the lapse
	// yet: poll, with a deadline.
	lapseSeen := time.Now().Add(10 * time.Second)
	for {
		_, err := l.Nodes.Get(ctx, cluster.NodeKey("node-a"))
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			break
		}
		if time.Now().After(lapseSeen) {
			t.Errorf("lapsed record still readable: %v", err)
			break
		}
		time.Sleep(10 * time.Millisecond)
	}

	// Now the second process acquires, and a foreign write fences it.
	if err := b.Acquire(ctx); err != nil {
		t.Fatalf("acquire after the lapse: %v", err)
	}
	if ev := next(); !ev.Live || ev.Node != "node-a" {
		t.Fatalf("event %+v after the second acquire", ev)
	}
	bran := make(chan error, 1)
	go func() { bran <- b.Run(ctx) }()
	if _, err := l.Nodes.Put(ctx, cluster.NodeKey("node-a"), []byte(`{"node":"intruder"}`)); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-bran:
		if !errors.Is(err, cluster.ErrFenced) {
			t.Errorf("Run after a foreign write: %v, want ErrFenced", err)
		}
	case <-ctx.Done():
		t.Fatal("Run did not notice the foreign write")
	}
	if err := b.Release(ctx); !errors.Is(err, cluster.ErrFenced) {
		t.Errorf("Release of a taken record: %v, want ErrFenced", err)
	}
}

// TestLivenessAdoptsALostAcknowledgement: a renewal the stream stored but
// whose acknowledgement the node never saw leaves the node one revision
// behind; the next renewal and the release recognise the record as the
// node's own and carry on, where a foreign write fences (TestLiveness).
func TestLivenessAdoptsALostAcknowledgement(t *testing.T) {
	c := clustertest.Start(t, 1)
	l, jss := layout(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), clustertest.Timeout)
	defer cancel()
	a := cluster.NewLiveness(jss[0], l.Nodes, "node-a", time.Second, 5*time.Second, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)))
	if err := a.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	first := a.Revision()
	if err := a.Renew(ctx); err != nil {
		t.Fatal(err)
	}
	stored := a.Revision()
	a.ForgetRevision(first) // the acknowledgement of the renewal at stored was lost
	if err := a.Renew(ctx); err != nil {
		t.Fatalf("renewal after a lost acknowledgement: %v, want the revision adopted", err)
	}
	if got := a.Revision(); got != stored {
		t.Errorf("revision %d after adopting, want %d", got, stored)
	}
	if err := a.Renew(ctx); err != nil {
		t.Fatalf("renewal after adopting: %v", err)
	}
	a.ForgetRevision(first)
	if err := a.Release(ctx); err != nil {
		t.Fatalf("release after a lost acknowledgement: %v", err)
	}
	var err error
	clustertest.Eventually(t, func() bool {
		_, err = l.Nodes.Get(ctx, cluster.NodeKey("node-a"))
		return errors.Is(err, jetstream.ErrKeyNotFound)
	}, func() string { return fmt.Sprintf("record after release: %v, want none", err) })
}
