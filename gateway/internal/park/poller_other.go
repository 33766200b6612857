//go:build !linux

package park

import (
	"edgemq/gateway/internal/lockorder"
	"time"
)

// Poller is a stand-in where there is no epoll: nothing parks, and
// connections keep their reader goroutines.
type Poller struct {
	mu      lockorder.Mutex[pollerMu]
	running map[*Handle]struct{}
}

// New returns a Poller that parks nothing.
func New(time.Duration) (*Poller, error) { return &Poller{}, nil }

// Supported reports whether connections can park on this system.
func Supported() bool { return false }

// Close does nothing.
func (p *Poller) Close() error { return nil }

func (p *Poller) arm(h *Handle) bool { return false }
func (p *Poller) unparked(*Handle)   {}
func (p *Poller) forget(*Handle)     {}
