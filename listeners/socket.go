package listeners

import (
	"net"
	"syscall"
)

// Socket returns the socket under a connection handed to a Handler, so
// that an idle connection can be watched without a goroutine
// (gateway/internal/park); nil when it cannot be: under a PROXY protocol
// wrapper, net/http's TLS (wss) or permessage-deflate, bytes may wait
// above the socket where watching it would not see them.
//
// A connection that implements IdleWaiter may only be left unwatched
// during WaitReadable, which returns when its bytes are on the socket;
// any other (tcp) after a Read at a packet boundary that read nothing.
func Socket(c net.Conn) syscall.RawConn {
	switch c := c.(type) {
	case *tlsIdleConn:
		return c.raw
	case *wsConn:
		return c.raw
	}
	return rawConnOf(c)
}

// Quiet reports whether every byte still to come of c, a connection
// Socket watches, is on its socket: crypto/tls and the WebSocket reader
// hold none. Plain sockets always are. From the reading goroutine only,
// between reads.
func Quiet(c net.Conn) bool {
	switch c := c.(type) {
	case *tlsIdleConn:
		return c.quiet()
	case *wsConn:
		return c.quiet()
	}
	return true
}
