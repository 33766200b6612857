package conn

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync/atomic"
	"time"

	"edgemq/gateway/internal/park"
	"edgemq/gateway/limits"
	"edgemq/gateway/proto"
	"edgemq/listeners"
	"edgemq/mqtt"

	"go.uber.org/zap"
)

// writeTimeout bounds one write to a client; a client that reads nothing
// for this long is disconnected.
const writeTimeout = 30 * time.Second

// CloseGrace bounds how long a closing connection may take to flush its
// last packets.
const CloseGrace = 5 * time.Second

// Conn is the I/O of one client connection: the read loop with its
// deadlines, and the write queue. The protocol lives in its channel
// (proto.Channel).
type Conn struct {
	nc  net.Conn
	rd  mqtt.Reader
	out *writeQueue
	ch  proto.Channel
	// host is the server that accepted the connection, as the connection
	// sees it. The listener's name, the logger and the counters are the
	// channel's (Meta, Log, Stats).
	host Host
	// born is when it was accepted, Unix ns.
	born int64
	// connectedAt is when the handshake succeeded, Unix ns; 0 before. It
	// publishes the client to the admin API (markConnected).
	connectedAt atomic.Int64
	// lim is the publish rate limit, nil without one (ratelimit.go).
	lim *limits.PubLimiter
	// msgsIn counts the PUBLISH packets read (read goroutine only; the
	// connection-life log, connlog.go; bytes: rd.BytesRead).
	msgsIn int64
	// authTimer is the credential-expiry timer the channel asked for
	// (conn_timers.go), nil before.
	authTimer *time.Timer
	// dl is the read deadline the read loop keeps (keep alive), kept
	// across parks; park is the connection's part in parking (park.go).
	dl   lazyDeadline
	park connPark
}

// Host is what a connection needs of the server that accepted it: its
// tracking, the checks before CONNECT is handled, the connect latency
// metric, and the end of the connection. The gateway root implements it
// per listener. A connection calls it from its own goroutine with none
// of our locks held; no method blocks or calls back into the connection.
type Host interface {
	// Track registers a new connection; false refuses it (the server is
	// shutting down, or the listener is full), and the connection is
	// closed without a word. It takes Server.mu alone.
	Track(c *Conn) bool
	// ConnectTimeout returns how long a new socket has to send CONNECT
	// (and finish any enhanced authentication), given its listener
	// profile's connect timeout (admission). It takes admission.mu
	// alone, only while a reconnect storm shortens the timeout
	// (busy_connect_timeout), and no lock otherwise.
	ConnectTimeout(profile time.Duration) time.Duration
	// AdmissionBusy reports whether a reconnect storm refuses this
	// CONNECT with Server busy, counting the refusal (admission). It
	// takes admission.mu alone.
	AdmissionBusy() bool
	// RefuseOverloaded reports whether the gateway is overloaded now, and
	// then counts the refused CONNECT (overload). Atomics only.
	RefuseOverloaded() bool
	// ObserveConnect records how long a CONNECT on listener took to
	// answer (metrics). It takes none of our locks.
	ObserveConnect(listener string, d time.Duration)
	// Untrack forgets a connection that ended, once for each connection
	// Track accepted. It takes Server.mu alone.
	Untrack(c *Conn)
}

// Config is what a connection is made of: its channel's settings (the
// listener's metadata, profile, authentication chain and logger; its
// outbound, wire and timers are the connection's own), the engine, the
// host, and what the server shares between its connections.
type Config struct {
	// Channel is the channel's configuration; Out, Wire and Timers are
	// set by Serve.
	Channel proto.ChannelConfig
	// Engine is the protocol engine the channel runs on.
	Engine *proto.Engine
	// Host is the server, as the connection sees it.
	Host Host
	// Queue bounds the outbound queue (session.max_outbound_queue,
	// max_outbound_bytes).
	Queue QueueLimits
	// Shed, when set and true (the server is overloaded), makes the
	// write queue drop QoS 0 deliveries to a backlog.
	Shed *atomic.Bool
	// Batches lends the writer its output buffers; Bufs the reader its
	// packet buffers. Both are the server's, shared by its connections.
	Batches *BatchPool
	Bufs    *mqtt.BufferPool
	// RateLimits makes the publish limiter of a connected client (the
	// profile's publish_rate, narrowed by the credential's claims).
	RateLimits *limits.RateLimits
	// Park, when set, parks the connection while it is idle: no
	// goroutine reads it (park.go).
	Park *park.Poller
}

// Serve runs a connection's handshake on the calling goroutine, then its
// read loop on a new one, or parks it (park.go): the handshake's deep
// stack (authentication, logging) is not kept by an idle connection. It
// owns nc from then on.
// ctx bounds the authenticators of the handshake.
func Serve(ctx context.Context, nc net.Conn, cfg Config) {
	st := cfg.Engine.Stats()
	meta := cfg.Channel.Meta
	c := &Conn{nc: nc, host: cfg.Host, born: time.Now().UnixNano()}
	enc := encoder{Wire: proto.Wire{Version: mqtt.V311, ProblemInfo: true}, stats: st, clock: cfg.Engine.Clock()}
	wc := writeConn(nc)
	_, enc.writev = wc.(*net.TCPConn)
	c.out = newWriteQueue(wc, enc, cfg.Queue)
	// QoS 0 shed to a backlog while overloaded.
	c.out.shed = cfg.Shed
	// writequeue.go: output buffers lent per burst.
	c.out.batches = cfg.Batches
	chc := cfg.Channel
	chc.Out, chc.Wire, chc.Timers = c.out, &c.out.enc.Wire, c
	c.ch.Init(cfg.Engine, chc)
	c.rd.Reset(c.initPark(cfg.Park), chc.Profile.MaxPacketSize, cfg.Bufs) // park.go
	c.out.onShut = c
	c.logAccepted(wc.RemoteAddr()) // connlog.go
	if !c.host.Track(c) {
		limits.Release(meta)
		nc.Close()
		return
	}
	if !c.handshake(ctx) {
		c.rd.Release()
		c.finish()
		c.host.Untrack(c)
		return
	}
	if t := limits.TicketOf(meta); t != nil {
		t.Authenticated()
	}
	st.Connections.Add(1)
	c.markConnected() // view.go
	// ratelimit.go: the listener profile's publish_rate, overridden by
	// the credential's.
	c.lim = cfg.RateLimits.NewLimiter(meta.Listener, c.ch.PublishRate())
	if c.parkAfterHandshake() { // park.go
		return
	}
	go c.readLoop(false)
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
func (c *Conn) handshake(ctx context.Context) bool {
	ch := &c.ch
	// The first packet must be CONNECT [MQTT-3.1.0-1], within the
	// connect timeout.
	deadline := time.Unix(0, c.born).Add(c.host.ConnectTimeout(ch.Profile().ConnectTimeout))
	c.nc.SetReadDeadline(deadline)
	p, err := c.rd.ReadPacket(0)
	if err != nil {
		cp, _ := p.(*mqtt.Connect)
		if cp == nil && proto.IsPacketError(err) {
			ch.LogAt(zap.DebugLevel, "bad first packet", zap.Error(err))
		}
		ch.RefuseMalformed(cp, err)
		return false
	}
	connect, ok := p.(*mqtt.Connect)
	if !ok {
		ch.LogAt(zap.DebugLevel, "first packet is not connect", zap.Stringer("type", p.Type()))
		c.out.Close(nil)
		return false
	}
	if limits.TicketOf(ch.Meta()) != nil && c.host.AdmissionBusy() {
		// A reconnect storm: some clients are told to come back later
		// (limits/admission.go).
		ch.Refuse(connect, mqtt.ServerBusy)
		return false
	}
	if c.host.RefuseOverloaded() {
		// Overloaded (limits/overload.go): v5 CONNACK 0x89 Server busy, 3.x
		// return code 3 Server unavailable [MQTT-3.2.2-6 (3.1.1
		// MQTT-3.2.2-5)]; the client may retry later.
		ch.Refuse(connect, mqtt.Errorf(mqtt.ServerBusy, "", "server overloaded"))
		return false
	}
	t0 := time.Now()
	ch.Stats().Pkt.CountIn(mqtt.CONNECT)
	actx, cancel := withConnectDeadline(ctx, deadline) // connectctx.go: no timer unless waited on
	defer cancel()
	step := ch.Connect(actx, connect)
	for {
		if step.Delay > 0 {
			// A brute-force delay the channel asked for (proto/effects.go),
			// within the same deadline; then its held answer.
			waitDelay(actx, step.Delay)
			step = ch.DelayElapsed()
			continue
		}
		if !ch.AuthPending() {
			break
		}
		// An enhanced authentication exchange (proto/enhauth.go), within the
		// same deadline.
		p, err := c.rd.ReadPacket(mqtt.V5)
		step = ch.ContinueConnectAuth(p, err)
	}
	c.host.ObserveConnect(ch.Meta().Listener, time.Since(t0)) // ops metrics
	return step.Connected
}

// readLoop reads and handles a connected client's packets until the
// connection ends. It is the bottom of the connection's goroutine, so its
// frame and readPackets' stay on the stack of every idle connection: the
// end of the connection is in ended, not inlined, so that an idle stack
// stays under a quarter of 4 KB and the GC shrinks it back to 2 KB.
//
// resumed is set when it starts again after a park (park.go): the read
// deadline is the one in force then, not moved before a packet.
func (c *Conn) readLoop(resumed bool) {
	var end proto.End
	if c.readPackets(&end, resumed) {
		return // parked
	}
	c.ended(&end)
}

// readPackets is readLoop's loop: it sets end to how the connection
// ended, or leaves it zero when the server kicked it. It reports true
// when the connection parked instead (park.go).
func (c *Conn) readPackets(end *proto.End, resumed bool) (parked bool) {
	ch := &c.ch
	stats := ch.Stats()
	v := ch.Negotiated().Version
	ka := ch.KeepAliveTimeout() // proto/channel_end.go
	if !resumed {
		c.nc.SetReadDeadline(time.Time{})
	}
	idle, _ := c.nc.(listeners.IdleWaiter) // ws, tls: see readPacket
	h := c.park.h
	// c.dl: never before Keep Alive allows; moved after each packet.
	extend := !resumed
	for {
		if ka > 0 && extend {
			c.extendReadDeadline(&c.dl, ka)
		}
		extend = true
		var p mqtt.Packet
		var err error
		if c.rd.Buffered() == 0 {
			if idle != nil {
				// A connection whose reads block deep in a protocol
				// stack (ws, tls) first waits for bytes on this shallow
				// stack, so that an idle connection's goroutine keeps
				// the smallest stack; the wait fails as the read would
				// (deadline, closed socket). A wait idle for long is
				// interrupted, and the connection parks (park.go).
				if h != nil {
					h.BeginWait()
				}
				err = idle.WaitReadable()
				if h != nil && h.EndWait() {
					if errors.Is(err, os.ErrDeadlineExceeded) && c.tryPark() {
						return true
					}
					c.restoreDeadline()
					extend = false
					continue
				}
			} else if h != nil {
				c.park.first = true // parkSrc: a wait that may park
			}
		}
		if err == nil {
			p, err = c.rd.ReadPacket(v)
			c.park.first = false
			if errors.Is(err, errParkNow) {
				if c.tryPark() {
					return true
				}
				c.restoreDeadline()
				extend = false
				continue
			}
		}
		if ch.Kicked() {
			// Disconnected by the server (takeover, shutdown): nothing
			// read after that is acted on.
			return false
		}
		if err == nil {
			stats.Pkt.CountIn(p.Type()) // the ops metrics
			if pub, ok := p.(*mqtt.Publish); ok {
				c.msgsIn++
				if c.lim != nil {
					// ratelimit.go: backpressure waits here, reading
					// nothing; the read deadline is set afresh before the
					// next read, so keep alive does not run out while we
					// wait.
					err = c.throttle(pub)
					if ch.Kicked() {
						return false
					}
				}
			}
		}
		if err == nil {
			if err = ch.Handle(p); err != nil {
				// What the store holds is acknowledged before the
				// connection closes (proto/persist.go).
				<-ch.AcksFlushed()
			}
		}
		if err != nil {
			*end = c.fail(p, err)
			return false
		}
		// The channel keeps no acknowledgement it handled: its packet
		// goes back to the pool (mqtt.Reader.Recycle).
		c.rd.Recycle(p)
	}
}

// lazyDeadline is a socket deadline, in Unix nanoseconds, that moves only
// once it is less than its timeout away, and then to timeout/32 beyond:
// one timer update per many packets instead of one per packet, and never
// earlier than the timeout allows.
type lazyDeadline int64

// next returns the deadline to set now, or false when the one in force
// still holds.
func (d *lazyDeadline) next(timeout time.Duration) (time.Time, bool) {
	now := time.Now()
	if int64(*d) >= now.Add(timeout).UnixNano() {
		return time.Time{}, false
	}
	t := now.Add(timeout + timeout/32)
	*d = lazyDeadline(t.UnixNano())
	return t, true
}

// extendReadDeadline moves the read deadline dl (lazyDeadline). Out of
// line: its time values would otherwise sit in the idle frame of
// readPackets.
//
//go:noinline
func (c *Conn) extendReadDeadline(dl *lazyDeadline, ka time.Duration) {
	if t, ok := dl.next(ka); ok {
		c.nc.SetReadDeadline(t)
	}
}

// ended closes a connection whose read loop ended as end says.
//
//go:noinline
func (c *Conn) ended(end *proto.End) {
	ch := &c.ch
	if end.Initiator == "" {
		*end = proto.KickEnd(ch.KickReason()) // proto/end.go
	}
	c.lim.Stop()
	if c.park.h != nil {
		c.park.h.Close()
	}
	c.rd.Release()
	ch.Closed()
	c.finish()
	c.logDisconnected(*end) // connlog.go
	c.ch.Stats().Connections.Add(-1)
	c.host.Untrack(c)
}

// fail ends a connected client's connection for err (p is the packet
// read, if any), after the brute-force delay the channel asked for, if
// any (a failed re-authentication, effects.go), bounded by the connect
// timeout. The channel answers (channel_end.go); fail returns how the
// connection ended, for the log.
func (c *Conn) fail(p mqtt.Packet, err error) proto.End {
	ch := &c.ch
	if d := ch.TakeErrorDelay(); d > 0 {
		waitDelay(context.Background(), min(d, ch.Profile().ConnectTimeout))
	}
	return ch.Fail(p, err)
}

// finish waits for the last packets to be written, then makes sure the
// socket is closed.
func (c *Conn) finish() {
	c.out.Close(nil)
	t := time.NewTimer(CloseGrace)
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

// drainLimit bounds what a closing connection reads and discards. It is
// above the default Maximum Packet Size (1 MiB) so that the rest of a
// packet refused as too large (DISCONNECT 0x95) is read whole and the close
// does not reset the connection before the client read the DISCONNECT;
// lingerTime bounds the time it takes.
const drainLimit = 1<<20 + 64<<10

// waitDelay waits d, or until ctx ends, on the calling goroutine: how a
// connection performs the delays its channel asks for (proto/effects.go).
func waitDelay(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
