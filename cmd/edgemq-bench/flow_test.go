package main

import (
	"context"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"
)

func TestPacerOffersExactCount(t *testing.T) {
	tests := []struct {
		name  string
		rate  float64
		start time.Duration
	}{
		{"20000/s", 20000, 0},
		{"a third", 20000.0 / 3, 7 * time.Millisecond},
		{"slow", 0.5, time.Second},
		{"fast", 1e6, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPacer(tt.start, tt.rate)
			rng := rand.New(rand.NewPCG(1, 2))
			// A virtual clock that jumps by irregular steps, as a
			// publisher that wakes late does: the count due never
			// depends on the steps taken, only on the time reached.
			var now, sent time.Duration
			var offered int64
			end := tt.start + 10*time.Second
			for now < end {
				now += time.Duration(rng.Int64N(int64(3 * time.Millisecond)))
				due := p.due(now)
				if due < offered {
					t.Fatalf("due went back from %d to %d at %v", offered, due, now)
				}
				offered = due
				sent = now
			}
			want := int64(float64(sent-tt.start)*tt.rate/float64(time.Second)) + 1
			if offered < want-1 || offered > want+1 {
				t.Errorf("offered %d by %v, want %d ± 1", offered, sent, want)
			}
			for _, i := range []int64{0, 1, 999, 123456} {
				if got := p.due(p.at(i)); got != i+1 {
					t.Errorf("due(at(%d)) = %d, want %d", i, got, i+1)
				}
				if got := p.due(p.at(i) - 1); got != i {
					t.Errorf("due(at(%d)-1ns) = %d, want %d", i, got, i)
				}
			}
			if got := p.due(tt.start - 1); got != 0 {
				t.Errorf("due before start = %d, want 0", got)
			}
		})
	}
}

func TestWindowAcks(t *testing.T) {
	w := newWindow(100, 2) // QoS 1/2: two unacknowledged at most
	var seen atomic.Uint32
	w.watch(&seen)
	for seq := uint32(1); seq <= 2; seq++ {
		if !w.open(seq) {
			t.Fatalf("window closed before message %d", seq)
		}
		w.sent()
	}
	if w.open(3) {
		t.Fatal("window open with two messages unacknowledged")
	}
	w.release()
	if !w.open(3) {
		t.Fatal("window closed after an ack")
	}
}

func TestWindowReceived(t *testing.T) {
	w := newWindow(3, 0)   // QoS 0: three unreceived at most
	var a, b atomic.Uint32 // two subscribers
	w.watch(&a)
	w.watch(&b)
	for seq := uint32(1); seq <= 3; seq++ {
		if !w.open(seq) {
			t.Fatalf("window closed before message %d", seq)
		}
	}
	if w.open(4) {
		t.Fatal("window open with three messages unreceived")
	}
	a.Store(3)
	if w.open(4) {
		t.Fatal("window open while one subscriber received nothing")
	}
	b.Store(1) // 2 lost or late: the window counts from the lowest
	if !w.open(4) {
		t.Fatal("window closed after both subscribers received message 1")
	}
	if w.open(5) {
		t.Fatal("window open with messages 2 to 4 unreceived by b")
	}
	w.giveUp(4)
	if !w.open(5) {
		t.Fatal("window closed after giving up on what was sent")
	}
}

func TestWindowAwaitWakes(t *testing.T) {
	w := newWindow(1, 0)
	tr := &track{win: w}
	w.watch(&tr.seen)
	if w.open(2) {
		t.Fatal("window of one open with one message unreceived")
	}
	go func() {
		// Once await waits (polled, with a deadline): then the kick is
		// what wakes it.
		for deadline := time.Now().Add(10 * time.Second); !w.waiting.Load() && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
		tr.seen.Store(1)
		tr.win.kick()
	}()
	// A long timeout: only the kick can end the wait early enough for
	// the window to be open.
	if !w.await(context.Background(), 2, time.Minute) {
		t.Fatal("await returned with the window closed")
	}
}
