package broker

import (
	"slices"
	"testing"
	"time"

	"edgemq/mqtt"
)

// seqMessage is a QoS 1 message of topic with cluster sequence seq.
func seqMessage(topic string, seq uint64) *Message {
	m := NewMessage(&mqtt.Publish{QoS: 1, Topic: topic, Payload: []byte{byte(seq)}}, "p", time.Now())
	m.SetSeq(seq)
	return m
}

// pendingSeqs returns the sequences of s's pending deliveries.
func pendingSeqs(s *Session) []uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []uint64
	for _, d := range s.st.pending {
		out = append(out, d.msg.seq)
	}
	return out
}

// TestAdoptReplay: an adopted session holds live deliveries while its
// stored messages are replayed; at the end the held ones go after the
// replayed ones, those replayed already are dropped (also when they
// arrive live later), and the cursor follows what is owed.
func TestAdoptReplay(t *testing.T) {
	cases := []struct {
		name     string
		replay   []uint64 // replayed, in order
		live     []uint64 // arriving live during the replay
		through  uint64   // the replay's end
		late     []uint64 // arriving live after it
		want     []uint64 // pending, in order
		wantHigh uint64   // cursor with everything pending acknowledged
	}{
		{"no overlap", []uint64{3, 4}, []uint64{6, 7}, 5, []uint64{8}, []uint64{3, 4, 6, 7, 8}, 8},
		{"overlap dropped", []uint64{3, 4, 5}, []uint64{4, 5, 6}, 5, []uint64{5, 9}, []uint64{3, 4, 5, 6, 9}, 9},
		{"nothing to replay", nil, []uint64{2}, 1, nil, []uint64{2}, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := testBroker()
			b.TrackClusterSeqs()
			s := b.Adopt(Adoption{ClientID: "c", Expiry: 60, Subs: []SubOptions{{Filter: "t/#", QoS: 1}}})
			if s == nil {
				t.Fatal("not adopted")
			}
			if b.Adopt(Adoption{ClientID: "c"}) != nil {
				t.Fatal("adopted twice")
			}
			// Adopt keeps the subscriptions unrouted: Subscribe routes.
			_ = b.Subscribing(func() error {
				b.Subscribe(s, NewSubscription(SubOptions{Filter: "t/#", QoS: 1}))
				return nil
			})
			var buf []Match
			for _, seq := range tc.live {
				b.Route(seqMessage("t/x", seq), &buf)
			}
			for _, seq := range tc.replay {
				if !b.ReplayTo(s, seqMessage("t/x", seq)) {
					t.Fatalf("replay of %d not delivered", seq)
				}
			}
			if b.ReplayTo(s, seqMessage("other", 99)) {
				t.Fatal("a message no subscription matches was replayed")
			}
			s.EndReplay(tc.through)
			for _, seq := range tc.late {
				b.Route(seqMessage("t/x", seq), &buf)
			}
			if got := pendingSeqs(s); !slices.Equal(got, tc.want) {
				t.Fatalf("pending %v, want %v", got, tc.want)
			}
			if c := s.Cursor(); c != tc.want[0]-1 {
				t.Fatalf("cursor %d with %d owed first, want %d", c, tc.want[0], tc.want[0]-1)
			}
			// The client connects, acknowledges everything.
			c := &testClient{window: 100, room: 100}
			_, _, err := b.Open(OpenRequest{ClientID: "c", Expiry: 60, Client: c, Owner: &Owner{}}, func(_ *Session, present bool) {
				if !present {
					t.Error("adopted session not present")
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			s.mu.Lock()
			pids := slices.Clone(s.st.order)
			s.mu.Unlock()
			for _, pid := range pids {
				s.Acked(mqtt.PUBACK, pid, 0, c)
			}
			if cur := s.Cursor(); cur != tc.wantHigh {
				t.Fatalf("cursor %d with nothing owed, want %d", cur, tc.wantHigh)
			}
		})
	}
}

// TestNoClusterState: a broker that tracks no cluster sequences gives its
// sessions none (the single-node path).
func TestNoClusterState(t *testing.T) {
	b := testBroker()
	s, _, err := b.Open(OpenRequest{ClientID: "c", Expiry: 60, Client: &testClient{window: 1, room: 1}, Owner: &Owner{}}, func(*Session, bool) {})
	if err != nil {
		t.Fatal(err)
	}
	if s.cl != nil {
		t.Fatal("cluster state on a single node")
	}
	if c := s.Cursor(); c != 0 {
		t.Fatalf("cursor %d", c)
	}
}

// TestCursorFloorOfLocalMessages: a QoS 1 message published on this node
// reaches the session before the stream numbers it: while it is owed,
// the cursor stays at the highest sequence seen when it came (its own
// is above), not past it.
func TestCursorFloorOfLocalMessages(t *testing.T) {
	b := testBroker()
	b.TrackClusterSeqs()
	c := &testClient{window: 100, room: 100}
	s, _, err := b.Open(OpenRequest{ClientID: "c", Expiry: 60, Client: c, Owner: &Owner{}}, func(*Session, bool) {})
	if err != nil {
		t.Fatal(err)
	}
	_ = b.Subscribing(func() error {
		b.Subscribe(s, NewSubscription(SubOptions{Filter: "t", QoS: 1}))
		return nil
	})
	s.StartCursor(10)
	var buf []Match
	pidOf := func() uint16 {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.st.order[len(s.st.order)-1]
	}
	steps := []struct {
		name string
		do   func()
		want uint64
	}{
		{"start", func() {}, 10},
		{"remote 12 owed", func() { b.Route(seqMessage("t", 12), &buf) }, 11},
		{"remote 12 acknowledged", func() { s.Acked(mqtt.PUBACK, pidOf(), 0, c) }, 12},
		{"local message owed", func() { b.Route(seqMessage("t", 0), &buf) }, 12},
		{"remote 14 owed too", func() { b.Route(seqMessage("t", 14), &buf) }, 12},
		{"remote 14 acknowledged", func() { s.Acked(mqtt.PUBACK, pidOf(), 0, c) }, 12},
		{"local acknowledged", func() { s.Acked(mqtt.PUBACK, pidOf(), 0, c) }, 14},
	}
	for _, st := range steps {
		st.do()
		if got := s.Cursor(); got != st.want {
			t.Fatalf("%s: cursor %d, want %d", st.name, got, st.want)
		}
	}
}
