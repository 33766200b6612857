package conn

import (
	"testing"
	"time"
)

// TestLazyDeadline: the read and write deadlines move only once they are
// less than their timeout away, then to timeout/32 beyond it: never
// earlier than the timeout allows, and not once per packet.
func TestLazyDeadline(t *testing.T) {
	// Long enough that the slack (timeout/32, an hour) cannot pass during
	// the test.
	const timeout = 32 * time.Hour
	var d lazyDeadline
	before := time.Now()
	first, ok := d.next(timeout)
	if !ok {
		t.Fatal("the first call set no deadline")
	}
	if min := before.Add(timeout); first.Before(min) {
		t.Errorf("deadline %v before now+timeout %v", first, min)
	}
	if max := time.Now().Add(timeout + timeout/32); first.After(max) {
		t.Errorf("deadline %v after now+timeout+timeout/32 %v", first, max)
	}
	// Within the slack, the deadline in force holds.
	for range 1000 {
		if _, ok := d.next(timeout); ok {
			t.Fatal("the deadline moved while the one in force still allowed the timeout")
		}
	}
	// Once the deadline in force is less than the timeout away, it moves.
	d = lazyDeadline(time.Now().Add(timeout / 2).UnixNano())
	if next, ok := d.next(timeout); !ok || next.Before(time.Now().Add(timeout)) {
		t.Errorf("next = %v, %v; want a move to at least now+timeout", next, ok)
	}
}
