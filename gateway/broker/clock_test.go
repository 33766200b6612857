package broker

import (
	"edgemq/gateway/internal/testclock"
	"testing"
	"time"

	"edgemq/gateway/stats"
	"edgemq/mqtt"

	"go.uber.org/zap"
)

// TestBrokerClock: the broker judges message expiry by its clock. A QoS 1
// message queued for an offline session with a Message Expiry Interval
// of 5 s is still delivered on resume when the clock moved 4 s, and
// dropped as expired [MQTT-3.3.2-5] when it moved 6 s, whatever the wall
// clock says.
func TestBrokerClock(t *testing.T) {
	for _, tc := range []struct {
		moved     time.Duration
		delivered bool
	}{{4 * time.Second, true}, {6 * time.Second, false}} {
		t.Run(tc.moved.String(), func(t *testing.T) {
			clock := testclock.New(time.Now())
			st := &stats.Counters{}
			b := New(Config{MaxPending: 10, Clock: clock}, st, allowReads{}, zap.NewNop())
			c := &testClient{window: 10, room: 10}
			s, _, _ := b.Open(OpenRequest{ClientID: "s", Clean: true, Expiry: 60, Client: c, Owner: &Owner{}}, func(*Session, bool) {})
			b.Subscribing(func() error { b.Subscribe(s, NewSubscription(SubOptions{Filter: "t", QoS: 1})); return nil })
			b.Detach(s, c, nil)
			p := &mqtt.Publish{Topic: "t", QoS: 1, Payload: []byte("x")}
			p.Properties.SetUint32(mqtt.PropMessageExpiryInterval, 5)
			var buf []Match
			b.Route(NewMessage(p, "p", clock.Now()), &buf)
			if v := s.View(); v.Queued != 1 {
				t.Fatalf("%d queued offline, want 1", v.Queued)
			}
			clock.Add(tc.moved)
			b.Open(OpenRequest{ClientID: "s", Expiry: 60, Client: c, Owner: &Owner{}}, func(*Session, bool) {})
			v := s.View()
			if got := v.Inflight == 1; got != tc.delivered {
				t.Errorf("after %v: %d in flight, %d queued; want delivered %v", tc.moved, v.Inflight, v.Queued, tc.delivered)
			}
			if got := st.Dropped(stats.DropExpired) == 1; got == tc.delivered {
				t.Errorf("after %v: %d expired drops", tc.moved, st.Dropped(stats.DropExpired))
			}
			b.CloseAll()
		})
	}
}
