package backend

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"edgemq/gateway/cluster/clustertest"
	"edgemq/mqtt"

	"github.com/nats-io/nats.go/jetstream"
)

// TestRecheckPoints: the point a recheck starts from is the newest read
// a margin before the outage; old points are let go but the newest of
// them.
func TestRecheckPoints(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var p recheckPoints
	if got := p.before(t0, time.Second); got != 0 {
		t.Fatalf("no points: %d", got)
	}
	for i := range 5 {
		p.add(t0.Add(time.Duration(i)*time.Second), uint64(10+i))
	}
	for _, tc := range []struct {
		at     time.Duration
		margin time.Duration
		want   uint64
	}{
		{at: 4 * time.Second, margin: 2 * time.Second, want: 12},
		{at: 4 * time.Second, margin: 0, want: 14},
		{at: 4 * time.Second, margin: 10 * time.Second, want: 0},
		{at: time.Hour, margin: 2 * time.Second, want: 14},
	} {
		if got := p.before(t0.Add(tc.at), tc.margin); got != tc.want {
			t.Errorf("before(%v, %v) = %d, want %d", tc.at, tc.margin, got, tc.want)
		}
	}
	p.add(t0.Add(time.Hour), 99)
	if n := len(*p.points.Load()); n != 2 {
		t.Fatalf("%d points kept after an hour, want the newest old one and the new one", n)
	}
	if got := p.before(t0.Add(time.Hour), time.Minute); got != 14 {
		t.Fatalf("before an hour later = %d, want 14", got)
	}
}

// TestRecheckChangedAfterOutage: while node a is cut off, node b takes
// three of a's thirty sessions over and a never hears the kicks (a's
// gates are held until its kick handling gives up). When a's link is
// back it rechecks the records that changed meanwhile only, drops those
// three (their clients closed with 0x8E [MQTT-3.1.4-3]) and keeps the
// others.
func TestRecheckChangedAfterOutage(t *testing.T) {
	_, nodes := sessClusterWith(t, 2, func(_ int, o *SessionsOptions) {
		o.KickWait, o.OpenTimeout = 200*time.Millisecond, 2*time.Second
	})
	a, b := nodes[0], nodes[1]
	const n = 30
	var clients []*sessClient
	for i := range n {
		c := newSessClient()
		sessOpen(t, a, c, fmt.Sprintf("rc-%d", i), true, 300, nil)
		clients = append(clients, c)
	}
	// A point after the sessions' records, read a margin before the
	// outage.
	st, err := a.layout.Sessions.Status(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	written := st.(*jetstream.KeyValueBucketStatus).StreamInfo().State.LastSeq
	clustertest.Eventually(t, func() bool { return a.s.points.before(time.Now(), a.s.recheckMargin()) >= written },
		func() string { return "a never read a recheck point after the sessions were written" })
	a.down.Store(true)
	clustertest.Eventually(t, func() bool { return a.s.lostAt.Load() != nil },
		func() string { return "a's checkpoints never saw the link down" })

	ctx, cancel := context.WithTimeout(context.Background(), clustertest.Timeout)
	defer cancel()
	taken := []string{"rc-0", "rc-1", "rc-2"}
	var unlocks []func()
	for _, id := range taken {
		unlock, err := a.s.gates.lock(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		unlocks = append(unlocks, unlock)
	}
	for _, id := range taken {
		sessOpen(t, b, newSessClient(), id, false, 300, nil)
	}
	// a's kick handling gives up on the gates; then they are free.
	clustertest.Eventually(t, func() bool {
		a.s.gates.mu.Lock()
		defer a.s.gates.mu.Unlock()
		for _, id := range taken {
			if g := a.s.gates.m[id]; g == nil || g.refs != 1 {
				return false
			}
		}
		return true
	}, func() string { return "a's kick handling still waits" })
	for _, u := range unlocks {
		u()
	}
	if got := len(a.s.Owned()); got != n {
		t.Fatalf("a holds %d sessions before the recheck, want %d (it never heard the kicks)", got, n)
	}

	before := a.s.Counts().Rechecked.Load()
	a.down.Store(false)
	clustertest.Eventually(t, func() bool { return len(a.s.Owned()) == n-len(taken) },
		func() string { return fmt.Sprintf("a holds %v after the link came back", a.s.Owned()) })
	for i, id := range taken {
		if slices.Contains(a.s.Owned(), id) {
			t.Fatalf("a still holds %s", id)
		}
		select {
		case code := <-clients[i].kicked:
			if code != mqtt.SessionTakenOver {
				t.Fatalf("%s's client on a closed with %v, want 0x8E", id, code)
			}
		case <-time.After(clustertest.Timeout):
			t.Fatalf("%s's client on a was not closed", id)
		}
	}
	if got := a.s.Counts().Rechecked.Load() - before; got != int64(len(taken)) {
		t.Fatalf("%d records rechecked, want %d: only those that changed during the outage", got, len(taken))
	}
}
