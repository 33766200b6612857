package proto

// A host for channels with no sockets: the protocol state machine
// (channel.go) driven packet by packet and event by event, on the test's
// goroutine, over a real in-memory engine (router, registry, retained
// store, ACL, authenticators), with a clock the test moves by hand. What
// a channel queues is encoded by the rules of its Wire (encode.go), as
// the connection's writer encodes it, and recorded as wire bytes. Delays and timers the channel
// asks for (effects.go) are performed by moving the clock.

import (
	"bytes"
	"context"
	"edgemq/gateway/internal/testclock"
	"fmt"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"edgemq/configs"
	"edgemq/gateway/acl"
	"edgemq/gateway/auth"
	"edgemq/gateway/broker"
	"edgemq/gateway/store"
	"edgemq/listeners"
	"edgemq/mqtt"
	"edgemq/mqtt/mqtttest"

	"go.uber.org/zap"
)

// recordingOut is a channel's outbound that encodes each packet by its
// channel's Wire when it is queued, as the connection's encoder does, and
// records its bytes. Like the write queue, it takes nothing after close.
type recordingOut struct {
	wire  Wire
	stats *Stats
	clock Clock

	mu     sync.Mutex
	pkts   [][]byte
	closed bool
}

func (o *recordingOut) Send(p mqtt.Packet) bool {
	return o.push(func() []byte { return o.wire.AppendControl(nil, p, o.stats) })
}

func (o *recordingOut) Deliver(d *broker.Delivery) bool {
	return o.push(func() []byte {
		out, payload, _ := o.wire.AppendPublish(nil, d, o.clock.Now(), o.stats)
		return append(out, payload...)
	})
}

func (o *recordingOut) Ack(t mqtt.Type, pid uint16, code mqtt.ReasonCode) bool {
	return o.push(func() []byte { return o.wire.AppendAck(nil, t, pid, code, o.stats) })
}

func (o *recordingOut) Close(last mqtt.Packet) {
	if last != nil {
		o.Send(last)
	}
	o.mu.Lock()
	o.closed = true
	o.mu.Unlock()
}

func (o *recordingOut) Room() broker.QueueRoom { return broker.QueueRoom{Items: 1 << 10, Empty: true} }
func (o *recordingOut) SetRefill(func())       {}

// push records the bytes encode returns, nothing for a packet the rules
// dropped.
func (o *recordingOut) push(encode func() []byte) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return false
	}
	if wire := encode(); len(wire) > 0 {
		o.pkts = append(o.pkts, wire)
	}
	return true
}

// count returns how many packets are recorded and not taken.
func (o *recordingOut) count() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.pkts)
}

// take returns the packets recorded since the last take, and whether the
// channel closed the connection.
func (o *recordingOut) take() ([][]byte, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	p := o.pkts
	o.pkts = nil
	return p, o.closed
}

// manualTimers is a channel's TimerHost: it remembers when the timer the
// channel asked for is due, by the manual clock; the host fires it when
// the test moves the clock past that.
type manualTimers struct {
	clock *testclock.Clock

	mu    sync.Mutex
	due   time.Time
	armed bool
	arms  int // how many times the channel asked for the timer
}

func (m *manualTimers) ArmAuthExpiry(d time.Duration) {
	m.mu.Lock()
	m.due, m.armed = m.clock.Now().Add(d), true
	m.arms++
	m.mu.Unlock()
}

func (m *manualTimers) StopAuthExpiry() {
	m.mu.Lock()
	m.armed = false
	m.mu.Unlock()
}

// fired reports, once, whether the timer is due.
func (m *manualTimers) fired() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.armed || m.clock.Now().Before(m.due) {
		return false
	}
	m.armed = false
	return true
}

// heldStore is a store.Store whose commits the test makes: Apply keeps
// the operations' done callbacks until commit, the event "store
// committed" (store.Store allows a commit at any later time).
type heldStore struct {
	mu   sync.Mutex
	ops  int
	done []func(error)
}

func (s *heldStore) Load(context.Context) (*store.State, error) { return &store.State{}, nil }
func (s *heldStore) Group() (end func())                        { return func() {} }
func (s *heldStore) Close() error                               { return nil }

func (s *heldStore) Apply(ops []store.Op, done func(error)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ops += len(ops)
	if done != nil {
		s.done = append(s.done, done)
	}
}

// commit stores what was applied: the done callbacks run, in order, as
// the store's goroutine runs them. It returns how many ran.
func (s *heldStore) commit() int {
	s.mu.Lock()
	done := s.done
	s.done = nil
	s.mu.Unlock()
	for _, f := range done {
		f(nil)
	}
	return len(done)
}

// protoHost is one engine and the channels on it.
type protoHost struct {
	// st is the store when the host was built with one.
	st    *heldStore
	clock *testclock.Clock
	eng   *Engine
	prof  *Profile
	auth  *auth.Chain
	bufs  mqtt.BufferPool
	conns []*protoConn
}

// newProtoHost builds an engine from cfg as a server does (NewBroker,
// NewEngine, the configured authorizer, with a manual clock), without
// binding its listeners or serving anything; the channels are on the
// first listener of cfg, with its profile and authentication chain. st,
// when set, is its store, restored as the server restores its own; none
// otherwise.
func newProtoHost(tb testing.TB, cfg *configs.Config, st *heldStore) *protoHost {
	tb.Helper()
	log := zap.NewNop()
	clock := testclock.New(time.Now().Truncate(time.Second))
	stats := &Stats{}
	b := NewBroker(cfg, stats, clock, nil, log)
	e, err := NewEngine(cfg, EngineConfig{Broker: b, Stats: stats, Clock: clock, Log: log})
	if err != nil {
		tb.Fatalf("building the engine: %v", err)
	}
	authz, err := acl.NewStatic(cfg.ACL)
	if err != nil {
		tb.Fatalf("acl: %v", err)
	}
	e.SetAuthorizer(authz)
	if st != nil {
		if err := b.Restore(context.Background(), st, st, ""); err != nil {
			tb.Fatalf("restoring the store: %v", err)
		}
	}
	lc := cfg.Listeners[0]
	prof, err := NewProfile(cfg.LimitsFor(lc))
	if err != nil {
		tb.Fatalf("profile: %v", err)
	}
	return &protoHost{st: st, clock: clock, eng: e, prof: prof, auth: testChain(tb, cfg, lc, e)}
}

// protoConn is one connection's channel and what its host keeps for it.
type protoConn struct {
	h      *protoHost
	ch     *Channel
	out    *recordingOut
	timers *manualTimers
	// lastRead is when the host last read a packet, by the manual clock:
	// the keep alive counts from it.
	lastRead time.Time
	// connected and ended: the handshake succeeded; the channel was
	// closed (channel.closed ran).
	connected, ended bool
	// delays are the brute-force delays the channel asked for, in order.
	delays []time.Duration
	// holdDelays makes the host stop at a delay of the handshake until
	// the test calls elapse; waiting is that delay.
	holdDelays bool
	waiting    time.Duration
	// end is how the connection ended, when the host ended it.
	end End
}

// dial makes a channel as conn.Serve does (gateway/conn), on a connection from remote.
func (h *protoHost) dial(tb testing.TB, remote string) *protoConn {
	tb.Helper()
	addr, err := net.ResolveTCPAddr("tcp", remote)
	if err != nil {
		tb.Fatalf("address %q: %v", remote, err)
	}
	out := &recordingOut{wire: Wire{Version: mqtt.V311, ProblemInfo: true}, stats: h.eng.Stats(), clock: h.clock}
	c := &protoConn{h: h, out: out, timers: &manualTimers{clock: h.clock}, lastRead: h.clock.Now()}
	c.ch = &Channel{}
	c.ch.Init(h.eng, ChannelConfig{Meta: &listeners.Meta{Listener: "tcp", RemoteAddr: addr}, Profile: h.prof, Auth: h.auth,
		Out: out, Wire: &out.wire, Log: zap.NewNop(), Timers: c.timers})
	h.conns = append(h.conns, c)
	return c
}

// feed hands the channel the packet in raw, decoded as the connection's
// reader decodes it, and performs what the channel asks: the handshake of
// Conn.handshake before CONNACK, Handle and Conn.fail after.
func (c *protoConn) feed(tb testing.TB, raw []byte) {
	tb.Helper()
	if c.ended {
		tb.Fatalf("packet fed to an ended connection")
	}
	c.lastRead = c.h.clock.Now()
	rd := mqtt.NewReader(bytes.NewReader(raw), c.ch.Profile().MaxPacketSize, &c.h.bufs)
	defer rd.Release()
	ch := c.ch
	switch {
	case c.connected:
		p, err := rd.ReadPacket(ch.Negotiated().Version)
		if err == nil {
			if err = ch.Handle(p); err != nil {
				<-ch.AcksFlushed() // as the connection layer does
			}
		}
		if err != nil {
			c.fail(tb, p, err)
		}
	case ch.AuthPending():
		p, err := rd.ReadPacket(mqtt.V5)
		c.step(tb, ch.ContinueConnectAuth(p, err), c.out.count())
	default:
		p, err := rd.ReadPacket(0)
		if err != nil {
			cp, _ := p.(*mqtt.Connect)
			ch.RefuseMalformed(cp, err)
			break
		}
		cp, ok := p.(*mqtt.Connect)
		if !ok {
			c.out.Close(nil) // [MQTT-3.1.0-1]
			break
		}
		queued := c.out.count()
		c.step(tb, ch.Connect(context.Background(), cp), queued)
	}
	c.h.settle(tb)
}

// step performs a handshake step: a requested delay is waited out by
// moving the clock, and nothing may be queued before it is over (queued
// is how many packets were recorded before the step).
func (c *protoConn) step(tb testing.TB, s Step, queued int) {
	tb.Helper()
	for s.Delay > 0 {
		c.delays = append(c.delays, s.Delay)
		if n := c.out.count(); n != queued {
			tb.Errorf("%d packets queued before the delay of %v the channel asked for", n-queued, s.Delay)
		}
		if c.holdDelays {
			c.waiting = s.Delay
			return
		}
		c.h.clock.Add(s.Delay)
		s = c.ch.DelayElapsed()
	}
	c.connected = s.Connected
}

// elapse ends the delay the host stopped at (holdDelays): the clock
// moves by it and the channel gets the event.
func (c *protoConn) elapse(tb testing.TB) {
	tb.Helper()
	if c.waiting == 0 {
		tb.Fatal("no delay to end")
	}
	c.h.clock.Add(c.waiting)
	c.waiting = 0
	c.step(tb, c.ch.DelayElapsed(), c.out.count())
	c.h.settle(tb)
}

// fail ends the connection for err as Conn.fail does, after the delay
// the channel asked for, if any.
func (c *protoConn) fail(tb testing.TB, p mqtt.Packet, err error) {
	tb.Helper()
	if d := c.ch.TakeErrorDelay(); d > 0 {
		c.delays = append(c.delays, d)
		c.h.clock.Add(d)
	}
	c.end = c.ch.Fail(p, err)
	c.close()
}

// close runs what Conn.ended does for the channel.
func (c *protoConn) close() {
	if !c.ended {
		c.ended = true
		c.ch.Closed()
	}
}

// settle ends the connections the server closed (a kick, a refusal), as
// their read loops would.
func (h *protoHost) settle(tb testing.TB) {
	tb.Helper()
	for _, c := range h.conns {
		c.out.mu.Lock()
		closed := c.out.closed
		c.out.mu.Unlock()
		if closed && !c.ended {
			c.close()
		}
	}
}

// advance moves the clock by d and delivers the events that come due:
// the credential-expiry timers the channels asked for (AuthExpired), and
// the keep alive of connections silent for longer than it allows (the
// read deadline, os.ErrDeadlineExceeded into fail).
func (h *protoHost) advance(tb testing.TB, d time.Duration) {
	tb.Helper()
	h.clock.Add(d)
	now := h.clock.Now()
	for _, c := range h.conns {
		if c.ended || !c.connected {
			continue
		}
		if c.timers.fired() {
			c.ch.AuthExpired()
		}
		if ka := c.ch.KeepAliveTimeout(); ka > 0 && !c.ended && now.Sub(c.lastRead) >= ka {
			c.fail(tb, nil, os.ErrDeadlineExceeded)
		}
	}
	h.settle(tb)
}

// golden returns the bytes of the golden packet called name.
func golden(tb testing.TB, name string) []byte {
	tb.Helper()
	for _, g := range mqtttest.Goldens() {
		if g.Name == name {
			return g.Bytes
		}
	}
	tb.Fatalf("no golden packet %q", name)
	return nil
}

// encode returns p's bytes in version v, for packets no golden one has.
func encode(tb testing.TB, p mqtt.Packet, v mqtt.Version) []byte {
	tb.Helper()
	b, err := mqtt.Append(nil, p, v)
	if err != nil {
		tb.Fatalf("encoding %v: %v", p.Type(), err)
	}
	return b
}

// decodeOut decodes a recorded packet of version v.
func decodeOut(tb testing.TB, b []byte, v mqtt.Version) mqtt.Packet {
	tb.Helper()
	var pool mqtt.BufferPool
	rd := mqtt.NewReader(bytes.NewReader(b), 0, &pool)
	p, err := rd.ReadPacket(v)
	if err != nil {
		tb.Fatalf("decoding % x: %v", b, err)
	}
	return p
}

// expectOut checks that exactly want was queued since the last check,
// and whether the connection is closed.
func (c *protoConn) expectOut(tb testing.TB, closed bool, want ...[]byte) {
	tb.Helper()
	got, isClosed := c.out.take()
	if len(got) != len(want) {
		tb.Fatalf("queued %d packets %s, want %d %s", len(got), hexes(got), len(want), hexes(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			tb.Errorf("packet %d: % x, want % x", i, got[i], want[i])
		}
	}
	if isClosed != closed {
		tb.Errorf("closed %v, want %v", isClosed, closed)
	}
}

func hexes(pkts [][]byte) string {
	var b bytes.Buffer
	for _, p := range pkts {
		fmt.Fprintf(&b, "[% x]", p)
	}
	return b.String()
}
