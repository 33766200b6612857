package auth

import (
	"testing"
	"time"
)

// timerLog records what an Expiry asks of its timer.
type timerLog struct {
	armed []time.Duration
	stops int
}

func (l *timerLog) arm(d time.Duration) { l.armed = append(l.armed, d) }
func (l *timerLog) stop()               { l.stops++ }

// TestExpiry: a timer is asked for only when the credential expires, for
// the time left by the clock it is given; Extend moves it or stops it;
// the timer's event expires the credential once, only when the deadline
// passed, and never after Stop.
func TestExpiry(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	t.Run("never expires", func(t *testing.T) {
		var e Expiry
		var l timerLog
		e.Arm(t0, l.arm)
		if len(l.armed) != 0 || e.Expiring() || e.Expired(t0.Add(1000*time.Hour)) {
			t.Errorf("a credential without a deadline: armed %v, expiring %v", l.armed, e.Expiring())
		}
	})
	t.Run("expires once", func(t *testing.T) {
		var e Expiry
		var l timerLog
		e.Set(t0.Add(time.Minute))
		e.Arm(t0, l.arm)
		if len(l.armed) != 1 || l.armed[0] != time.Minute {
			t.Fatalf("armed %v, want [1m]", l.armed)
		}
		if e.Expired(t0.Add(59 * time.Second)) {
			t.Error("expired before the deadline")
		}
		if !e.Expired(t0.Add(time.Minute)) {
			t.Error("not expired at the deadline")
		}
		if e.Expired(t0.Add(2 * time.Minute)) {
			t.Error("expired twice")
		}
		e.Extend(t0.Add(time.Hour), t0, l.arm, l.stop)
		if len(l.armed) != 1 {
			t.Errorf("an expired credential was armed again: %v", l.armed)
		}
	})
	t.Run("extended", func(t *testing.T) {
		var e Expiry
		var l timerLog
		e.Set(t0.Add(time.Minute))
		e.Arm(t0, l.arm)
		e.Extend(t0.Add(time.Hour), t0.Add(30*time.Second), l.arm, l.stop)
		if len(l.armed) != 2 || l.armed[1] != time.Hour-30*time.Second {
			t.Errorf("armed %v, want the rest of the hour from 30s", l.armed)
		}
		if e.Expired(t0.Add(time.Minute)) {
			t.Error("the old deadline's timer run expired an extended credential")
		}
		e.Extend(time.Time{}, t0, l.arm, l.stop)
		if l.stops != 1 || e.Expired(t0.Add(1000*time.Hour)) {
			t.Errorf("a credential that no longer expires: %d stops, want 1; expired", l.stops)
		}
	})
	t.Run("stopped", func(t *testing.T) {
		var e Expiry
		var l timerLog
		e.Set(t0.Add(time.Minute))
		e.Arm(t0, l.arm)
		e.Stop(l.stop)
		e.Extend(t0.Add(time.Hour), t0, l.arm, l.stop)
		if l.stops != 1 || len(l.armed) != 1 {
			t.Errorf("after Stop: %d stops, armed %v; want 1 stop, nothing armed again", l.stops, l.armed)
		}
		if e.Expired(t0.Add(2 * time.Hour)) {
			t.Error("a timer run after Stop expired the credential")
		}
	})
}
