// Package listeners accepts client connections over tcp, tls, ws and wss
// (optionally behind a PROXY protocol proxy) and hands each one to the
// engine as a net.Conn with its metadata. Everything slow about a new
// connection — the PROXY header, the TLS handshake, the HTTP upgrade — runs
// on that connection's own goroutine, never in the accept loop.
package listeners

import (
	"context"
	"crypto/tls"
	"net"
)

// Transport names how a client reached the gateway.
type Transport string

// Transports.
const (
	TCP Transport = "tcp"
	TLS Transport = "tls"
	WS  Transport = "ws"
	WSS Transport = "wss"
)

// Meta describes an accepted connection. It is read-only once handed over.
type Meta struct {
	// Listener is the name of the listener that accepted the connection.
	Listener string
	// Transport is how the client connected.
	Transport Transport
	// RemoteAddr is the client's real address (after PROXY protocol or a
	// trusted X-Forwarded-For, where configured).
	RemoteAddr net.Addr
	// LocalAddr is the address the client connected to.
	LocalAddr net.Addr
	// TLS is the TLS state once the handshake is done; nil for plain
	// transports.
	TLS *tls.ConnectionState
	// Request is what a WebSocket connection keeps of its HTTP upgrade
	// request: its headers and query (UpgradeRequest); nil otherwise.
	Request *UpgradeRequest
	// ProxyTLS is what a TLS-terminating proxy reported in its PROXY v2
	// header; nil when there was no such header.
	ProxyTLS *ProxyTLS
	// Ticket is the connection's admission (Config.Gate); nil without a
	// gate. The Handler releases it when the connection ends.
	Ticket Ticket
}

// Handler takes over an accepted connection. It runs on its own goroutine
// and owns conn: it must close it.
type Handler func(conn net.Conn, meta *Meta)

// Listener accepts connections and hands each one to a Handler.
//
// Serve blocks until ctx is cancelled or Close is called, then returns
// nil; it returns an error only when accepting fails for good. Serve is
// called once. Close stops accepting; it does not close connections
// already handed over. Addr is valid once the listener is created.
type Listener interface {
	Name() string
	Addr() net.Addr
	Serve(ctx context.Context, h Handler) error
	Close() error
}
