package listeners

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"edgemq/gateway/logsafe"

	"github.com/gorilla/websocket"
	proxyproto "github.com/pires/go-proxyproto"
	"go.uber.org/zap"
)

// Defaults of the websocket settings.
const (
	DefaultWSPath = "/mqtt"
	// wsReadSlack is added to the profile's maximum packet size for the
	// per-message read limit: a message may hold a packet plus the start
	// of the next.
	wsReadSlack = 64 << 10
	// wsReadBufferSize is each connection's read buffer (wsHijacker),
	// kept for the connection's life: it holds frame headers and control
	// frames (at most 14 + 125 bytes); a read at least this large (the
	// MQTT reader's chunk) bypasses it. gorilla would otherwise keep
	// net/http's 4 KiB one; it takes a hijacked reader over 256 bytes,
	// and 288 is the allocation size class above that.
	wsReadBufferSize = 288
)

// DefaultSubprotocols are the accepted subprotocols when none are
// configured, in preference order.
func DefaultSubprotocols() []string { return []string{"mqtt", "mqttv3.1"} }

// WSConfig configures ws and wss listeners.
type WSConfig struct {
	// Path is the upgrade path (default /mqtt).
	Path string
	// Subprotocols are accepted in this preference order (default mqtt,
	// mqttv3.1).
	Subprotocols []string
	// RequireSubprotocol refuses (HTTP 400) clients offering none of them;
	// otherwise they are served without a subprotocol.
	RequireSubprotocol bool
	// CheckOrigin refuses (HTTP 403) browsers whose Origin the origin
	// rule (origin.go) does not admit: AllowedOrigins when set, otherwise
	// the same origin as the request's Host, for a Host that is one of
	// ServerNames or a loopback name.
	CheckOrigin    bool
	AllowedOrigins []string
	// ServerNames are the host names (and addresses) the listener is
	// reached by, for the same-origin rule, besides the loopback names
	// (localhost, 127.0.0.1, ::1).
	ServerNames []string
	// Compression negotiates permessage-deflate (RFC 7692).
	Compression bool
	// MaxPacketSize is the profile's maximum packet size; the read limit
	// of one WebSocket message is that plus some slack (default 1 MiB).
	MaxPacketSize int64
	// TrustedProxies are the direct peers whose ProxyHeader is believed.
	TrustedProxies []netip.Prefix
	// ProxyHeader is the one header read from them: X-Forwarded-For
	// (also when empty) or Forwarded (RFC 7239).
	ProxyHeader ProxyHeader
	// Page, when set, is served at "/" (the diagnostic page).
	Page http.Handler
}

// WSListener serves MQTT over WebSocket (ws) or WebSocket over TLS (wss)
// with an http.Server.
//
// Choices: MQTT packets are a byte stream over binary messages (wsConn);
// the server sends no pings of its own — the client's MQTT keep alive
// (PINGREQ) keeps NAT paths open and the gateway's keep alive deadline
// ends dead connections — and answers the client's pings (gorilla's
// default handler), so an idle connection costs only its reader
// goroutine. Write buffers come from a pool and are held only while a
// write is in progress.
type WSListener struct {
	name      string
	transport Transport
	raw       net.Listener
	ln        net.Listener
	cfg       WSConfig
	origins   originRule
	readLimit int64
	timeout   time.Duration
	log       *zap.Logger
	up        websocket.Upgrader

	mu     sync.Mutex
	srv    *http.Server
	closed bool
}

// ListenWS binds cfg.Address for MQTT over WebSocket; with cfg.TLS set it
// serves wss.
func ListenWS(cfg Config) (*WSListener, error) {
	s, err := listenStream(cfg, WS, nil)
	if err != nil {
		return nil, err
	}
	// Admission right after accept, below the PROXY header and TLS
	// (admission.go).
	trusted := append(append([]netip.Prefix(nil), cfg.Proxy.Trusted...), cfg.WebSocket.TrustedProxies...)
	s.ln = withProxy(withGate(s.raw, cfg.Gate, trusted), cfg.Proxy)
	l := &WSListener{name: cfg.Name, transport: WS, raw: s.raw, ln: s.ln, cfg: cfg.WebSocket, timeout: s.hsTimeout, log: s.log}
	if cfg.TLS != nil {
		l.transport = WSS
		l.ln = &wssListener{Listener: l.ln, cfg: cfg.TLS}
	}
	if l.cfg.Path == "" {
		l.cfg.Path = DefaultWSPath
	}
	if len(l.cfg.Subprotocols) == 0 {
		l.cfg.Subprotocols = DefaultSubprotocols()
	}
	if l.cfg.ProxyHeader == "" {
		l.cfg.ProxyHeader = XForwardedFor
	}
	l.origins = newOriginRule(l.cfg.AllowedOrigins, l.cfg.ServerNames)
	l.readLimit = 1 << 20
	if cfg.WebSocket.MaxPacketSize > 0 {
		l.readLimit = cfg.WebSocket.MaxPacketSize + wsReadSlack
	}
	l.up = websocket.Upgrader{
		HandshakeTimeout:  l.timeout,
		WriteBufferPool:   &sync.Pool{},
		EnableCompression: cfg.WebSocket.Compression,
		// Origins and subprotocols are checked before Upgrade (upgrade).
		CheckOrigin: func(*http.Request) bool { return true },
	}
	return l, nil
}

// Name returns the listener's name.
func (l *WSListener) Name() string { return l.name }

// Addr returns the bound address.
func (l *WSListener) Addr() net.Addr { return l.raw.Addr() }

// Close stops accepting and closes connections not yet upgraded.
func (l *WSListener) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	if l.srv != nil {
		return l.srv.Close()
	}
	return l.ln.Close()
}

type connKey struct{}

// Serve runs the HTTP server until ctx is cancelled or Close is called.
// Each upgraded connection is handed to h on its HTTP connection's
// goroutine.
func (l *WSListener) Serve(ctx context.Context, h Handler) error {
	mux := http.NewServeMux()
	mux.HandleFunc(l.cfg.Path, func(w http.ResponseWriter, r *http.Request) { l.upgrade(w, r, h) })
	if l.cfg.Page != nil {
		mux.Handle("/", l.cfg.Page)
	}
	errLog, _ := zap.NewStdLogAt(l.log.With(zap.String("listener", l.name)), zap.DebugLevel)
	srv := &http.Server{
		Handler: mux,
		// Bounds the TLS handshake (wss) and the upgrade request.
		ReadHeaderTimeout: l.timeout,
		IdleTimeout:       l.timeout,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          errLog,
		ConnContext: func(cctx context.Context, c net.Conn) context.Context {
			return context.WithValue(cctx, connKey{}, c)
		},
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.srv = srv
	l.mu.Unlock()
	stop := context.AfterFunc(ctx, func() { l.Close() })
	defer stop()
	err := srv.Serve(l.ln)
	if errors.Is(err, http.ErrServerClosed) || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return fmt.Errorf("serving http on %s: %w", l.name, err)
}

// upgrade checks and upgrades one request, then hands the connection over.
func (l *WSListener) upgrade(w http.ResponseWriter, r *http.Request, h Handler) {
	if wc, ok := r.Context().Value(connKey{}).(*wssConn); ok && r.TLS == nil {
		// net/http served it as a plain connection (wss.go): the
		// request's TLS state is taken now that the handshake is done.
		st := wc.c.ConnectionState()
		r.TLS = &st
	}
	if l.cfg.CheckOrigin && !l.origins.allows(r) {
		// Browsers send Origin; refusing foreign ones stops other sites'
		// pages from using a visitor's browser (RFC 6455 10.2).
		l.log.Debug("websocket origin refused", zap.String("listener", l.name), logsafe.Strings("origin", r.Header.Values("Origin")), zap.String("peer", r.RemoteAddr))
		http.Error(w, "origin not allowed", http.StatusForbidden)
		return
	}
	proto := chooseSubprotocol(l.cfg.Subprotocols, r.Header)
	if proto == "" && l.cfg.RequireSubprotocol {
		l.log.Debug("websocket subprotocol missing", zap.String("listener", l.name), logsafe.Strings("offered", r.Header.Values("Sec-WebSocket-Protocol")), zap.String("peer", r.RemoteAddr))
		http.Error(w, "a subprotocol is required: "+strings.Join(l.cfg.Subprotocols, ", "), http.StatusBadRequest)
		return
	}
	var hdr http.Header
	if proto != "" {
		// The server picks one of the client's values (RFC 6455 4.2.2).
		hdr = http.Header{}
		hdr.Set("Sec-WebSocket-Protocol", proto)
	}
	hw := &wsHijacker{ResponseWriter: w}
	ws, err := l.up.Upgrade(hw, r, hdr)
	if err != nil {
		// Upgrade has answered with an HTTP error.
		l.log.Debug("websocket upgrade failed", zap.String("listener", l.name), zap.String("peer", r.RemoteAddr), zap.Error(err))
		return
	}
	ws.SetReadLimit(l.readLimit)
	nc := ws.NetConn()
	nc.SetDeadline(time.Time{})
	meta := &Meta{Listener: l.name, Transport: l.transport, RemoteAddr: nc.RemoteAddr(), LocalAddr: nc.LocalAddr(), Request: keepRequest(r)}
	var under *tlsIdleConn // wss read one record at a time (wss.go)
	if c, ok := r.Context().Value(connKey{}).(net.Conn); ok {
		if wc, ok := c.(*wssConn); ok {
			under = wc.c
			c = under.rc.Conn
		}
		if tc, ok := c.(*tls.Conn); ok {
			c = tc.NetConn()
		}
		if pc, ok := c.(*proxyproto.Conn); ok {
			meta.ProxyTLS = proxyTLSOf(pc.ProxyHeader())
		}
	}
	// net/http made r.TLS for this request alone: shared, not copied.
	meta.TLS = r.TLS
	if trusts(l.cfg.TrustedProxies, meta.RemoteAddr) {
		meta.RemoteAddr = forwardedFor(r.Header, l.cfg.ProxyHeader, meta.RemoteAddr, l.cfg.TrustedProxies)
	}
	if c, ok := r.Context().Value(connKey{}).(net.Conn); ok {
		meta.Ticket = ticketOfConn(c)
	}
	if meta.Ticket != nil && !meta.Ticket.Rebind(meta.RemoteAddr) {
		// The per-IP limits again, for the client behind the proxy.
		l.log.Debug("connection refused", zap.String("listener", l.name), zap.Stringer("remote_addr", meta.RemoteAddr), zap.String("reason", "admission"))
		nc.Close()
		return
	}
	wc := &wsConn{ws: ws, remote: meta.RemoteAddr}
	if hw.br != nil && !l.up.EnableCompression {
		wc.br, wc.raw = hw.br, rawConnOf(nc)
		if under != nil {
			wc.tls, wc.raw = under, under.raw
		}
	}
	h(wc, meta)
}

// wsHijacker hands gorilla a read buffer of wsReadBufferSize of ours in
// place of net/http's, so that the connection can tell whether it holds
// bytes (wsConn.WaitReadable). When net/http's buffer already holds some
// (data sent before the handshake completed) it is handed on as is, and
// gorilla refuses the upgrade as before.
type wsHijacker struct {
	http.ResponseWriter
	br *bufio.Reader // set by Hijack
}

func (w *wsHijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	nc, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil || brw.Reader.Buffered() > 0 {
		return nc, brw, err
	}
	w.br = bufio.NewReaderSize(nc, wsReadBufferSize)
	return nc, bufio.NewReadWriter(w.br, brw.Writer), nil
}

// Unwrap gives http.ResponseController the net/http ResponseWriter.
func (w *wsHijacker) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// chooseSubprotocol returns the first of want (the server's preference
// order) that the client offered in its Sec-WebSocket-Protocol headers,
// each a comma-separated list (RFC 6455 4.1, 11.3.4); "" when none.
func chooseSubprotocol(want []string, h http.Header) string {
	var offered []string
	for _, v := range h.Values("Sec-WebSocket-Protocol") {
		for p := range strings.SplitSeq(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				offered = append(offered, p)
			}
		}
	}
	for _, w := range want {
		for _, o := range offered {
			// Subprotocol names are case-sensitive tokens (RFC 6455 4.1).
			if o == w {
				return w
			}
		}
	}
	return ""
}
