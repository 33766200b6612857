package gateway

// Shared helpers for the tests that drive the gateway with real MQTT
// client libraries over TCP: github.com/eclipse/paho.golang (MQTT 5, its
// low-level paho package) in paho5_test.go and
// github.com/eclipse/paho.mqtt.golang (3.1.1) in paho3_test.go.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"edgemq/mqtt"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"
	mqtt3 "github.com/eclipse/paho.mqtt.golang"
	"golang.org/x/crypto/bcrypt"
)

// eventTimeout bounds the wait for an event a test expects. It is
// generous: it only matters when the test is failing.
const eventTimeout = 10 * time.Second

// refOf returns a pointer to v, for optional configuration and property
// fields.
func refOf[T any](v T) *T { return &v }

// bcryptHash hashes password at the lowest cost, for auth.users.
func bcryptHash(tb testing.TB, password string) string {
	tb.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		tb.Fatalf("bcrypt: %v", err)
	}
	return string(h)
}

// eventually polls cond until it holds, failing the test after
// eventTimeout.
func eventually(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(eventTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitConnections waits until the server counts n connected clients: a
// connection that ended is only uncounted once its session was released
// and its will handled, so this orders the test after that. A connection
// is only counted once its read loop runs, which may be after CONNACK:
// do a roundTrip on a new client before relying on the count.
func waitConnections(tb testing.TB, ts *testServer, n int64) {
	tb.Helper()
	eventually(tb, "the connection count to settle", func() bool { return ts.Stats().Connections == n })
}

// waitOffline waits until srv holds the session of id with no connection
// on it: its client's DISCONNECT or close has been handled. Unlike the
// connection count, this does not depend on when the other clients'
// connections are counted.
func waitOffline(tb testing.TB, srv *Server, id string) {
	tb.Helper()
	eventually(tb, id+" to be offline", func() bool {
		s := srv.eng.Broker().Lookup(id)
		return s != nil && !s.View().Connected
	})
}

// clientOpts are the options common to both client kinds.
type clientOpts struct {
	listener     string
	ignoreLimits bool
	// dial, when set, opens the connection to addr (tls, ws, wss).
	dial func(tb testing.TB, addr string) net.Conn
	// auther answers the server's AUTH packets (enhauth_test.go).
	auther paho.Auther
}

type clientOpt func(*clientOpts)

// viaListener connects to the named listener instead of "tcp".
func viaListener(name string) clientOpt { return func(o *clientOpts) { o.listener = name } }

// ignoringServerLimits makes a v5 client blind to the limits the server
// announces in CONNACK, as a non-conforming client would be: the client
// library then sends what the server said it does not accept, so that the
// server's enforcement can be checked.
// dialingWith opens the connection with dial (transport_test.go).
func dialingWith(dial func(tb testing.TB, addr string) net.Conn) clientOpt {
	return func(o *clientOpts) { o.dial = dial }
}

func ignoringServerLimits() clientOpt { return func(o *clientOpts) { o.ignoreLimits = true } }

func applyOpts(opts []clientOpt) clientOpts {
	o := clientOpts{listener: "tcp"}
	for _, f := range opts {
		f(&o)
	}
	return o
}

// wireTap records the bytes the server sends on a connection, so a test
// can decode them with the edgemq codec and check what a client library
// does not expose: whether a property is present, every Subscription
// Identifier of a PUBLISH, PINGRESP.
type wireTap struct {
	net.Conn
	mu sync.Mutex
	in []byte
}

func (w *wireTap) Read(b []byte) (int, error) {
	n, err := w.Conn.Read(b)
	if n > 0 {
		w.mu.Lock()
		w.in = append(w.in, b[:n]...)
		w.mu.Unlock()
	}
	return n, err
}

// received decodes every complete packet the server sent so far.
func (w *wireTap) received(tb testing.TB, v mqtt.Version) []mqtt.Packet {
	tb.Helper()
	w.mu.Lock()
	b := slices.Clone(w.in)
	w.mu.Unlock()
	rd := mqtt.NewReader(bytes.NewReader(b), 0, nil)
	var out []mqtt.Packet
	for {
		p, err := rd.ReadPacket(v)
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return out
		}
		if err != nil {
			tb.Fatalf("decoding what the server sent: %v", err)
		}
		out = append(out, p)
	}
}

// tapped returns the packets of type T the server sent on a tapped v5
// connection.
func tapped[T mqtt.Packet](tb testing.TB, w *wireTap) []T {
	tb.Helper()
	var out []T
	for _, p := range w.received(tb, mqtt.V5) {
		if t, ok := p.(T); ok {
			out = append(out, t)
		}
	}
	return out
}

// limitBlindConn rewrites the CONNACK the server sends so that it
// announces no limits; everything else passes through unchanged.
type limitBlindConn struct {
	net.Conn
	rewritten bool
	pending   []byte
}

func (c *limitBlindConn) Read(b []byte) (int, error) {
	if !c.rewritten {
		c.rewritten = true
		cp, err := packets.ReadPacket(c.Conn)
		if err != nil {
			return 0, err
		}
		if ca, ok := cp.Content.(*packets.Connack); ok && ca.Properties != nil {
			p := ca.Properties
			p.MaximumQOS, p.TopicAliasMaximum, p.MaximumPacketSize = nil, nil, nil
			p.RetainAvailable, p.WildcardSubAvailable = refOf[byte](1), refOf[byte](1)
			p.SubIDAvailable, p.SharedSubAvailable = refOf[byte](1), refOf[byte](1)
		}
		var w bytes.Buffer
		if _, err := cp.WriteTo(&w); err != nil {
			return 0, err
		}
		c.pending = w.Bytes()
	}
	if len(c.pending) > 0 {
		n := copy(b, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	return c.Conn.Read(b)
}

// v5Client is a paho.golang MQTT 5 client on its own TCP connection.
type v5Client struct {
	*paho.Client
	raw     net.Conn // the TCP socket, to close it abnormally
	locked  net.Conn // what the client library writes to; a sync.Locker
	tap     *wireTap
	connack *paho.Connack

	msgs chan *paho.Publish
	// serverDisconnect receives the server's DISCONNECT.
	serverDisconnect chan *paho.Disconnect
	// lost is closed when the client library saw the connection end.
	lost chan struct{}
}

// dialV5 connects a paho.golang client with cp. It returns the client and
// the CONNACK also when the server refused it (err is then non-nil).
func dialV5(tb testing.TB, ts *testServer, cp *paho.Connect, opts ...clientOpt) (*v5Client, *paho.Connack, error) {
	tb.Helper()
	o := applyOpts(opts)
	var raw net.Conn
	if o.dial != nil {
		raw = o.dial(tb, ts.addr(tb, o.listener))
	} else {
		raw = dial(tb, ts, o.listener)
	}
	tap := &wireTap{Conn: raw}
	var conn net.Conn = tap
	if o.ignoreLimits {
		conn = &limitBlindConn{Conn: tap}
	}
	// paho.golang writes a packet in one writev on a *net.TCPConn only;
	// on a wrapper each part is a Write of its own, and packets written
	// by different goroutines (a PINGREQ and a SUBSCRIBE) interleave
	// unless the connection is a sync.Locker.
	conn = packets.NewThreadSafeConn(conn)
	c := &v5Client{
		raw: raw, tap: tap, locked: conn,
		msgs:             make(chan *paho.Publish, 256),
		serverDisconnect: make(chan *paho.Disconnect, 1),
		lost:             make(chan struct{}),
	}
	var lostOnce sync.Once
	c.Client = paho.NewClient(paho.ClientConfig{
		Conn:        conn,
		AuthHandler: o.auther,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			select {
			case c.msgs <- pr.Packet:
			default:
				// Only a runaway test fills the buffer; it then fails on
				// the messages it does see.
			}
			return true, nil
		}},
		OnServerDisconnect: func(d *paho.Disconnect) {
			select {
			case c.serverDisconnect <- d:
			default:
			}
			lostOnce.Do(func() { close(c.lost) })
		},
		OnClientError: func(error) { lostOnce.Do(func() { close(c.lost) }) },
	})
	ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
	defer cancel()
	ack, err := c.Connect(ctx, cp)
	c.connack = ack
	if err != nil {
		return c, ack, err
	}
	tb.Cleanup(func() {
		raw.Close()
		select {
		case <-c.Done():
		case <-time.After(eventTimeout):
			tb.Errorf("paho.golang client %q did not stop", cp.ClientID)
		}
	})
	return c, ack, nil
}

// connectV5 connects a paho.golang client and fails the test when the
// server refuses it.
func connectV5(tb testing.TB, ts *testServer, cp *paho.Connect, opts ...clientOpt) *v5Client {
	tb.Helper()
	c, ack, err := dialV5(tb, ts, cp, opts...)
	if err != nil {
		tb.Fatalf("v5 connect %q: %v (connack %v)", cp.ClientID, err, ack)
	}
	return c
}

// v5Connect is a CONNECT with clean start and a keep alive long enough
// not to matter.
func v5Connect(clientID string) *paho.Connect {
	return &paho.Connect{ClientID: clientID, CleanStart: true, KeepAlive: 60}
}

// subscribe subscribes to one filter and fails the test unless it is
// granted.
func (c *v5Client) subscribe(tb testing.TB, filter string, qos byte) {
	tb.Helper()
	c.subscribeWith(tb, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: filter, QoS: qos}}})
}

// subscribeWith sends s and fails the test unless every filter is
// granted.
func (c *v5Client) subscribeWith(tb testing.TB, s *paho.Subscribe) *paho.Suback {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
	defer cancel()
	sa, err := c.Subscribe(ctx, s)
	if err != nil {
		tb.Fatalf("subscribe %v: %v (suback %v); the server sent %s", s.Subscriptions, err, sa, c.wire(tb))
	}
	return sa
}

// roundTrip does a SUBSCRIBE/SUBACK exchange: once it returns, the
// server finished the CONNECT and reads the connection's packets.
func (c *v5Client) roundTrip(tb testing.TB) {
	tb.Helper()
	c.subscribe(tb, "sync/"+c.ClientID(), 0)
}

// writeWhole writes p, as the client library encodes it, in one write
// on the socket, between the library's own writes.
func (c *v5Client) writeWhole(p *paho.Publish) {
	var b bytes.Buffer
	_, _ = p.Packet().WriteTo(&b)
	l := c.locked.(sync.Locker)
	l.Lock()
	defer l.Unlock()
	_, _ = c.raw.Write(b.Bytes())
}

// publish publishes and fails the test when the server answers with an
// error reason code.
func (c *v5Client) publish(tb testing.TB, p *paho.Publish) *paho.PublishResponse {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
	defer cancel()
	r, err := c.Publish(ctx, p)
	if err != nil {
		tb.Fatalf("publish to %q: %v; the server sent %s", p.Topic, err, c.wire(tb))
	}
	return r
}

// expectMessage returns the next message the client receives.
func (c *v5Client) expectMessage(tb testing.TB) *paho.Publish {
	tb.Helper()
	select {
	case m := <-c.msgs:
		return m
	case <-time.After(eventTimeout):
		tb.Fatalf("client %q: no message received; the server sent %s", c.ClientID(), c.wire(tb))
		return nil
	}
}

// wire describes what the server sent, for failure messages.
func (c *v5Client) wire(tb testing.TB) string {
	tb.Helper()
	var b strings.Builder
	for _, p := range c.tap.received(tb, mqtt.V5) {
		fmt.Fprintf(&b, "%v %+v; ", p.Type(), p)
	}
	return b.String()
}

// expectNoMessageFor fails the test if a message arrives within d.
func (c *v5Client) expectNoMessageFor(tb testing.TB, d time.Duration) {
	tb.Helper()
	select {
	case m := <-c.msgs:
		tb.Fatalf("client %q: unexpected message on %q: %q", c.ClientID(), m.Topic, m.Payload)
	case <-time.After(d):
	}
}

// expectFence has pub publish a marker to topic, which c subscribes, and
// checks it is the next message c receives: whatever the server would
// have sent c before it (a will, a retained message, a second copy) did
// not come.
func (c *v5Client) expectFence(tb testing.TB, pub *v5Client, topic string) {
	tb.Helper()
	pub.publish(tb, &paho.Publish{Topic: topic, QoS: 1, Payload: []byte("fence")})
	m := c.expectMessage(tb)
	if m.Topic != topic || string(m.Payload) != "fence" {
		tb.Fatalf("client %q: got %q on %q before the fence on %q", c.ClientID(), m.Payload, m.Topic, topic)
	}
}

// expectServerDisconnect waits for the server's DISCONNECT. The client
// library may report the closed connection before it reports the
// DISCONNECT it read, so only the DISCONNECT ends the wait.
func (c *v5Client) expectServerDisconnect(tb testing.TB) *paho.Disconnect {
	tb.Helper()
	select {
	case d := <-c.serverDisconnect:
		return d
	case <-time.After(eventTimeout):
		tb.Fatalf("client %q: no DISCONNECT from the server", c.ClientID())
		return nil
	}
}

// v3Client is a paho.mqtt.golang MQTT 3.1.1 client.
type v3Client struct {
	mqtt3.Client
	msgs chan mqtt3.Message
	lost chan error

	mu  sync.Mutex
	raw net.Conn
}

// dialV3 connects a paho.mqtt.golang 3.1.1 client, with setup changing
// the options (nil keeps them). It returns the client and its connect
// token also when the server refused it.
func dialV3(tb testing.TB, ts *testServer, clientID string, setup func(*mqtt3.ClientOptions), opts ...clientOpt) (*v3Client, *mqtt3.ConnectToken, error) {
	tb.Helper()
	o := applyOpts(opts)
	addr := ts.addr(tb, o.listener)
	c := &v3Client{msgs: make(chan mqtt3.Message, 256), lost: make(chan error, 1)}
	mo := mqtt3.NewClientOptions().
		AddBroker("tcp://" + addr).
		SetClientID(clientID).
		SetProtocolVersion(4).
		SetCleanSession(true).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetConnectTimeout(eventTimeout).
		SetKeepAlive(60 * time.Second).
		SetDefaultPublishHandler(func(_ mqtt3.Client, m mqtt3.Message) {
			select {
			case c.msgs <- m:
			default:
			}
		}).
		SetConnectionLostHandler(func(_ mqtt3.Client, err error) {
			select {
			case c.lost <- err:
			default:
			}
		}).
		SetCustomOpenConnectionFn(func(*url.URL, mqtt3.ClientOptions) (net.Conn, error) {
			nc, err := net.DialTimeout("tcp", addr, eventTimeout)
			if err == nil {
				c.mu.Lock()
				c.raw = nc
				c.mu.Unlock()
			}
			return nc, err
		})
	if setup != nil {
		setup(mo)
	}
	c.Client = mqtt3.NewClient(mo)
	tok := c.Connect()
	if !tok.WaitTimeout(eventTimeout) {
		tb.Fatalf("v3 connect %q: no answer", clientID)
	}
	ct := tok.(*mqtt3.ConnectToken)
	if err := ct.Error(); err != nil {
		return c, ct, err
	}
	tb.Cleanup(func() {
		if c.IsConnectionOpen() {
			c.Disconnect(100)
		}
		c.closeRaw()
	})
	return c, ct, nil
}

// connectV3 connects a 3.1.1 client and fails the test when refused.
func connectV3(tb testing.TB, ts *testServer, clientID string, setup func(*mqtt3.ClientOptions), opts ...clientOpt) *v3Client {
	tb.Helper()
	c, ct, err := dialV3(tb, ts, clientID, setup, opts...)
	if err != nil {
		tb.Fatalf("v3 connect %q: %v (return code %d)", clientID, err, ct.ReturnCode())
	}
	return c
}

// closeRaw closes the TCP socket under the client: an abnormal close.
func (c *v3Client) closeRaw() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.raw != nil {
		c.raw.Close()
	}
}

// wait waits for a token and fails the test on its error.
func waitToken(tb testing.TB, what string, tok mqtt3.Token) {
	tb.Helper()
	if !tok.WaitTimeout(eventTimeout) {
		tb.Fatalf("%s: no answer", what)
	}
	if err := tok.Error(); err != nil {
		tb.Fatalf("%s: %v", what, err)
	}
}

// subscribe subscribes to one filter; messages go to c.msgs. It returns
// the granted QoS.
func (c *v3Client) subscribe(tb testing.TB, filter string, qos byte) byte {
	tb.Helper()
	tok := c.Subscribe(filter, qos, nil)
	waitToken(tb, "v3 subscribe "+filter, tok)
	return tok.(*mqtt3.SubscribeToken).Result()[filter]
}

// roundTrip is v5Client.roundTrip for a 3.1.1 client.
func (c *v3Client) roundTrip(tb testing.TB) {
	tb.Helper()
	r := c.OptionsReader()
	c.subscribe(tb, "sync/"+r.ClientID(), 0)
}

// publish publishes and waits for the exchange to complete.
func (c *v3Client) publish(tb testing.TB, topic string, qos byte, retained bool, payload string) {
	tb.Helper()
	waitToken(tb, "v3 publish to "+topic, c.Publish(topic, qos, retained, payload))
}

// expectMessage returns the next message the client receives.
func (c *v3Client) expectMessage(tb testing.TB) mqtt3.Message {
	tb.Helper()
	select {
	case m := <-c.msgs:
		return m
	case <-time.After(eventTimeout):
		tb.Fatalf("v3 client: no message received")
		return nil
	}
}

// expectFence is v5Client.expectFence for a 3.1.1 subscriber.
func (c *v3Client) expectFence(tb testing.TB, pub *v3Client, topic string) {
	tb.Helper()
	pub.publish(tb, topic, 1, false, "fence")
	m := c.expectMessage(tb)
	if m.Topic() != topic || string(m.Payload()) != "fence" {
		tb.Fatalf("v3 client: got %q on %q before the fence on %q", m.Payload(), m.Topic(), topic)
	}
}

// expectLost waits until the client library saw its connection end.
func (c *v3Client) expectLost(tb testing.TB) {
	tb.Helper()
	select {
	case <-c.lost:
	case <-time.After(eventTimeout):
		tb.Fatalf("v3 client: connection not closed")
	}
}
