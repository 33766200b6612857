package listeners

import (
	"bytes"
	"crypto/tls"
	"net"
	"syscall"
)

// TLS idle waits (IdleWaiter on tls connections).
//
// crypto/tls keeps what it read and decrypted to itself, so waiting on
// the socket is only safe when it holds nothing: recordConn sits between
// it and the socket and never hands it bytes past the end of the record
// it is reading (bytes read beyond are kept and handed out first on the
// next Read), so once a record is done crypto/tls holds no raw bytes;
// tlsIdleConn notes whether its last Read drained the decrypted ones.
// Both together mean every byte still to come is on the socket.

// tlsRecordHeaderLen is the size of a TLS record header: type, version,
// length (RFC 8446 5.1).
const tlsRecordHeaderLen = 5

// recordConn reads a TLS byte stream one record at a time. Reads come
// from one goroutine at a time (crypto/tls's input lock).
type recordConn struct {
	net.Conn
	hdr  [tlsRecordHeaderLen]byte
	nh   int    // header bytes read of the current record
	body int    // body bytes still to come of the current record
	pend []byte // bytes read past the current record, handed out first
	err  error  // the socket's error, returned once pend is handed out
}

// idle reports whether the stream is between records with nothing kept.
func (c *recordConn) idle() bool { return c.nh == 0 && len(c.pend) == 0 }

func (c *recordConn) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	if len(c.pend) > 0 {
		n := c.advance(c.pend[:min(len(b), len(c.pend))])
		copy(b, c.pend[:n])
		if c.pend = c.pend[n:]; len(c.pend) == 0 {
			c.pend = nil
		}
		return n, nil
	}
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.Conn.Read(b)
	if cut := c.advance(b[:n]); cut < n {
		// Keep what follows the record for the next Reads.
		c.pend = bytes.Clone(b[cut:n])
		n = cut
		c.err, err = err, nil
	}
	return n, err
}

// advance follows the record framing over p, the next bytes of the
// stream, and returns the length of p up to the end of the first record
// that ends in it (len(p) if none does).
func (c *recordConn) advance(p []byte) int {
	i := 0
	for i < len(p) {
		if c.nh < tlsRecordHeaderLen {
			k := copy(c.hdr[c.nh:], p[i:])
			c.nh += k
			i += k
			if c.nh < tlsRecordHeaderLen {
				return i
			}
			c.body = int(c.hdr[3])<<8 | int(c.hdr[4])
		}
		k := min(c.body, len(p)-i)
		c.body -= k
		i += k
		if c.body == 0 {
			c.nh = 0
			return i
		}
	}
	return i
}

// tlsIdleConn is a server TLS connection over a recordConn on a plain
// socket; it implements IdleWaiter. All other methods are *tls.Conn's.
type tlsIdleConn struct {
	*tls.Conn
	rc  *recordConn
	raw syscall.RawConn
	// drained: the last Read returned less than asked, so crypto/tls
	// holds no decrypted bytes (true after the handshake). Reader only.
	drained bool
}

func (c *tlsIdleConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.drained = n < len(b)
	return n, err
}

// WaitReadable implements IdleWaiter.
func (c *tlsIdleConn) WaitReadable() error {
	if !c.quiet() {
		return nil
	}
	return waitReadable(c.raw)
}

// quiet reports whether crypto/tls holds no byte, decrypted or raw, so
// that every byte still to come is on the socket. Reader only.
func (c *tlsIdleConn) quiet() bool { return c.drained && c.rc.idle() }
