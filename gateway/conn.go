package gateway

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"time"

	"edgemq/listeners"
	"edgemq/mqtt"

	"go.uber.org/zap"
)

// writeTimeout bounds one write to a client; a client that reads nothing
// for this long is disconnected.
const writeTimeout = 30 * time.Second

// closeGrace bounds how long a closing connection may take to flush its
// last packets.
const closeGrace = 5 * time.Second

// conn is the I/O of one client connection: the read loop with its
// deadlines, and the write queue. The protocol lives in channel.
type conn struct {
	nc   net.Conn
	rd   mqtt.Reader
	out  *writeQueue
	ch   channel
	srv  *Server
	lst  *listenerState
	born time.Time
}

// serve runs a connection's handshake on the calling goroutine, then its
// read loop on a new one: the handshake's deep stack (authentication,
// logging) is not kept by an idle connection.
func (s *Server) serve(ctx context.Context, nc net.Conn, meta *listeners.Meta, lst *listenerState) {
	c := &conn{nc: nc, srv: s, lst: lst, born: time.Now()}
	enc := &encoder{version: mqtt.V311, problemInfo: true, stats: s.eng.stats}
	wc := writeConn(nc)
	_, enc.writev = wc.(*net.TCPConn)
	c.out = newWriteQueue(wc, enc, queueLimits{s.cfg.Session.MaxOutboundQueue, s.cfg.Session.MaxOutboundBytes}, writeTimeout, s.eng.stats)
	c.ch = channel{env: s.eng, meta: meta, prof: lst.prof, auth: lst.auth, out: c.out, enc: enc, log: s.log}
	c.rd.Reset(nc, lst.prof.MaxPacketSize, &s.bufs)
	if !s.track(c) {
		releaseTicket(meta)
		nc.Close()
		return
	}
	if !c.handshake(ctx) {
		c.rd.Release()
		c.finish()
		s.untrack(c)
		return
	}
	if t := ticketOf(meta); t != nil {
		t.authenticated()
	}
	s.eng.stats.connections.Add(1)
	go c.readLoop()
}

// writeConn is the connection the write queue writes to: the socket
// itself under a PROXY protocol wrapper (whose header has been read
// before the handover, so its Write only forwards), so that large
// payloads still go out with writev; nc otherwise.
func writeConn(nc net.Conn) net.Conn {
	if u, ok := nc.(interface{ TCPConn() (*net.TCPConn, bool) }); ok {
		if tc, ok := u.TCPConn(); ok {
			return tc
		}
	}
	return nc
}

// handshake reads and answers CONNECT. It reports whether the client is
// connected; if not, the answer (if any) is queued and the queue closing.
func (c *conn) handshake(ctx context.Context) bool {
	ch := &c.ch
	// The first packet must be CONNECT [MQTT-3.1.0-1], within the
	// connect timeout.
	deadline := c.born.Add(c.srv.connectTimeout(ch.prof.ConnectTimeout))
	c.nc.SetReadDeadline(deadline)
	p, err := c.rd.ReadPacket(0)
	if err != nil {
		cp, _ := p.(*mqtt.Connect)
		if cp == nil && isPacketError(err) {
			ch.logAt(zap.DebugLevel, "bad first packet", zap.Error(err))
		}
		ch.refuseMalformed(cp, err)
		return false
	}
	connect, ok := p.(*mqtt.Connect)
	if !ok {
		ch.logAt(zap.DebugLevel, "first packet is not connect", zap.Stringer("type", p.Type()))
		ch.out.close(nil)
		return false
	}
	if ticketOf(ch.meta) != nil && c.srv.adm.busy() {
		// A reconnect storm: some clients are told to come back later
		// (admission.go).
		ch.refuse(connect, mqtt.ServerBusy)
		return false
	}
	t0 := time.Now()
	c.srv.eng.stats.pkt.countIn(mqtt.CONNECT)
	actx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	ok = ch.connect(actx, connect)
	for ch.authPending() {
		// An enhanced authentication exchange (enhauth.go), within the
		// same deadline.
		p, err := c.rd.ReadPacket(mqtt.V5)
		ok = ch.continueConnectAuth(actx, p, err)
	}
	c.srv.metrics.observeConnect(c.lst.cfg.Name, time.Since(t0)) // metrics.go
	return ok
}

// readLoop reads and handles a connected client's packets until the
// connection ends.
func (c *conn) readLoop() {
	ch := &c.ch
	stats := c.srv.eng.stats
	v := ch.neg.Version
	// Keep Alive: one and a half times the value in force
	// [MQTT-3.1.2-24 of 3.1.1, MQTT-3.1.2-22 of 5.0].
	ka := time.Duration(ch.neg.KeepAlive) * 1500 * time.Millisecond
	c.nc.SetReadDeadline(time.Time{})
	for {
		if ka > 0 {
			c.nc.SetReadDeadline(time.Now().Add(ka))
		}
		p, err := c.rd.ReadPacket(v)
		if ch.kicked.Load() {
			// Disconnected by the server (takeover, shutdown): nothing
			// read after that is acted on.
			break
		}
		if err == nil {
			stats.pkt.countIn(p.Type()) // metrics.go
			err = ch.handle(p)
		}
		if err != nil {
			c.fail(err)
			break
		}
	}
	c.rd.Release()
	ch.closed()
	c.finish()
	stats.connections.Add(-1)
	c.srv.untrack(c)
}

// fail ends a connected client's connection for err: v5 clients get
// DISCONNECT with its reason code when the fault is theirs
// [MQTT-4.13.1-1]; a keep alive timeout is 0x8D.
func (c *conn) fail(err error) {
	ch := &c.ch
	var code mqtt.ReasonCode
	switch {
	case errors.Is(err, errClientDisconnected):
		ch.logAt(zap.DebugLevel, "client disconnected", zap.String("client_id", ch.neg.ClientID), zap.Duration("duration", time.Since(c.born)))
		c.out.close(nil)
		return
	case errors.Is(err, os.ErrDeadlineExceeded):
		code = mqtt.KeepAliveTimeout
	case isPacketError(err):
		code = mqtt.CodeOf(err)
	default:
		// The socket closed or failed, or a takeover closed it.
		ch.logAt(zap.DebugLevel, "connection lost", zap.String("client_id", ch.neg.ClientID), zap.Error(err), zap.Duration("duration", time.Since(c.born)))
		c.out.close(nil)
		return
	}
	ch.logAt(zap.InfoLevel, "disconnecting client", zap.String("client_id", ch.neg.ClientID), zap.Stringer("reason_code", code), zap.Error(err))
	if ch.neg.Version == mqtt.V5 {
		d := &mqtt.Disconnect{ReasonCode: code}
		if ch.neg.ProblemInfo {
			d.Properties.SetString(mqtt.PropReasonString, err.Error())
		}
		c.out.close(d)
		return
	}
	c.out.close(nil)
}

// finish waits for the last packets to be written, then makes sure the
// socket is closed.
func (c *conn) finish() {
	c.out.close(nil)
	t := time.NewTimer(closeGrace)
	defer t.Stop()
	select {
	case <-c.out.closed():
		// The write side is shut: read what the peer still sends (at most
		// lingerTime, drainLimit bytes) so that closing does not reset the
		// connection before it read our last packets.
		c.nc.SetReadDeadline(time.Now().Add(lingerTime))
		io.CopyN(io.Discard, c.nc, drainLimit)
	case <-t.C:
		c.out.abort()
	}
	c.nc.Close()
}

// drainLimit bounds what a closing connection reads and discards.
const drainLimit = 64 << 10

// isPacketError reports whether err is a protocol fault of the peer (as
// opposed to I/O).
func isPacketError(err error) bool {
	var e *mqtt.Error
	var rc mqtt.ReasonCode
	return errors.As(err, &e) || errors.As(err, &rc)
}
