package gateway

// Issue 18 part 2: the work and memory of a packet are bounded by the
// packet, not by the session.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	rtmetrics "runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"edgemq/gateway/store"
	"edgemq/gateway/store/bolt"

	"github.com/eclipse/paho.golang/paho"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

// heapPeak samples the live heap every few milliseconds until stop is
// called, and returns the largest sample.
type heapPeak struct {
	peak atomic.Uint64
	stop chan struct{}
	done chan struct{}
}

func heapObjects() uint64 {
	s := []rtmetrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	rtmetrics.Read(s)
	return s[0].Value.Uint64()
}

func startHeapPeak() *heapPeak {
	h := &heapPeak{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(h.done)
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			if v := heapObjects(); v > h.peak.Load() {
				h.peak.Store(v)
			}
			select {
			case <-h.stop:
				return
			case <-t.C:
			}
		}
	}()
	return h
}

func (h *heapPeak) end() uint64 {
	close(h.stop)
	<-h.done
	return h.peak.Load()
}

// rssBytes returns the process's resident set, 0 when unknown.
func rssBytes() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseUint(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// manyFilters and filtersPerPacket: 100,000 filters on one persistent
// session, in SUBSCRIBE packets of about 40 KB (well under the default
// 1 MiB Maximum Packet Size; the 89 KB packet took the gateway
// from 19 MB to 2 GB).
const (
	manyFilters      = 100_000
	filtersPerPacket = 2_000
	// heapBound is the most the live heap may grow, peak included,
	// while 100,000 filters are subscribed and stored: about 2 KB per
	// filter, some 8 times what they measure (router, session and the
	// in-flight store operations of one packet, both client and server
	// side, as the client runs in the test process). Storing the session
	// whole for each filter grows it by hundreds of megabytes within the
	// first packets.
	heapBound = 200 << 20
)

// TestSubscribeManyFiltersBounded subscribes 100,000 filters on a
// persistent session with store.durability sync and checks that the heap
// stays within heapBound, every filter is granted, and all of them are
// restored after a restart. Each SUBSCRIBE costs one store write holding
// its own filters; before, the whole session was copied and written once
// per filter (quadratic).
func TestSubscribeManyFiltersBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("subscribes 100,000 filters")
	}
	cfg := testConfig(t)
	cfg.Session.MaxSubscriptions = 0 // no bound: the test is the memory
	cfg.Session.MaxSubscriptionBytes = 0
	srv, stop := runFor(t, cfg)
	addr := srv.Addr("tcp").String()
	props := &paho.ConnectProperties{SessionExpiryInterval: refOf(uint32(3600))}
	c, _ := crashClient(t, addr, &paho.Connect{ClientID: "many", CleanStart: true, KeepAlive: 60, Properties: props}, nil)

	runtime.GC()
	base, rss0 := heapObjects(), rssBytes()
	peak := startHeapPeak()
	t0 := time.Now()
	for first := 0; first < manyFilters; first += filtersPerPacket {
		s := &paho.Subscribe{}
		for i := first; i < first+filtersPerPacket; i++ {
			s.Subscriptions = append(s.Subscriptions, paho.SubscribeOptions{Topic: fmt.Sprintf("bounds/%d/f%06d", i%100, i), QoS: 1})
		}
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		sa, err := c.Subscribe(ctx, s)
		cancel()
		if err != nil {
			t.Fatalf("subscribe filters %d..: %v", first, err)
		}
		for i, rc := range sa.Reasons {
			if rc != 1 {
				t.Fatalf("filter %d: reason 0x%02x, want granted QoS 1", first+i, rc)
			}
		}
		if p := peak.peak.Load(); p > base+heapBound {
			peak.end()
			t.Fatalf("after %d filters the heap peaked at %d MB, %d MB above the start: over the %d MB bound",
				first+filtersPerPacket, p>>20, (p-base)>>20, heapBound>>20)
		}
	}
	// The subscriptions are stored once the store has written what the
	// SUBSCRIBEs queued: a QoS 1 publish acknowledged after them.
	if _, err := c.Publish(t.Context(), &paho.Publish{Topic: "bounds/fence", QoS: 1, Payload: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	took := time.Since(t0)
	p := peak.end()
	runtime.GC()
	t.Logf("%d filters in %d packets took %v: heap %d MB at start, peak %d MB (+%d MB), after GC %d MB; RSS %d MB -> %d MB",
		manyFilters, manyFilters/filtersPerPacket, took.Round(time.Millisecond), base>>20, p>>20, (p-base)>>20,
		heapObjects()>>20, rss0>>20, rssBytes()>>20)
	if p > base+heapBound {
		t.Fatalf("heap peaked %d MB above the start, over the %d MB bound", (p-base)>>20, heapBound>>20)
	}
	if n := subscriptionCount(srv); n != manyFilters {
		t.Fatalf("%d subscriptions, want %d", n, manyFilters)
	}
	c.Disconnect(&paho.Disconnect{})
	stop()

	cfg.Listeners[0].Address = addr
	srv, stop = runFor(t, cfg)
	defer stop()
	if n := subscriptionCount(srv); n != manyFilters {
		t.Fatalf("%d subscriptions restored, want %d", n, manyFilters)
	}
	got := make(chan string, 1)
	crashClient(t, addr, &paho.Connect{ClientID: "many", KeepAlive: 60, Properties: props}, func(p *paho.Publish) { got <- p.Topic })
	pub, _ := crashClient(t, addr, &paho.Connect{ClientID: "many-pub", CleanStart: true, KeepAlive: 60}, nil)
	if _, err := pub.Publish(t.Context(), &paho.Publish{Topic: "bounds/77/f077777", QoS: 1, Payload: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	select {
	case topic := <-got:
		if topic != "bounds/77/f077777" {
			t.Fatalf("got %q", topic)
		}
	case <-time.After(eventTimeout):
		t.Fatal("the restored subscription got nothing")
	}
}

// countingStore counts the operations queued, by kind, and the
// subscriptions they carry.
type countingStore struct {
	store.Store
	mu    sync.Mutex
	kinds map[store.OpKind]int
	subs  int
}

func (c *countingStore) Apply(ops []store.Op, done func(error)) {
	c.mu.Lock()
	for i := range ops {
		c.kinds[ops[i].Kind]++
		c.subs += len(ops[i].Subs) + len(ops[i].Filters)
	}
	c.mu.Unlock()
	c.Store.Apply(ops, done)
}

func (c *countingStore) take() (map[store.OpKind]int, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k, n := c.kinds, c.subs
	c.kinds, c.subs = make(map[store.OpKind]int), 0
	return k, n
}

// TestSubscribeOneStoreWrite checks that a SUBSCRIBE and an UNSUBSCRIBE
// of 500 filters on a persistent session each queue one store operation
// holding their filters, and no session record: before, each filter
// queued the whole session.
func TestSubscribeOneStoreWrite(t *testing.T) {
	const n = 500
	cfg := testConfig(t)
	db, err := bolt.Open(filepath.Join(cfg.DataDir, StoreFile), 0)
	if err != nil {
		t.Fatal(err)
	}
	cs := &countingStore{Store: db, kinds: make(map[store.OpKind]int)}
	ts := startServerLog(t, cfg, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)), func(*Server) {}, WithStore(cs))
	cp := v5Connect("one-write")
	cp.Properties = &paho.ConnectProperties{SessionExpiryInterval: refOf(uint32(3600))}
	c := connectV5(t, ts, cp)
	c.roundTrip(t)
	cs.take()
	s := &paho.Subscribe{}
	u := &paho.Unsubscribe{}
	for i := range n {
		f := fmt.Sprintf("one/%d", i)
		s.Subscriptions = append(s.Subscriptions, paho.SubscribeOptions{Topic: f, QoS: 1})
		u.Topics = append(u.Topics, f)
	}
	c.subscribeWith(t, s)
	kinds, subs := cs.take()
	if kinds[store.PutSubscriptions] != 1 || subs != n || kinds[store.PutSession] != 0 {
		t.Errorf("SUBSCRIBE of %d filters queued %v carrying %d subscriptions, want one PutSubscriptions with %d", n, kinds, subs, n)
	}
	ctx, cancel := context.WithTimeout(t.Context(), eventTimeout)
	defer cancel()
	if _, err := c.Unsubscribe(ctx, u); err != nil {
		t.Fatal(err)
	}
	kinds, subs = cs.take()
	if kinds[store.DeleteSubscriptions] != 1 || subs != n || kinds[store.PutSession] != 0 {
		t.Errorf("UNSUBSCRIBE of %d filters queued %v carrying %d filters, want one DeleteSubscriptions with %d", n, kinds, subs, n)
	}
}

// TestSubscriptionsStoredAcrossRestart checks what the per-filter store
// writes leave after a restart: UNSUBSCRIBE removes its filters, a clean
// start drops the old session's subscriptions, and a session that becomes
// persistent on takeover (expiry 0 until then) stores those it holds.
func TestSubscriptionsStoredAcrossRestart(t *testing.T) {
	cfg := testConfig(t)
	srv, stop := runFor(t, cfg)
	addr := srv.Addr("tcp").String()
	keep := &paho.ConnectProperties{SessionExpiryInterval: refOf(uint32(3600))}
	subscribe := func(c *paho.Client, filters ...string) {
		t.Helper()
		s := &paho.Subscribe{}
		for _, f := range filters {
			s.Subscriptions = append(s.Subscriptions, paho.SubscribeOptions{Topic: f, QoS: 1})
		}
		if _, err := c.Subscribe(t.Context(), s); err != nil {
			t.Fatal(err)
		}
	}
	a, _ := crashClient(t, addr, &paho.Connect{ClientID: "st-a", CleanStart: true, KeepAlive: 60, Properties: keep}, nil)
	subscribe(a, "a/1", "a/2", "a/3")
	if _, err := a.Unsubscribe(t.Context(), &paho.Unsubscribe{Topics: []string{"a/2", "a/none"}}); err != nil {
		t.Fatal(err)
	}
	b, _ := crashClient(t, addr, &paho.Connect{ClientID: "st-b", CleanStart: true, KeepAlive: 60, Properties: keep}, nil)
	subscribe(b, "b/old")
	b2, _ := crashClient(t, addr, &paho.Connect{ClientID: "st-b", CleanStart: true, KeepAlive: 60, Properties: keep}, nil)
	subscribe(b2, "b/new")
	c, _ := crashClient(t, addr, &paho.Connect{ClientID: "st-c", CleanStart: true, KeepAlive: 60}, nil) // expiry 0
	subscribe(c, "c/1", "c/2")
	c2, _ := crashClient(t, addr, &paho.Connect{ClientID: "st-c", KeepAlive: 60, Properties: keep}, nil) // takes it over, persistent
	// What the store holds is written once a later acknowledgement is.
	if _, err := c2.Publish(t.Context(), &paho.Publish{Topic: "fence", QoS: 1, Payload: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	stop()

	cfg.Listeners[0].Address = addr
	srv, stop = runFor(t, cfg)
	defer stop()
	var got []string
	for _, s := range srv.eng.Broker().Sessions() {
		for _, sub := range s.View().Subs {
			got = append(got, s.ClientID()+":"+sub.Filter)
		}
	}
	slices.Sort(got)
	if want := []string{"st-a:a/1", "st-a:a/3", "st-b:b/new", "st-c:c/1", "st-c:c/2"}; !slices.Equal(got, want) {
		t.Errorf("restored %v, want %v", got, want)
	}
}
