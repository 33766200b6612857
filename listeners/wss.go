package listeners

import (
	"crypto/tls"
	"net"
	"time"
)

// wssListener is the TLS layer of a wss listener. On a plain socket it
// hands net/http a TLS connection that reads one record at a time
// (tlsIdleConn over a recordConn, tlsidle.go), so that once upgraded an
// idle WebSocket connection can wait on its socket like a tls one. It is
// wrapped in a wssConn, which is neither a *tls.Conn nor has its
// ConnectionState, so that net/http serves it as a plain connection: the
// handshake runs in its first read of the request, within the
// ReadHeaderTimeout, and the upgrade takes the TLS state from the
// connection once the handshake is done (upgrade). ALPN is the TLS
// configuration's, as before; net/http never switches such a connection
// to HTTP/2, which wss does not offer. Under a PROXY protocol wrapper the
// connection stays a *tls.Conn.
type wssListener struct {
	net.Listener
	cfg *tls.Config
}

func (l *wssListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	raw := rawConnOf(c)
	if raw == nil {
		return tls.Server(c, l.cfg), nil
	}
	rc := &recordConn{Conn: c}
	return &wssConn{c: &tlsIdleConn{Conn: tls.Server(rc, l.cfg), rc: rc, raw: raw, drained: true}}, nil
}

// wssConn hides its TLS connection's type and state from net/http
// (wssListener).
type wssConn struct{ c *tlsIdleConn }

func (w *wssConn) Read(b []byte) (int, error)         { return w.c.Read(b) }
func (w *wssConn) Write(b []byte) (int, error)        { return w.c.Write(b) }
func (w *wssConn) Close() error                       { return w.c.Close() }
func (w *wssConn) CloseWrite() error                  { return w.c.CloseWrite() }
func (w *wssConn) LocalAddr() net.Addr                { return w.c.LocalAddr() }
func (w *wssConn) RemoteAddr() net.Addr               { return w.c.RemoteAddr() }
func (w *wssConn) SetDeadline(t time.Time) error      { return w.c.SetDeadline(t) }
func (w *wssConn) SetReadDeadline(t time.Time) error  { return w.c.SetReadDeadline(t) }
func (w *wssConn) SetWriteDeadline(t time.Time) error { return w.c.SetWriteDeadline(t) }
