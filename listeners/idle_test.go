package listeners

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"slices"
	"testing"
	"time"
)

// maskedFrame is a final binary client frame carrying p, masked with the
// zero key (RFC 6455 5.3: clients mask every frame).
func maskedFrame(p string) []byte {
	return append([]byte{0x82, 0x80 | byte(len(p)), 0, 0, 0, 0}, p...)
}

// TestWSWaitReadable drives a ws connection the way the gateway does:
// WaitReadable before each read with nothing pending, reads smaller than
// the messages. Bytes already in the connection's read buffer must not
// be waited for on the socket, bytes still on the way must be, and the
// wait ends at the read deadline.
func TestWSWaitReadable(t *testing.T) {
	ln, err := ListenWS(testConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	waitErr := serveWaiting(t, ln, func(c net.Conn) bool { return c.(*wsConn).raw != nil })

	ws, _ := dialWS(t, nil, wsURL(ln, "/mqtt"), nil)
	defer ws.Close()
	raw := ws.NetConn()
	// Two messages in one segment: the second is in the read buffer when
	// the first is done.
	if _, err := raw.Write(append(maskedFrame("ab"), maskedFrame("cd")...)); err != nil {
		t.Fatal(err)
	}
	if got := readBinary(t, ws, 4); string(got) != "abcd" {
		t.Fatalf("echoed %q, want abcd", got)
	}
	// A frame whose payload arrives in two parts, the second only once
	// the first is echoed.
	f := maskedFrame("efghij")
	if _, err := raw.Write(f[:9]); err != nil {
		t.Fatal(err)
	}
	if got := readBinary(t, ws, 3); string(got) != "efg" {
		t.Fatalf("echoed %q, want efg", got)
	}
	if _, err := raw.Write(f[9:]); err != nil {
		t.Fatal(err)
	}
	if got := readBinary(t, ws, 3); string(got) != "hij" {
		t.Fatalf("echoed %q, want hij", got)
	}
	expectDeadline(t, waitErr)
}

// serveWaiting serves ln with a handler that reads like the gateway:
// WaitReadable before each read with nothing pending, reads of 3 bytes,
// echoing them, with a read deadline of a second. waits tells whether
// the connection waits on its socket (false fails). The handler's last
// error arrives on the channel.
func serveWaiting(tb testing.TB, ln Listener, waits func(net.Conn) bool) <-chan error {
	tb.Helper()
	waitErr := make(chan error, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- ln.Serve(ctx, func(c net.Conn, _ *Meta) {
			defer c.Close()
			w, ok := c.(IdleWaiter)
			if !ok || !waits(c) {
				waitErr <- errors.New("the connection does not wait on its socket")
				return
			}
			buf := make([]byte, 3)
			for {
				c.SetReadDeadline(time.Now().Add(time.Second))
				if err := w.WaitReadable(); err != nil {
					waitErr <- err
					return
				}
				n, err := c.Read(buf)
				if n > 0 {
					c.Write(buf[:n])
				}
				if err != nil {
					waitErr <- err
					return
				}
			}
		})
	}()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("Serve: %v", err)
		}
	})
	return waitErr
}

// expectDeadline waits for the serveWaiting handler to end at its read
// deadline, the client having gone quiet.
func expectDeadline(tb testing.TB, waitErr <-chan error) {
	tb.Helper()
	select {
	case err := <-waitErr:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			tb.Errorf("idle connection ended with %v, want the read deadline", err)
		}
	case <-time.After(waitTimeout):
		tb.Error("idle wait did not end at the read deadline")
	}
}

// batchConn holds writes while hold is set, until flush sends them in
// one write (one segment), so that records arrive together.
type batchConn struct {
	net.Conn
	hold bool
	buf  []byte
}

func (c *batchConn) Write(b []byte) (int, error) {
	if !c.hold {
		return c.Conn.Write(b)
	}
	c.buf = append(c.buf, b...)
	return len(b), nil
}

func (c *batchConn) flush(tb testing.TB) {
	tb.Helper()
	if _, err := c.Conn.Write(c.buf); err != nil {
		tb.Fatal(err)
	}
	c.buf, c.hold = nil, false
}

// TestTLSWaitReadable: two records arriving together must not be waited
// for on the socket (crypto/tls must not have read the second), and the
// wait ends at the read deadline.
func TestTLSWaitReadable(t *testing.T) {
	pki := newPKI(t)
	cfg := testConfig(t)
	cfg.TLS = pki.serverConfig(false)
	ln, err := ListenTLS(cfg)
	if err != nil {
		t.Fatal(err)
	}
	waitErr := serveWaiting(t, ln, func(c net.Conn) bool { _, ok := c.(*tlsIdleConn); return ok })
	bc := &batchConn{Conn: dialTCP(t, ln.Addr().String())}
	c := tlsClient(t, bc, pki)
	bc.hold = true
	for _, m := range []string{"ab", "cd", "efghij"} {
		if _, err := c.Write([]byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	bc.flush(t)
	c.SetReadDeadline(time.Now().Add(waitTimeout))
	got := make([]byte, 10)
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "abcdefghij" {
		t.Fatalf("echoed %q, %v; want abcdefghij", got, err)
	}
	expectDeadline(t, waitErr)
}

// chunkConn reads its chunks one Read at a time.
type chunkConn struct {
	net.Conn
	chunks [][]byte
}

func (c *chunkConn) Read(b []byte) (int, error) {
	if len(c.chunks) == 0 {
		return 0, io.EOF
	}
	n := copy(b, c.chunks[0])
	if c.chunks[0] = c.chunks[0][n:]; len(c.chunks[0]) == 0 {
		c.chunks = c.chunks[1:]
	}
	return n, nil
}

func TestRecordConn(t *testing.T) {
	record := func(n int) []byte {
		r := []byte{23, 3, 3, byte(n >> 8), byte(n)}
		return append(r, bytes.Repeat([]byte{byte(n)}, n)...)
	}
	var stream []byte
	var ends []int // offsets where records end
	for _, n := range []int{3, 0, 300, 1} {
		stream = append(stream, record(n)...)
		ends = append(ends, len(stream))
	}
	split := func(size int) [][]byte {
		var out [][]byte
		for s := stream; len(s) > 0; {
			k := min(size, len(s))
			out = append(out, s[:k])
			s = s[k:]
		}
		return out
	}
	tests := []struct {
		name   string
		chunks [][]byte
		buf    int
	}{
		{"all at once", [][]byte{stream}, 512},
		{"byte by byte", split(1), 512},
		{"7-byte segments, 4-byte reads", split(7), 4},
		{"all at once, 2-byte reads", [][]byte{stream}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := &recordConn{Conn: &chunkConn{chunks: slices.Clone(tt.chunks)}}
			var got []byte
			buf := make([]byte, tt.buf)
			for {
				n, err := rc.Read(buf)
				start := len(got)
				got = append(got, buf[:n]...)
				for _, e := range ends {
					if start < e && e < len(got) {
						t.Fatalf("a read of [%d, %d) crosses the record end at %d", start, len(got), e)
					}
				}
				if rc.idle() && !slices.Contains(ends, len(got)) {
					t.Fatalf("idle() inside a record, at %d", len(got))
				}
				if err != nil {
					break
				}
			}
			if !bytes.Equal(got, stream) {
				t.Fatalf("read %d bytes, want the %d of the stream", len(got), len(stream))
			}
			if !rc.idle() {
				t.Error("not idle at the end of the stream")
			}
		})
	}
}
