package park

import (
	"edgemq/gateway/internal/lockorder"
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Poller watches parked connections in an epoll set of its own, and
// sweeps the waiting ones for those idle a whole period. The zero value
// is not usable: New makes one.
type Poller struct {
	idle time.Duration
	ep   *os.File        // the epoll set, watched by the runtime
	erc  syscall.RawConn // ep's
	// fd is ep's descriptor (ep.Fd would make it blocking). It is used
	// under mu only, while closed is false: ep is closed after.
	fd int

	// mu guards the maps and closed. A leaf: nothing else is taken
	// under it.
	mu lockorder.Mutex[pollerMu]
	// byFD maps the descriptors in the epoll set to their handles.
	byFD map[int32]*Handle
	// running holds the handles with an owner goroutine, for the
	// sweeper.
	running map[*Handle]struct{}
	closed  bool

	stop chan struct{}
	done sync.WaitGroup
}

// New starts a Poller. idle is how long a wait (BeginWait) lasts before
// the sweeper interrupts it so that the connection parks; 0 never
// interrupts a wait (connections park only where their owner parks them
// at once). Close stops it.
func New(idle time.Duration) (*Poller, error) {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("creating the epoll set: %w", err)
	}
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("making the epoll set non-blocking: %w", err)
	}
	// A non-blocking descriptor given to os.NewFile is added to the
	// runtime's poller: the loop waits for it like for a socket.
	ep := os.NewFile(uintptr(fd), "park-epoll")
	erc, err := ep.SyscallConn()
	if err != nil {
		ep.Close()
		return nil, fmt.Errorf("watching the epoll set: %w", err)
	}
	p := &Poller{idle: idle, ep: ep, erc: erc, fd: fd, byFD: map[int32]*Handle{}, running: map[*Handle]struct{}{}, stop: make(chan struct{})}
	if idle > 0 {
		p.done.Add(1)
		go p.sweep()
	}
	p.done.Add(1)
	go p.loop()
	return p, nil
}

// Supported reports whether connections can park on this system.
func Supported() bool { return true }

// Close stops the Poller and wakes every parked handle (their resume
// runs), so that no connection is left without a goroutine.
func (p *Poller) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	hs := make([]*Handle, 0, len(p.byFD))
	for _, h := range p.byFD {
		hs = append(hs, h)
	}
	p.mu.Unlock()
	close(p.stop)
	for _, h := range hs {
		h.Wake()
	}
	err := p.ep.Close() // ends the loop's wait
	p.done.Wait()
	return err
}

// arm puts a handle in the epoll set, one-shot, and marks it parked; false
// when its socket cannot be watched (closed) or the Poller is closed.
func (p *Poller) arm(h *Handle) bool {
	// Parked before the socket is armed: an event that comes at once
	// finds the handle parked.
	v := h.st.Load()
	h.st.Store(v&^stateMask | parked)
	armed := false
	err := h.rc.Control(func(fd uintptr) {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.closed {
			return
		}
		delete(p.running, h)
		ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT, Fd: int32(fd)}
		if h.fd == int32(fd) && unix.EpollCtl(p.fd, unix.EPOLL_CTL_MOD, int(fd), &ev) == nil {
			armed = true // armed before: rearmed (one-shot)
			return
		}
		// The descriptor may be a reused one of a handle closed without
		// Close: this handle replaces it.
		p.byFD[int32(fd)] = h
		h.fd = int32(fd)
		err := unix.EpollCtl(p.fd, unix.EPOLL_CTL_ADD, int(fd), &ev)
		if errors.Is(err, unix.EEXIST) {
			err = unix.EpollCtl(p.fd, unix.EPOLL_CTL_MOD, int(fd), &ev)
		}
		armed = err == nil
	})
	if err == nil && armed {
		return true
	}
	// Not watched: the owner goes on, unless a Wake meanwhile found the
	// handle parked and started resume.
	return !h.reclaim()
}

// unparked puts a handle that left the parked state back among the
// running ones.
func (p *Poller) unparked(h *Handle) {
	p.mu.Lock()
	if p.running != nil && !p.closed {
		p.running[h] = struct{}{}
	}
	p.mu.Unlock()
}

// forget drops a closed handle, taking its socket out of the epoll set.
func (p *Poller) forget(h *Handle) {
	p.mu.Lock()
	delete(p.running, h)
	if h.fd >= 0 && p.byFD[h.fd] == h {
		delete(p.byFD, h.fd)
		if !p.closed {
			// The socket may be closed already (then the kernel dropped
			// it from the set): Control then fails, which is fine.
			h.rc.Control(func(fd uintptr) {
				if int32(fd) == h.fd {
					unix.EpollCtl(p.fd, unix.EPOLL_CTL_DEL, int(fd), nil)
				}
			})
		}
	}
	p.mu.Unlock()
}

// loop waits for the epoll set in the runtime's poller and wakes the
// handles whose sockets are ready, until the set is closed.
func (p *Poller) loop() {
	defer p.done.Done()
	events := make([]unix.EpollEvent, 128)
	var wake []*Handle
	for {
		var werr error
		err := p.erc.Read(func(fd uintptr) bool {
			for {
				n, err := unix.EpollWait(int(fd), events, 0)
				if errors.Is(err, unix.EINTR) {
					continue
				}
				if err != nil {
					werr = err
					return true
				}
				if n == 0 {
					return false // wait in the runtime's poller
				}
				p.mu.Lock()
				for _, ev := range events[:n] {
					if h := p.byFD[ev.Fd]; h != nil {
						wake = append(wake, h)
					}
				}
				p.mu.Unlock()
				return true
			}
		})
		for i, h := range wake {
			h.Wake()
			wake[i] = nil
		}
		wake = wake[:0]
		if err != nil || werr != nil {
			return // closed
		}
	}
}

// sweep interrupts, every idle period, the waits that have lasted a whole
// period.
func (p *Poller) sweep() {
	defer p.done.Done()
	t := time.NewTicker(p.idle)
	defer t.Stop()
	var idle []*Handle
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
		}
		idle = p.sweepOnce(idle)
	}
}

// sweepOnce interrupts the waits that were already under way at the last
// sweep; idle is scratch space, returned for the next sweep.
func (p *Poller) sweepOnce(idle []*Handle) []*Handle {
	p.mu.Lock()
	for h := range p.running {
		v := h.st.Load()
		if v&stateMask != waiting {
			continue
		}
		if n := v >> stateBits; n != h.seen {
			h.seen = n // a wait begun since: look again next time
			continue
		}
		idle = append(idle, h)
	}
	p.mu.Unlock()
	for i, h := range idle {
		h.interrupt()
		idle[i] = nil
	}
	return idle[:0]
}

// interrupt nudges the owner out of the wait the sweeper saw, if it is
// still in it.
func (h *Handle) interrupt() {
	h.nmu.Lock()
	defer h.nmu.Unlock()
	v := h.st.Load()
	if v&stateMask == waiting && v>>stateBits == h.seen && h.st.CompareAndSwap(v, v&^stateMask|nudged) {
		h.o.Nudge()
	}
}
