package listeners

import (
	"crypto/tls"
	"errors"
	"io"
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

// Read reads the connection. A client that spoke plain HTTP instead of
// TLS is answered 400 on the socket, as net/http answers on its TLS
// connections.
func (w *wssConn) Read(b []byte) (int, error) {
	n, err := w.c.Read(b)
	var re tls.RecordHeaderError
	if err != nil && errors.As(err, &re) && re.Conn != nil && looksLikeHTTP(re.RecordHeader) {
		io.WriteString(re.Conn, "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n")
	}
	return n, err
}

// looksLikeHTTP reports whether a TLS record header is the start of an
// HTTP request.
func looksLikeHTTP(hdr [5]byte) bool {
	switch string(hdr[:]) {
	case "GET /", "HEAD ", "POST ", "PUT /", "OPTIO":
		return true
	}
	return false
}

func (w *wssConn) Write(b []byte) (int, error)        { return w.c.Write(b) }
func (w *wssConn) Close() error                       { return w.c.Close() }
func (w *wssConn) CloseWrite() error                  { return w.c.CloseWrite() }
func (w *wssConn) LocalAddr() net.Addr                { return w.c.LocalAddr() }
func (w *wssConn) RemoteAddr() net.Addr               { return w.c.RemoteAddr() }
func (w *wssConn) SetDeadline(t time.Time) error      { return w.c.SetDeadline(t) }
func (w *wssConn) SetReadDeadline(t time.Time) error  { return w.c.SetReadDeadline(t) }
func (w *wssConn) SetWriteDeadline(t time.Time) error { return w.c.SetWriteDeadline(t) }
