package listeners

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"
)

// defaultHandshakeTimeout bounds a TLS handshake when the source sets no
// handshake_timeout.
const defaultHandshakeTimeout = 10 * time.Second

// ListenTLS binds cfg.Address for MQTT over TLS with cfg.TLS. The
// handshake runs on each connection's goroutine, bounded by
// cfg.HandshakeTimeout, before the connection is handed over, so that
// Meta.TLS holds the negotiated state (version, cipher suite, server
// name, peer certificates). Failed handshakes are closed and logged at
// debug.
func ListenTLS(cfg Config) (*TCPListener, error) {
	if cfg.TLS == nil {
		return nil, errors.New("listening with tls: no tls configuration")
	}
	return listenStream(cfg, TLS, cfg.TLS)
}

// handshake runs the server side of a TLS handshake on conn within
// timeout, or until ctx ends. It bounds the handshake with a deadline on
// conn rather than HandshakeContext, which would start a watcher
// goroutine (and a timer) per handshake; ctx ending moves the deadline
// to the past, which fails the handshake the same way. The deadline is
// cleared on success.
func handshake(ctx context.Context, conn net.Conn, cfg *tls.Config, timeout time.Duration) (*tls.Conn, error) {
	tc := tls.Server(conn, cfg)
	conn.SetDeadline(time.Now().Add(timeout))
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	err := tc.Handshake()
	if !stop() {
		// ctx ended: the deadline may be in the past whatever err is.
		return nil, fmt.Errorf("handshaking: %w", context.Cause(ctx))
	}
	if err != nil {
		return nil, fmt.Errorf("handshaking: %w", err)
	}
	conn.SetDeadline(time.Time{})
	return tc, nil
}
