package backend

import (
	"sync"
	"testing"
	"time"

	"edgemq/gateway/broker"
	"edgemq/gateway/cluster/clustertest"
	"edgemq/gateway/store"

	"github.com/nats-io/nats.go/jetstream"
)

// TestReplayLag: while a session taken over from another node replays
// its offline queue, the node's replay lag counts the stored messages it
// has yet to deliver; when the replay ends the lag is back to zero and
// the replay is counted with its messages.
func TestReplayLag(t *testing.T) {
	const queued = 50
	started, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	_, nodes := sessClusterWith(t, 2, func(i int, o *SessionsOptions) {
		if i == 1 {
			o.Decode = func(m jetstream.Msg) (*broker.Message, error) {
				once.Do(func() {
					close(started)
					<-release
				})
				return decodeStored(m)
			}
		}
	})
	a, b := nodes[0], nodes[1]
	c1 := newSessClient()
	s1, _ := sessOpen(t, a, c1, "lagging", true, 300, nil)
	sessSubscribe(t, a, s1, "lag/#", 1)
	a.s.Detach(s1, c1, nil)
	for range queued {
		storeMsg(t, a.js, "lag/x", "m", 1)
	}
	if lag := b.s.Replays().Lag.Load(); lag != 0 {
		t.Fatalf("lag %d before any replay", lag)
	}

	c2 := newSessClient()
	opened := make(chan error, 1)
	go func() {
		_, _, err := b.s.Open(broker.OpenRequest{ClientID: "lagging", Expiry: 300, Client: c2,
			Owner: &broker.Owner{Identity: "user:u", Record: store.Owner{Identity: "user:u"}}}, func(*broker.Session, bool) {})
		opened <- err
	}()
	select {
	case <-started:
	case <-time.After(clustertest.Timeout):
		close(release)
		t.Fatal("the replay never started")
	}
	// The first message is being delivered: the others are behind.
	lag := b.s.Replays().Lag.Load()
	close(release)
	if lag != queued-1 {
		t.Fatalf("replay lag %d while replaying the first of %d messages, want %d", lag, queued, queued-1)
	}
	if err := <-opened; err != nil {
		t.Fatal(err)
	}
	r := b.s.Replays()
	if lag, n, msgs := r.Lag.Load(), r.Replays.Load(), r.Messages.Load(); lag != 0 || n != 1 || msgs != queued {
		t.Fatalf("after the replay: lag %d, %d replays, %d messages; want 0, 1, %d", lag, n, msgs, queued)
	}
	if r.Seconds() <= 0 {
		t.Fatalf("replay time %v", r.Seconds())
	}
}
