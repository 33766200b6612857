package listeners

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"go.uber.org/zap"
)

// TCPListener serves MQTT over a TCP socket: plain (tcp) or, with a TLS
// configuration, over TLS (tls.go). Both may sit behind a PROXY protocol
// proxy (proxy.go).
type TCPListener struct {
	name      string
	transport Transport
	raw       net.Listener // the socket, for Addr
	ln        net.Listener // raw, possibly wrapped for the PROXY protocol
	tls       *tls.Config
	hsTimeout time.Duration
	onHS      func(time.Duration) // Config.OnHandshake
	log       *zap.Logger
	gate      Gate
	trusted   []netip.Prefix // PROXY protocol peers, for the gate
	once      sync.Once
}

// ListenTCP binds address for the plain tcp listener called name.
func ListenTCP(name, address string) (*TCPListener, error) {
	return listenStream(Config{Name: name, Address: address}, TCP, nil)
}

// ListenTCPConfig binds cfg.Address for plain MQTT over TCP, with the
// PROXY protocol when cfg.Proxy sets trusted peers.
func ListenTCPConfig(cfg Config) (*TCPListener, error) {
	return listenStream(cfg, TCP, nil)
}

// Config is the part of a listener's configuration the listeners package
// needs; the gateway fills it from configs.Listener.
type Config struct {
	// Name and Address are the listener's name and host:port.
	Name, Address string
	// TLS is the server configuration of tls and wss listeners; shared,
	// never modified.
	TLS *tls.Config
	// HandshakeTimeout bounds the TLS handshake and, on ws and wss, the
	// HTTP upgrade request (default 10s).
	HandshakeTimeout time.Duration
	// Proxy enables the PROXY protocol (tcp, tls, ws).
	Proxy ProxyConfig
	// WebSocket configures ws and wss.
	WebSocket WSConfig
	// Log receives debug messages about refused connections; nil: none.
	Log *zap.Logger
	// Gate admits sockets right after accept (admission.go); nil admits
	// all. The admitted connection's Ticket is in its Meta.
	Gate Gate
	// OnHandshake, when set, is called by tls listeners with the duration
	// of each successful TLS handshake, on the connection's goroutine
	// (wss handshakes run inside net/http and are not reported).
	OnHandshake func(time.Duration)
}

func listenStream(cfg Config, transport Transport, tcfg *tls.Config) (*TCPListener, error) {
	raw, err := net.Listen("tcp", cfg.Address)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", cfg.Address, err)
	}
	log := cfg.Log
	if log == nil {
		log = zap.NewNop()
	}
	hs := cfg.HandshakeTimeout
	if hs <= 0 {
		hs = defaultHandshakeTimeout
	}
	return &TCPListener{
		name: cfg.Name, transport: transport, raw: raw, ln: withProxy(raw, cfg.Proxy),
		tls: tcfg, hsTimeout: hs, onHS: cfg.OnHandshake, log: log, gate: cfg.Gate, trusted: cfg.Proxy.Trusted,
	}, nil
}

// Name returns the listener's name.
func (l *TCPListener) Name() string { return l.name }

// Addr returns the bound address.
func (l *TCPListener) Addr() net.Addr { return l.raw.Addr() }

// Close stops accepting.
func (l *TCPListener) Close() error {
	var err error
	l.once.Do(func() { err = l.ln.Close() })
	return err
}

// Serve accepts connections until ctx is cancelled or Close is called.
// Each connection's PROXY header and TLS handshake run on its own
// goroutine, which then becomes the Handler's.
func (l *TCPListener) Serve(ctx context.Context, h Handler) error {
	stop := context.AfterFunc(ctx, func() { l.Close() })
	defer stop()
	return acceptLoop(ctx, l.name, l.ln, l.gate, l.trusted, func(conn net.Conn, t Ticket) { l.handle(ctx, conn, t, h) })
}

// handle prepares one accepted connection and hands it over.
func (l *TCPListener) handle(ctx context.Context, conn net.Conn, t Ticket, h Handler) {
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	meta := &Meta{Listener: l.name, Transport: l.transport, RemoteAddr: conn.RemoteAddr(), LocalAddr: conn.LocalAddr(), Ticket: t}
	if err := readProxyHeader(conn, meta); err != nil {
		l.log.Debug("connection refused", zap.String("listener", l.name), zap.Stringer("peer", conn.RemoteAddr()), zap.Error(err))
		release(t)
		conn.Close()
		return
	}
	if t != nil && !t.Rebind(meta.RemoteAddr) {
		// The per-IP limits again, for the client behind the proxy.
		l.log.Debug("connection refused", zap.String("listener", l.name), zap.Stringer("remote_addr", meta.RemoteAddr), zap.String("reason", "admission"))
		release(t)
		conn.Close()
		return
	}
	if l.tls != nil {
		// On a plain socket, TLS records are read one at a time so that
		// idle connections can wait on the socket (tlsidle.go).
		raw := rawConnOf(conn)
		var rc *recordConn
		under := conn
		if raw != nil {
			rc = &recordConn{Conn: conn}
			under = rc
		}
		start := time.Now()
		tc, err := handshake(ctx, under, l.tls, l.hsTimeout)
		if err == nil && l.onHS != nil {
			l.onHS(time.Since(start))
		}
		if err != nil {
			l.log.Debug("tls handshake failed", zap.String("listener", l.name), zap.Stringer("remote_addr", meta.RemoteAddr), zap.Error(err))
			release(t)
			conn.Close()
			return
		}
		st := tc.ConnectionState()
		meta.TLS = &st
		conn = tc
		if rc != nil {
			conn = &tlsIdleConn{Conn: tc, rc: rc, raw: raw, drained: true}
		}
	}
	h(conn, meta)
}

// acceptLoop accepts on ln and runs serve for each connection that gate
// admits on a new goroutine, until ln is closed. Refused sockets are
// closed at once.
func acceptLoop(ctx context.Context, name string, ln net.Listener, gate Gate, trusted []netip.Prefix, serve func(net.Conn, Ticket)) error {
	var delay time.Duration
	for {
		conn, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			// Temporary failures (e.g. out of file descriptors): back off
			// rather than spin, as net/http does.
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporary(err) {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				select {
				case <-time.After(delay):
					continue
				case <-ctx.Done():
					return nil
				}
			}
			return fmt.Errorf("accepting on %s: %w", name, err)
		}
		delay = 0
		t, ok := admit(gate, conn, trusted)
		if !ok {
			conn.Close()
			continue
		}
		go serve(conn, t)
	}
}

func isTemporary(err error) bool {
	var t interface{ Temporary() bool }
	return errors.As(err, &t) && t.Temporary()
}
