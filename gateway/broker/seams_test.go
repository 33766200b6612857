package broker

import (
	"slices"
	"sync"
	"testing"
	"time"

	"edgemq/gateway/stats"
	"edgemq/mqtt"

	"go.uber.org/zap"
)

// interestLog records the Interest events in order.
type interestLog struct {
	mu     sync.Mutex
	events []string
}

func (l *interestLog) FilterAdded(f string)     { l.add("+" + f) }
func (l *interestLog) FilterRemoved(f string)   { l.add("-" + f) }
func (l *interestLog) GroupAdded(g, f string)   { l.add("+" + g + ":" + f) }
func (l *interestLog) GroupRemoved(g, f string) { l.add("-" + g + ":" + f) }
func (l *interestLog) add(e string) {
	l.mu.Lock()
	l.events = append(l.events, e)
	l.mu.Unlock()
}

func (l *interestLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.events
	l.events = nil
	return e
}

// TestInterest: the broker tells its Interest of a filter's first
// subscription and of its last going, through SUBSCRIBE, UNSUBSCRIBE and
// a session's end, and of a shared group's first and last member apart
// from the filter's plain subscriptions.
func TestInterest(t *testing.T) {
	log := &interestLog{}
	b := New(Config{MaxPending: 10, Interest: log}, &stats.Counters{}, allowReads{}, zap.NewNop())
	open := func(id string) (*Session, *testClient) {
		c := &testClient{window: 10, room: 10}
		s, _, err := b.Open(OpenRequest{ClientID: id, Clean: true, Client: c, Owner: &Owner{}}, func(*Session, bool) {})
		if err != nil {
			t.Fatal(err)
		}
		return s, c
	}
	subscribe := func(s *Session, filter string) {
		t.Helper()
		err := b.Subscribing(func() error {
			if _, full := b.Subscribe(s, NewSubscription(SubOptions{Filter: filter, QoS: 1})); full {
				t.Fatalf("subscription to %q refused", filter)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	a, ac := open("a")
	c, _ := open("c")
	steps := []struct {
		do   func()
		want []string
	}{
		{func() { subscribe(a, "x/+") }, []string{"+x/+"}},
		{func() { subscribe(c, "x/+") }, nil},
		{func() { subscribe(a, "x/+") }, nil}, // a replacement [MQTT-3.8.4-3]
		{func() { subscribe(c, "$share/g/x/+") }, []string{"+g:x/+"}},
		{func() { subscribe(a, "$share/g/x/+") }, nil}, // a second member
		{func() { subscribe(c, "$share/g/y") }, []string{"+g:y"}},
		{func() { b.Unsubscribe(a, "x/+") }, nil},
		{func() { b.Unsubscribe(c, "x/+") }, []string{"-x/+"}}, // the group is apart
		{func() { b.Unsubscribe(c, "$share/g/x/+") }, nil},
		{func() { b.Unsubscribe(a, "$share/g/x/+") }, []string{"-g:x/+"}},
		{func() { b.Unsubscribe(c, "nothing") }, nil},
		{func() { subscribe(a, "z/#") }, []string{"+z/#"}},
		// a ends (expiry 0): its filters go with it.
		{func() { b.Detach(a, ac, nil) }, []string{"-z/#"}},
	}
	for i, st := range steps {
		st.do()
		if got := log.take(); !slices.Equal(got, st.want) {
			t.Fatalf("step %d: events %q, want %q", i, got, st.want)
		}
	}
}

// TestInProcessSeams: the in-process Publisher routes to the sessions
// its Subscriptions registered, and says a QoS 1 message may be
// acknowledged at once in memory mode (no completion).
func TestInProcessSeams(t *testing.T) {
	b := testBroker()
	var pub Publisher = b
	var subs Subscriptions = b
	var sessions Sessions = b
	c := &testClient{window: 10, room: 10}
	s, prev, err := sessions.Open(OpenRequest{ClientID: "s", Clean: true, Client: c, Owner: &Owner{Identity: "user:s"}}, func(*Session, bool) {})
	if err != nil || prev != nil {
		t.Fatalf("open: prev %v, err %v", prev, err)
	}
	if err := subs.Subscribing(func() error { subs.Subscribe(s, NewSubscription(SubOptions{Filter: "t/#", QoS: 1})); return nil }); err != nil {
		t.Fatal(err)
	}
	end := pub.Begin()
	var buf []Match
	n := pub.RouteAt(NewMessage(&mqtt.Publish{Topic: "t/1", QoS: 1, Payload: []byte("x")}, "p", time.Now()), &buf, time.Now())
	end()
	if n != 1 {
		t.Fatalf("routed to %d sessions, want 1", n)
	}
	if pub.Durable() || pub.AfterCommit("", func(error) { t.Error("a completion in memory mode") }) {
		t.Error("memory mode waits for a store")
	}
	if v := s.View(); v.Inflight != 1 {
		t.Errorf("%d in flight, want the message", v.Inflight)
	}
	// A second connection of the same identity takes the session over.
	c2 := &testClient{window: 10, room: 10}
	s2, prev, err := sessions.Open(OpenRequest{ClientID: "s", Client: c2, Owner: &Owner{Identity: "user:s"}}, func(_ *Session, present bool) {
		if !present {
			t.Error("the session was not resumed")
		}
	})
	if err != nil || s2 != s || prev != Client(c) {
		t.Fatalf("takeover: session %p (want %p), prev %v, err %v", s2, s, prev, err)
	}
}
