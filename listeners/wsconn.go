package listeners

import (
	"bufio"
	"errors"
	"io"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
)

// closeFrameTimeout bounds writing a close frame.
const closeFrameTimeout = time.Second

// errTextFrame ends a connection whose client sent a text message.
var errTextFrame = errors.New("websocket: text message received; mqtt needs binary")

// NewWSConn adapts a WebSocket connection to a net.Conn byte stream, the
// way MQTT over WebSocket works: MQTT packets travel in binary messages,
// a packet may span messages and a message may hold several packets, so
// Read drains one message and moves on to the next; each Write is one
// binary message. A text message ends the connection with close code
// 1003 [RFC 6455 7.4.1]. remote, when not nil, is reported as the remote
// address (the real client's behind a proxy).
//
// One goroutine may Read while another Writes; Close and CloseWrite may
// be called from any goroutine.
func NewWSConn(ws *websocket.Conn, remote net.Addr) net.Conn {
	return &wsConn{ws: ws, remote: remote}
}

type wsConn struct {
	ws     *websocket.Conn
	remote net.Addr
	// br is the read buffer ws reads frames through, and raw the socket
	// under it, for WaitReadable; raw is nil when unknown, not a plain
	// socket, or when compression may buffer inside messages.
	br  *bufio.Reader
	raw syscall.RawConn
	// tls is the TLS connection under a wss connection read one record
	// at a time (wss.go); nil otherwise.
	tls  *tlsIdleConn
	r    io.Reader // the current message; reader goroutine only
	rerr error     // sticky read error; reader goroutine only
	// drained: the socket was drained after rerr; reader goroutine only.
	drained bool

	// closeOnce guards the one close frame; it is also spent when a read
	// fails, as gorilla has then answered or sent a close frame itself.
	closeOnce sync.Once
}

// Read reads the stream. After it failed once, the next Read lingers: it
// discards what the peer still sends until the peer closes or
// closeFrameTimeout passes, then returns the error again, so that the
// close frame sent (1003, 1009, or the answer to the peer's) is read
// rather than lost to a reset caused by unread data (RFC 6455 7.1.1: the
// server closes the TCP connection after the closing handshake).
func (c *wsConn) Read(b []byte) (int, error) {
	if c.rerr != nil {
		if !c.drained {
			c.drained = true
			nc := c.ws.NetConn()
			nc.SetReadDeadline(time.Now().Add(closeFrameTimeout))
			io.Copy(io.Discard, nc)
		}
		return 0, c.rerr
	}
	for {
		if c.r == nil {
			typ, r, err := c.ws.NextReader()
			if err != nil {
				return 0, c.fail(readError(err))
			}
			if typ != websocket.BinaryMessage {
				// 1003: data of a type it cannot accept [RFC 6455 7.4.1].
				c.sendClose(websocket.CloseUnsupportedData, "mqtt needs binary messages")
				return 0, c.fail(errTextFrame)
			}
			c.r = r
		}
		n, err := c.r.Read(b)
		if errors.Is(err, io.EOF) {
			c.r = nil
			if n > 0 || len(b) == 0 {
				return n, nil
			}
			continue
		}
		if err != nil {
			return n, c.fail(readError(err))
		}
		return n, nil
	}
}

// WaitReadable implements IdleWaiter: with nothing in the read buffer and
// the current message either finished or waiting for the rest of its
// frame's payload, the next bytes can only come from the socket, so it
// waits on the socket itself.
func (c *wsConn) WaitReadable() error {
	if !c.quiet() {
		return nil
	}
	return waitReadable(c.raw)
}

// quiet reports whether the next bytes can only come from the socket:
// nothing in the read buffer, and the current message either finished or
// waiting for the rest of its frame's payload. Reader only.
func (c *wsConn) quiet() bool {
	if c.raw == nil || c.rerr != nil {
		return false
	}
	if c.r != nil {
		// A zero-length read ends a finished message without I/O
		// (gorilla reports io.EOF only on the read after the last byte);
		// it reads on only where Read would, for a continuation frame.
		_, err := c.r.Read(nil)
		if errors.Is(err, io.EOF) {
			c.r = nil
		} else if err != nil {
			return false // Read reports it
		}
	}
	return c.br.Buffered() == 0 && (c.tls == nil || c.tls.quiet())
}

// fail makes err sticky. gorilla has sent a close frame for a protocol
// error (1002), an oversize message (1009) or the peer's close frame; no
// other is sent.
func (c *wsConn) fail(err error) error {
	c.rerr = err
	c.closeOnce.Do(func() {})
	return err
}

// readError maps the peer's normal closure to io.EOF; gorilla has already
// answered an oversize message with 1009 [RFC 6455 7.4.1] and a protocol
// error with 1002.
func readError(err error) error {
	if websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway, websocket.CloseNoStatusReceived) {
		return io.EOF
	}
	return err
}

// Write sends b as one binary message.
func (c *wsConn) Write(b []byte) (int, error) {
	if err := c.ws.WriteMessage(websocket.BinaryMessage, b); err != nil {
		return 0, err
	}
	return len(b), nil
}

// CloseWrite starts the closing handshake (close code 1000, RFC 6455
// 5.5.1) unless a close frame went already, then half-closes the
// underlying connection: the peer answers with its own close frame and
// closes, which Read reports as io.EOF.
func (c *wsConn) CloseWrite() error {
	if err := c.sendClose(websocket.CloseNormalClosure, ""); err != nil && !errors.Is(err, errCloseSent) {
		return err
	}
	if cw, ok := c.ws.NetConn().(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// errCloseSent: a close frame went already.
var errCloseSent = errors.New("websocket: close frame already sent")

func (c *wsConn) sendClose(code int, text string) error {
	err := errCloseSent
	c.closeOnce.Do(func() {
		err = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, text), time.Now().Add(closeFrameTimeout))
	})
	return err
}

// Close closes the connection, sending a close frame first unless one
// went already.
func (c *wsConn) Close() error {
	c.closeOnce.Do(func() {
		c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(closeFrameTimeout))
	})
	return c.ws.Close()
}

func (c *wsConn) LocalAddr() net.Addr { return c.ws.LocalAddr() }

func (c *wsConn) RemoteAddr() net.Addr {
	if c.remote != nil {
		return c.remote
	}
	return c.ws.RemoteAddr()
}

func (c *wsConn) SetDeadline(t time.Time) error {
	if err := c.ws.SetReadDeadline(t); err != nil {
		return err
	}
	return c.ws.SetWriteDeadline(t)
}

func (c *wsConn) SetReadDeadline(t time.Time) error  { return c.ws.SetReadDeadline(t) }
func (c *wsConn) SetWriteDeadline(t time.Time) error { return c.ws.SetWriteDeadline(t) }
