package listeners

import (
	"net"
	"syscall"
)

// IdleWaiter is implemented by the connections a Handler gets whose Read
// blocks deep inside a protocol stack (ws: the WebSocket frame reader).
// A reader calls WaitReadable before a Read when it has nothing buffered:
// an idle connection then waits on a shallow stack, so that its goroutine
// keeps the smallest stack (2 KiB) instead of the one the blocked frame
// reader grew.
//
// WaitReadable blocks until the socket has bytes or an end of stream to
// read, and returns nil at once when bytes may already be buffered above
// the socket (then Read does not block for them). It obeys the read
// deadline; its errors (deadline, closed connection) are those Read would
// return. It must only be called from the reading goroutine.
type IdleWaiter interface {
	WaitReadable() error
}

// rawConnOf returns the socket under c when nothing buffers between
// them (the admission wrapper, a TCP socket); nil otherwise (PROXY
// protocol wrapper, TLS), where waiting on the socket could miss buffered
// bytes.
func rawConnOf(c net.Conn) syscall.RawConn {
	if g, ok := c.(*gatedConn); ok {
		c = g.Conn
	}
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return nil
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}
