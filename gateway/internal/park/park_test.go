//go:build linux

package park

import (
	"errors"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// eventTimeout bounds every wait for an event; no test sleeps to
// synchronise.
const eventTimeout = 10 * time.Second

// pair returns both ends of a loopback TCP connection: the server's and
// the client's.
func pair(tb testing.TB) (server, client *net.TCPConn) {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		tb.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close(); s.Close() })
	return s.(*net.TCPConn), c.(*net.TCPConn)
}

func newPoller(tb testing.TB, idle time.Duration) *Poller {
	tb.Helper()
	p, err := New(idle)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { p.Close() })
	return p
}

// reader is a connection served the way the gateway serves one: it
// reads until nothing is left, then parks; resumed, it reads on.
type reader struct {
	tb      testing.TB
	nc      *net.TCPConn
	h       *Handle
	got     chan string // what each read returned
	resumed atomic.Int32
	ended   chan error
}

func newReader(tb testing.TB, p *Poller, nc *net.TCPConn) *reader {
	tb.Helper()
	r := &reader{tb: tb, nc: nc, got: make(chan string, 100), ended: make(chan error, 1)}
	rc, err := nc.SyscallConn()
	if err != nil {
		tb.Fatal(err)
	}
	r.h = p.Handle(rc, r)
	return r
}

func (r *reader) Nudge() { r.nc.SetReadDeadline(time.Unix(1, 0)) }

func (r *reader) Resume() {
	r.resumed.Add(1)
	r.run()
}

// run reads; a wait that the sweeper interrupts parks the connection.
func (r *reader) run() {
	buf := make([]byte, 64)
	for {
		r.nc.SetReadDeadline(time.Time{})
		r.h.BeginWait()
		n, err := r.nc.Read(buf)
		nudged := r.h.EndWait()
		if n > 0 {
			r.got <- string(buf[:n])
		}
		if nudged && n == 0 && errors.Is(err, os.ErrDeadlineExceeded) {
			if r.h.Park(time.Time{}, nil) {
				return
			}
			continue
		}
		if err != nil {
			r.h.Close()
			r.ended <- err
			return
		}
	}
}

func (r *reader) expect(want string) {
	r.tb.Helper()
	select {
	case got := <-r.got:
		if got != want {
			r.tb.Fatalf("read %q, want %q", got, want)
		}
	case <-time.After(eventTimeout):
		r.tb.Fatalf("no read of %q", want)
	}
}

// waitFor polls cond until it holds or eventTimeout passes.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(eventTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestParkResume: a parked connection is resumed, on a new goroutine, by
// bytes, by an end of stream, by Wake and by its deadline; bytes sent
// before the park are not lost.
func TestParkResume(t *testing.T) {
	tests := []struct {
		name string
		// act makes the parked connection ready; want is what its
		// reader then reads, "" for the end of the stream.
		act      func(tb testing.TB, r *reader, client *net.TCPConn)
		deadline time.Duration
		want     string
		ends     bool
	}{
		{name: "bytes", act: func(tb testing.TB, _ *reader, c *net.TCPConn) { write(tb, c, "ping") }, want: "ping"},
		{name: "end of stream", act: func(tb testing.TB, _ *reader, c *net.TCPConn) { c.CloseWrite() }, ends: true},
		{name: "wake", act: func(tb testing.TB, r *reader, c *net.TCPConn) {
			if !r.h.Wake() {
				tb.Error("Wake on a parked handle reported it was not parked")
			}
			write(tb, c, "after")
		}, want: "after"},
		{name: "deadline", deadline: 50 * time.Millisecond, act: func(tb testing.TB, r *reader, c *net.TCPConn) {
			waitFor(tb, "the deadline to resume the handle", func() bool { return r.resumed.Load() == 1 })
			write(tb, c, "late")
		}, want: "late"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPoller(t, 0)
			s, c := pair(t)
			r := newReader(t, p, s)
			var deadline time.Time
			if tt.deadline > 0 {
				deadline = time.Now().Add(tt.deadline)
			}
			if !r.h.Park(deadline, nil) {
				t.Fatal("Park refused a healthy socket")
			}
			if !r.h.Parked() {
				t.Fatal("handle not parked after Park")
			}
			tt.act(t, r, c)
			if tt.ends {
				select {
				case <-r.ended:
				case <-time.After(eventTimeout):
					t.Fatal("the end of the stream did not resume the handle")
				}
				return
			}
			r.expect(tt.want)
			if n := r.resumed.Load(); n != 1 {
				t.Errorf("resumed %d times, want once", n)
			}
		})
	}
}

func write(tb testing.TB, c net.Conn, s string) {
	tb.Helper()
	if _, err := c.Write([]byte(s)); err != nil {
		tb.Fatal(err)
	}
}

// TestParkWithBytesPending: bytes that arrived before the socket was armed
// resume the handle at once.
func TestParkWithBytesPending(t *testing.T) {
	p := newPoller(t, 0)
	s, c := pair(t)
	r := newReader(t, p, s)
	write(t, c, "early")
	// The bytes are in the socket before Park (a peek sees them).
	waitFor(t, "the bytes to reach the socket", func() bool { return readable(t, s) })
	if !r.h.Park(time.Time{}, nil) {
		t.Fatal("Park refused")
	}
	r.expect("early")
}

// readable peeks at the socket.
func readable(tb testing.TB, nc *net.TCPConn) bool {
	rc, err := nc.SyscallConn()
	if err != nil {
		tb.Fatal(err)
	}
	var ok bool
	rc.Control(func(fd uintptr) {
		var b [1]byte
		n, _, _ := recvPeek(int(fd), b[:])
		ok = n > 0
	})
	return ok
}

// TestParkRecheck: a close asked for while the owner parked makes Park
// give the connection back.
func TestParkRecheck(t *testing.T) {
	p := newPoller(t, 0)
	s, _ := pair(t)
	r := newReader(t, p, s)
	if r.h.Park(time.Time{}, func() bool { return true }) {
		t.Fatal("Park kept the connection although recheck asked to go on")
	}
	if r.h.Parked() {
		t.Fatal("handle still parked after the recheck took it back")
	}
	if r.h.Wake() {
		t.Fatal("Wake resumed a handle its owner took back")
	}
}

// TestParkClosedSocket: a socket closed before Park cannot be watched;
// Park says so and the owner goes on.
func TestParkClosedSocket(t *testing.T) {
	p := newPoller(t, 0)
	s, _ := pair(t)
	r := newReader(t, p, s)
	s.Close()
	if r.h.Park(time.Time{}, nil) {
		t.Fatal("Park took a closed socket")
	}
}

// TestSweeperParksIdle: the sweeper interrupts a wait that lasted a whole
// idle period; the reader parks, no goroutine is left, and bytes sent
// later resume it.
func TestSweeperParksIdle(t *testing.T) {
	p := newPoller(t, 20*time.Millisecond)
	s, c := pair(t)
	r := newReader(t, p, s)
	go r.run()
	write(t, c, "one")
	r.expect("one")
	waitFor(t, "the idle connection to park", r.h.Parked)
	write(t, c, "two")
	r.expect("two")
	if n := r.resumed.Load(); n != 1 {
		t.Errorf("resumed %d times, want once", n)
	}
	waitFor(t, "the connection to park again", r.h.Parked)
}

// counter is an Owner that counts nudges.
type counter struct{ nudges atomic.Int32 }

func (c *counter) Resume() {}
func (c *counter) Nudge()  { c.nudges.Add(1) }

// TestSweepInterruptsLongWaits: a sweep interrupts only a wait that was
// already under way at the sweep before; a wait that ended and began
// again since is spared, as is a handle outside a wait.
func TestSweepInterruptsLongWaits(t *testing.T) {
	p := newPoller(t, 0) // no ticker: the test sweeps
	s, _ := pair(t)
	rc, err := s.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	o := &counter{}
	h := p.Handle(rc, o)
	steps := []struct {
		name   string
		act    func()
		nudged int32
	}{
		{"running, not waiting", func() {}, 0},
		{"first sweep of a wait", h.BeginWait, 0},
		{"a new wait since", func() { h.EndWait(); h.BeginWait() }, 0},
		{"the same wait a sweep later", func() {}, 1},
		{"nudged once only", func() {}, 1},
	}
	for _, st := range steps {
		st.act()
		p.sweepOnce(nil)
		if n := o.nudges.Load(); n != st.nudged {
			t.Fatalf("%s: %d nudges, want %d", st.name, n, st.nudged)
		}
	}
	if !h.EndWait() {
		t.Error("EndWait after a nudge reported an uninterrupted wait")
	}
	h.BeginWait()
	if h.EndWait() {
		t.Error("EndWait of a later wait reported the old nudge")
	}
	h.Close()
}

// TestNoGoroutinePerIdleConnection parks 1,000 idle connections and
// counts goroutines: none is left per connection, and each resumes when
// its client sends.
func TestNoGoroutinePerIdleConnection(t *testing.T) {
	const n = 1000
	p := newPoller(t, 0)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var got sync.WaitGroup
	var clients []net.Conn
	var readers []*reader
	before := runtime.NumGoroutine()
	for range n {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		s, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		defer s.Close()
		r := newReader(t, p, s.(*net.TCPConn))
		if !r.h.Park(time.Time{}, nil) {
			t.Fatal("Park refused")
		}
		clients = append(clients, c)
		readers = append(readers, r)
	}
	if g := runtime.NumGoroutine(); g > before+10 {
		t.Fatalf("%d goroutines with %d parked connections, %d before: want none per connection", g, n, before)
	}
	got.Add(n)
	for i, c := range clients {
		go func() {
			readers[i].expect("hi")
			got.Done()
		}()
		write(t, c, "hi")
	}
	got.Wait()
}

// TestCloseWakesParked: closing the Poller resumes every parked handle,
// and nothing parks after.
func TestCloseWakesParked(t *testing.T) {
	p, err := New(0)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := pair(t)
	r := newReader(t, p, s)
	if !r.h.Park(time.Time{}, nil) {
		t.Fatal("Park refused")
	}
	p.Close()
	waitFor(t, "Close to resume the parked handle", func() bool { return r.resumed.Load() == 1 })
	s.Close()
	select {
	case <-r.ended:
	case <-time.After(eventTimeout):
		t.Fatal("reader did not end")
	}
	s2, _ := pair(t)
	if newReader(t, p, s2).h.Park(time.Time{}, nil) {
		t.Fatal("Park after Close kept the connection")
	}
}

// recvPeek peeks at a socket without blocking.
func recvPeek(fd int, b []byte) (int, unix.Sockaddr, error) {
	return unix.Recvfrom(fd, b, unix.MSG_PEEK|unix.MSG_DONTWAIT)
}

// TestParkDeadlinePassed: a deadline already passed is not parked on;
// the owner reads on and its read reports the deadline.
func TestParkDeadlinePassed(t *testing.T) {
	p := newPoller(t, 0)
	s, _ := pair(t)
	r := newReader(t, p, s)
	if r.h.Park(time.Now().Add(-time.Millisecond), nil) {
		t.Fatal("Park took a connection whose deadline has passed")
	}
	if r.h.Parked() {
		t.Fatal("handle parked")
	}
}

// BenchmarkWaitBracket is what a busy reader pays per packet for being
// parkable: BeginWait and EndWait around its read.
func BenchmarkWaitBracket(b *testing.B) {
	p := newPoller(b, 0)
	s, _ := pair(b)
	rc, err := s.SyscallConn()
	if err != nil {
		b.Fatal(err)
	}
	h := p.Handle(rc, &counter{})
	b.ReportAllocs()
	for b.Loop() {
		h.BeginWait()
		if h.EndWait() {
			b.Fatal("nudged")
		}
	}
}
