package gateway

import (
	"sync"
	"time"
)

// manualClock is a Clock that moves only when the test moves it.
type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

// Now returns the clock's time.
func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *manualClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}
