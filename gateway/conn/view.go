package conn

// What the server reads of a connection, for the admin API, the metrics
// and the drain: read-only, safe from any goroutine. A connection
// publishes its client once the handshake succeeded (markConnected): what
// CONNECT set (the channel's Negotiated, its user name, its session) is
// never written again, so another goroutine that saw ConnectedAt report
// true may read them.

import (
	"edgemq/gateway/proto"
	"time"
)

// markConnected publishes the connection to the admin API. It runs on the
// connection's goroutine once the handshake succeeded.
func (c *Conn) markConnected() { c.connectedAt.Store(time.Now().UnixNano()) }

// ConnectedAt returns when the handshake succeeded, and false before
// (then the channel's connection state must not be read).
func (c *Conn) ConnectedAt() (time.Time, bool) {
	at := c.connectedAt.Load()
	if at == 0 {
		return time.Time{}, false
	}
	return time.Unix(0, at), true
}

// Channel returns the connection's channel: its metadata, and what
// CONNECT settled once ConnectedAt reports true.
func (c *Conn) Channel() *proto.Channel { return &c.ch }

// Sent returns what was written to the client: PUBLISH packets, and
// bytes.
func (c *Conn) Sent() (msgs, bytes int64) { return c.out.sentMsgs.Load(), c.out.sentBytes.Load() }

// QueueDepth returns the number of queued outbound packets and their
// payload bytes. It takes writeQueue.mu, a leaf.
func (c *Conn) QueueDepth() (items int, bytes int64) { return c.out.depth() }

// Abort closes the socket at once, dropping what is queued: the end of a
// drain whose shutdown timeout passed.
func (c *Conn) Abort() { c.out.abort() }

// HasAuthTimer reports whether the channel ever asked for its
// credential-expiry timer. The timer is set under the expiry's lock
// (conn_timers.go): read it only when no credential of the connection
// can expire meanwhile.
func (c *Conn) HasAuthTimer() bool { return c.authTimer != nil }
