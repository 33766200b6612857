package listeners

import (
	"net"
	"net/netip"

	"github.com/pires/go-proxyproto"
)

// Gate admits connections before any work is spent on them: it is asked
// in the accept loop, with the socket's peer address, before the PROXY
// header, the TLS handshake or the WebSocket upgrade.
type Gate interface {
	// Admit decides on a new socket from peer. A refused socket is closed
	// without a word; an admitted one carries the Ticket until its end.
	// proxied is set when peer is a trusted proxy: the per-address limits
	// then wait for the client's address (Ticket.Rebind), so that a load
	// balancer's own address is not limited as one client.
	Admit(peer net.Addr, proxied bool) (Ticket, bool)
}

// Ticket is an admitted connection's place in the Gate's accounting.
type Ticket interface {
	// Rebind applies the per-address limits to the client's real
	// address, learnt from a trusted proxy (PROXY header, X-Forwarded-For),
	// moving the accounting there; false refuses the connection (the
	// caller then releases the ticket and closes). It is a no-op for the
	// address already accounted.
	Rebind(real net.Addr) bool
	// Release ends the ticket; it is idempotent.
	Release()
}

// peerAddr is the socket's own peer address, without reading a PROXY
// header (a proxyproto.Conn's RemoteAddr would read it).
func peerAddr(conn net.Conn) net.Addr {
	if pc, ok := conn.(*proxyproto.Conn); ok {
		return pc.Raw().RemoteAddr()
	}
	return conn.RemoteAddr()
}

// admit asks gate about conn, proxied when its peer is in trusted; a nil
// gate admits everything.
func admit(gate Gate, conn net.Conn, trusted []netip.Prefix) (Ticket, bool) {
	if gate == nil {
		return nil, true
	}
	peer := peerAddr(conn)
	return gate.Admit(peer, trusts(trusted, peer))
}

// release releases t if there is one.
func release(t Ticket) {
	if t != nil {
		t.Release()
	}
}

// gatedListener admits sockets in Accept (for the ws listener, whose
// accept loop is http.Server's): refused ones are closed there, admitted
// ones carry their Ticket in a gatedConn, released when it is closed.
type gatedListener struct {
	net.Listener
	gate    Gate
	trusted []netip.Prefix // proxies (PROXY protocol, X-Forwarded-For)
}

func (l *gatedListener) Accept() (net.Conn, error) {
	for {
		conn, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		t, ok := admit(l.gate, conn, l.trusted)
		if !ok {
			conn.Close()
			continue
		}
		return &gatedConn{Conn: conn, ticket: t}, nil
	}
}

// gatedConn is an admitted socket of a gatedListener.
type gatedConn struct {
	net.Conn
	ticket Ticket
}

func (c *gatedConn) Close() error {
	release(c.ticket)
	return c.Conn.Close()
}

// withGate wraps ln with gate; a nil gate leaves it as is.
func withGate(ln net.Listener, gate Gate, trusted []netip.Prefix) net.Listener {
	if gate == nil {
		return ln
	}
	return &gatedListener{Listener: ln, gate: gate, trusted: trusted}
}

// ticketOfConn finds the Ticket of an http connection of a gated
// listener: under TLS and the PROXY protocol wrappers.
func ticketOfConn(c net.Conn) Ticket {
	if tc, ok := c.(interface{ NetConn() net.Conn }); ok {
		c = tc.NetConn()
	}
	if rc, ok := c.(*recordConn); ok {
		c = rc.Conn
	}
	if pc, ok := c.(*proxyproto.Conn); ok {
		c = pc.Raw()
	}
	if gc, ok := c.(*gatedConn); ok {
		return gc.ticket
	}
	return nil
}
