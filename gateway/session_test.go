package gateway

// Sessions and QoS exchanges across connections, flow control, message
// expiry, will timing and property pass-through, over real sockets. The
// side whose every flag and acknowledgement matters is a raw client on
// the edgemq codec (sessClient), which acknowledges nothing by itself;
// the other side is a paho.golang client. No assertion depends on timing:
// what must not arrive is checked with a fence (a marker published after
// it, which must come first), and where time must pass the values are of
// one or two seconds. Citations are of MQTT 5.0 unless they say 3.1.1.

import (
	"errors"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"edgemq/mqtt"

	"github.com/eclipse/paho.golang/paho"
)

// sessClient is a raw MQTT client on the edgemq codec. It acknowledges
// nothing unless told to and shows every flag, packet id and property the
// server sends.
type sessClient struct {
	nc net.Conn
	rd *mqtt.Reader
	v  mqtt.Version
	id string
}

// sessConnect is a CONNECT of version v with a keep alive long enough not
// to matter. expiry is the Session Expiry Interval of a v5 CONNECT (left
// out when 0); a 3.1.1 session outlives its connection when clean is
// false.
func sessConnect(v mqtt.Version, id string, clean bool, expiry uint32) *mqtt.Connect {
	cp := &mqtt.Connect{Version: v, ClientID: id, CleanStart: clean, KeepAlive: 60}
	if v == mqtt.V5 && expiry > 0 {
		cp.Properties.SetUint32(mqtt.PropSessionExpiryInterval, expiry)
	}
	return cp
}

// dialSess connects with cp on the named listener and returns the client
// and the CONNACK, failing the test unless the server accepts it.
func dialSess(tb testing.TB, ts *testServer, listener string, cp *mqtt.Connect) (*sessClient, *mqtt.Connack) {
	tb.Helper()
	nc := dial(tb, ts, listener)
	c := &sessClient{nc: nc, rd: mqtt.NewReader(nc, 0, nil), v: cp.Version, id: cp.ClientID}
	c.send(tb, cp)
	ack, ok := c.next(tb).(*mqtt.Connack)
	if !ok || ack.ReasonCode != mqtt.Success {
		tb.Fatalf("%s: want CONNACK success, got %+v", cp.ClientID, ack)
	}
	return c, ack
}

// send writes packets, in one write.
func (c *sessClient) send(tb testing.TB, ps ...mqtt.Packet) {
	tb.Helper()
	var b []byte
	for _, p := range ps {
		var err error
		if b, err = mqtt.Append(b, p, c.v); err != nil {
			tb.Fatalf("%s: encoding %v: %v", c.id, p.Type(), err)
		}
	}
	if _, err := c.nc.Write(b); err != nil {
		tb.Fatalf("%s: writing: %v", c.id, err)
	}
}

// next reads the next packet.
func (c *sessClient) next(tb testing.TB) mqtt.Packet {
	tb.Helper()
	c.nc.SetReadDeadline(time.Now().Add(eventTimeout))
	p, err := c.rd.ReadPacket(c.v)
	if err != nil {
		tb.Fatalf("%s: reading: %v", c.id, err)
	}
	return p
}

// nextOf reads the next packet and fails the test unless it is a T.
func nextOf[T mqtt.Packet](tb testing.TB, c *sessClient) T {
	tb.Helper()
	p := c.next(tb)
	t, ok := p.(T)
	if !ok {
		var want T
		tb.Fatalf("%s: want %T, got %v %+v", c.id, want, p.Type(), p)
	}
	return t
}

// subscribe subscribes filter at qos and checks the SUBACK grants want.
func (c *sessClient) subscribe(tb testing.TB, filter string, qos byte, want mqtt.ReasonCode) {
	tb.Helper()
	c.send(tb, &mqtt.Subscribe{PacketID: 1, Subscriptions: []mqtt.Subscription{{Filter: filter, QoS: qos}}})
	sa := nextOf[*mqtt.Suback](tb, c)
	if !slices.Equal(sa.ReasonCodes, []mqtt.ReasonCode{want}) {
		tb.Fatalf("%s: SUBACK %v for %q at qos %d, want %v", c.id, sa.ReasonCodes, filter, qos, want)
	}
}

// ping does a PINGREQ/PINGRESP exchange. The server handles a
// connection's packets in order, so once PINGRESP is back everything sent
// before the PINGREQ was handled.
func (c *sessClient) ping(tb testing.TB) {
	tb.Helper()
	c.send(tb, &mqtt.Pingreq{})
	nextOf[*mqtt.Pingresp](tb, c)
}

// expectFence has pub publish a marker to topic, which c subscribes at
// QoS 0, and checks it is the next packet c reads: whatever the server
// would have sent c before it did not come. At QoS 0 the marker does not
// wait for the inflight window.
func (c *sessClient) expectFence(tb testing.TB, pub *v5Client, topic string) {
	tb.Helper()
	pub.publish(tb, &paho.Publish{Topic: topic, QoS: 1, Payload: []byte("fence")})
	p, ok := c.next(tb).(*mqtt.Publish)
	if !ok || p.Topic != topic || string(p.Payload) != "fence" {
		tb.Fatalf("%s: got %+v before the fence on %q", c.id, p, topic)
	}
}

// expectClosed reads until the server closes the connection, failing the
// test if a packet comes first, and closes the client's side: the server
// counts the connection until then, or until its linger time passes.
func (c *sessClient) expectClosed(tb testing.TB) {
	tb.Helper()
	c.nc.SetReadDeadline(time.Now().Add(eventTimeout))
	p, err := c.rd.ReadPacket(c.v)
	c.nc.Close()
	switch {
	case err == nil:
		tb.Fatalf("%s: want the connection closed, got %v %+v", c.id, p.Type(), p)
	case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET):
	case errors.Is(err, os.ErrDeadlineExceeded):
		tb.Fatalf("%s: connection not closed", c.id)
	default:
		tb.Fatalf("%s: want the connection closed, got %v", c.id, err)
	}
}

// payloadsOf returns the payloads of ps.
func payloadsOf(ps []*mqtt.Publish) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = string(p.Payload)
	}
	return out
}

// TestSessionRedeliveryWithDup checks that QoS 1 messages a client did not
// acknowledge are sent again when it resumes its session: Session Present
// 1 [MQTT-3.2.2-3 (3.1.1: MQTT-3.2.2-2)], every unacknowledged PUBLISH
// with its original packet id [MQTT-4.4.0-1], DUP set [MQTT-3.3.1-1], in
// the order first sent (4.6: [MQTT-4.6.0-5, MQTT-4.6.0-6]; MQTT-4.6.0-1 is
// the client's side of the same rule); and once acknowledged, never again.
func TestSessionRedeliveryWithDup(t *testing.T) {
	for _, v := range []mqtt.Version{mqtt.V5, mqtt.V311} {
		t.Run(v.String(), func(t *testing.T) {
			ts := startServer(t, testConfig(t))
			pub := connectV5(t, ts, v5Connect("dup-pub"))
			pub.roundTrip(t)
			const id = "dup-sub"
			sub, ack := dialSess(t, ts, "tcp", sessConnect(v, id, false, 60))
			if ack.SessionPresent {
				t.Fatalf("Session Present 1 with no session") // [MQTT-3.2.2-3 (3.1.1: MQTT-3.2.2-3)]
			}
			sub.subscribe(t, "dup/#", 1, mqtt.GrantedQoS1)
			sub.subscribe(t, "fence/dup", 0, mqtt.GrantedQoS0)
			for i := range 5 {
				pub.publish(t, &paho.Publish{Topic: "dup/t", QoS: 1, Payload: []byte("m" + strconv.Itoa(i))})
			}
			first := make([]*mqtt.Publish, 5)
			for i := range first {
				p := nextOf[*mqtt.Publish](t, sub)
				if p.Dup || p.QoS != 1 || string(p.Payload) != "m"+strconv.Itoa(i) {
					t.Fatalf("message %d: got %+v, want m%d at qos 1 without DUP", i, p, i)
				}
				first[i] = p
			}
			// Closed without acknowledging anything.
			sub.nc.Close()
			waitConnections(t, ts, 1)

			sub, ack = dialSess(t, ts, "tcp", sessConnect(v, id, false, 60))
			if !ack.SessionPresent {
				t.Fatalf("Session Present 0 on resuming the session") // [MQTT-3.2.2-3 (3.1.1: MQTT-3.2.2-2)]
			}
			for i, want := range first {
				p := nextOf[*mqtt.Publish](t, sub)
				if !p.Dup {
					t.Errorf("resent message %d without DUP", i) // [MQTT-3.3.1-1]
				}
				if p.PacketID != want.PacketID {
					t.Errorf("resent message %d with packet id %d, want the original %d", i, p.PacketID, want.PacketID) // [MQTT-4.4.0-1]
				}
				if string(p.Payload) != string(want.Payload) || p.QoS != 1 || p.Topic != "dup/t" {
					t.Fatalf("resent message %d: got %q at qos %d, want %q at qos 1, in the original order", i, p.Payload, p.QoS, want.Payload) // [MQTT-4.6.0-6]
				}
			}
			// Nothing else is resent.
			sub.expectFence(t, pub, "fence/dup")
			for _, p := range first {
				sub.send(t, &mqtt.Puback{PacketID: p.PacketID})
			}
			sub.ping(t)
			sub.send(t, &mqtt.Disconnect{})
			sub.expectClosed(t)
			waitConnections(t, ts, 1)

			// Acknowledged: not sent again (only unacknowledged PUBLISH
			// are resent [MQTT-4.4.0-1]).
			sub, ack = dialSess(t, ts, "tcp", sessConnect(v, id, false, 60))
			if !ack.SessionPresent {
				t.Fatalf("Session Present 0 on resuming the session")
			}
			sub.expectFence(t, pub, "fence/dup")
		})
	}
}

// TestSessionQoS2Outbound checks the server's side of QoS 2 across a
// reconnection: a message past PUBREC gets PUBREL again, not PUBLISH
// [MQTT-4.4.0-1, MQTT-4.3.3-6]; one before PUBREC gets PUBLISH again with
// DUP and its packet id [MQTT-4.4.0-1, MQTT-3.3.1-1]; in the order they were
// first sent; and once PUBCOMP is in, nothing more.
func TestSessionQoS2Outbound(t *testing.T) {
	for _, v := range []mqtt.Version{mqtt.V5, mqtt.V311} {
		t.Run(v.String(), func(t *testing.T) {
			ts := startServer(t, testConfig(t))
			pub := connectV5(t, ts, v5Connect("q2o-pub"))
			pub.roundTrip(t)
			const id = "q2o-sub"
			sub, _ := dialSess(t, ts, "tcp", sessConnect(v, id, false, 60))
			sub.subscribe(t, "q2o/#", 2, mqtt.GrantedQoS2)
			sub.subscribe(t, "fence/q2o", 0, mqtt.GrantedQoS0)
			pub.publish(t, &paho.Publish{Topic: "q2o/t", QoS: 2, Payload: []byte("released")})
			pub.publish(t, &paho.Publish{Topic: "q2o/t", QoS: 2, Payload: []byte("received")})
			released := nextOf[*mqtt.Publish](t, sub)
			received := nextOf[*mqtt.Publish](t, sub)
			if string(released.Payload) != "released" || released.QoS != 2 || string(received.Payload) != "received" || received.QoS != 2 {
				t.Fatalf("got %+v and %+v, want both messages at qos 2", released, received)
			}
			// The first gets PUBREC, and the server answers PUBREL
			// [MQTT-4.3.3-4]; the client goes away before PUBCOMP, and
			// before it acknowledged the second at all.
			sub.send(t, &mqtt.Pubrec{PacketID: released.PacketID})
			if rel := nextOf[*mqtt.Pubrel](t, sub); rel.PacketID != released.PacketID {
				t.Fatalf("PUBREL for %d, want %d", rel.PacketID, released.PacketID)
			}
			sub.nc.Close()
			waitConnections(t, ts, 1)

			sub, ack := dialSess(t, ts, "tcp", sessConnect(v, id, false, 60))
			if !ack.SessionPresent {
				t.Fatalf("Session Present 0 on resuming the session")
			}
			// PUBREL, not PUBLISH, for the first [MQTT-4.3.3-6, MQTT-4.4.0-1].
			if rel := nextOf[*mqtt.Pubrel](t, sub); rel.PacketID != released.PacketID {
				t.Fatalf("PUBREL for %d, want %d", rel.PacketID, released.PacketID)
			}
			// PUBLISH with DUP and the same id for the second.
			p := nextOf[*mqtt.Publish](t, sub)
			if !p.Dup || p.PacketID != received.PacketID || p.QoS != 2 || string(p.Payload) != "received" {
				t.Fatalf("got %+v, want the second message again with DUP and packet id %d", p, received.PacketID)
			}
			sub.expectFence(t, pub, "fence/q2o")
			sub.send(t, &mqtt.Pubcomp{PacketID: released.PacketID}, &mqtt.Pubrec{PacketID: p.PacketID})
			if rel := nextOf[*mqtt.Pubrel](t, sub); rel.PacketID != p.PacketID {
				t.Fatalf("PUBREL for %d, want %d", rel.PacketID, p.PacketID)
			}
			sub.send(t, &mqtt.Pubcomp{PacketID: p.PacketID})
			sub.ping(t)
			sub.send(t, &mqtt.Disconnect{})
			sub.expectClosed(t)
			waitConnections(t, ts, 1)

			// Both exchanges are complete: nothing is sent again.
			sub, _ = dialSess(t, ts, "tcp", sessConnect(v, id, false, 60))
			sub.expectFence(t, pub, "fence/q2o")
		})
	}
}

// TestSessionQoS2Inbound checks the server's side as the QoS 2 receiver
// across a reconnection: a PUBLISH sent again with DUP and the same id
// before PUBREL gets PUBREC again and is not delivered twice
// [MQTT-4.3.3-10], the exchange state survives the connection
// [MQTT-4.4.0-1, 4.1], PUBREL gets PUBCOMP [MQTT-4.3.3-11], and after
// PUBCOMP the id starts a new message [MQTT-4.3.3-12].
func TestSessionQoS2Inbound(t *testing.T) {
	for _, v := range []mqtt.Version{mqtt.V5, mqtt.V311} {
		t.Run(v.String(), func(t *testing.T) {
			ts := startServer(t, testConfig(t))
			sub := connectV5(t, ts, v5Connect("q2i-sub"))
			sub.subscribe(t, "q2i/#", 2)
			const id = "q2i-pub"
			pub, _ := dialSess(t, ts, "tcp", sessConnect(v, id, false, 60))
			msg := &mqtt.Publish{Topic: "q2i/t", QoS: 2, PacketID: 7, Payload: []byte("exactly once")}
			pub.send(t, msg)
			if rec := nextOf[*mqtt.Pubrec](t, pub); rec.PacketID != 7 || rec.ReasonCode.IsError() {
				t.Fatalf("got %+v, want PUBREC 7", rec) // [MQTT-4.3.3-8]
			}
			if m := sub.expectMessage(t); string(m.Payload) != "exactly once" {
				t.Fatalf("got %q", m.Payload)
			}
			// Gone before PUBREL.
			pub.nc.Close()
			waitConnections(t, ts, 1)

			pub, ack := dialSess(t, ts, "tcp", sessConnect(v, id, false, 60))
			if !ack.SessionPresent {
				t.Fatalf("Session Present 0 on resuming the session")
			}
			again := *msg
			again.Dup = true
			pub.send(t, &again)
			if rec := nextOf[*mqtt.Pubrec](t, pub); rec.PacketID != 7 || rec.ReasonCode.IsError() {
				t.Fatalf("got %+v, want PUBREC 7 again", rec) // [MQTT-4.3.3-10]
			}
			pub.send(t, &mqtt.Pubrel{PacketID: 7})
			if comp := nextOf[*mqtt.Pubcomp](t, pub); comp.PacketID != 7 || comp.ReasonCode != mqtt.Success {
				t.Fatalf("got %+v, want PUBCOMP 7 success", comp) // [MQTT-4.3.3-11]
			}
			// Delivered once only [MQTT-4.3.3-10].
			sub.expectFence(t, sub, "q2i/fence")

			// After PUBCOMP the id is a new message [MQTT-4.3.3-12].
			next := &mqtt.Publish{Topic: "q2i/t", QoS: 2, PacketID: 7, Payload: []byte("a new one")}
			pub.send(t, next)
			nextOf[*mqtt.Pubrec](t, pub)
			if m := sub.expectMessage(t); string(m.Payload) != "a new one" {
				t.Fatalf("got %q, want the new message", m.Payload)
			}
			pub.send(t, &mqtt.Pubrel{PacketID: 7})
			nextOf[*mqtt.Pubcomp](t, pub)
		})
	}
}

// TestSessionInboundReceiveMaximum checks the server's Receive Maximum on
// the client's QoS 2 publishes: the client may have that many unreleased
// [MQTT-3.3.4-7 is the client's duty]; one more ends the connection with
// DISCONNECT 0x93 Receive Maximum exceeded (3.3.4, 4.13), and other
// clients carry on. The quota belongs to the network connection, not the
// session (4.9): exchanges left from an earlier connection do not count.
func TestSessionInboundReceiveMaximum(t *testing.T) {
	cfg := testConfig(t)
	cfg.MQTT.ReceiveMaximum = 2
	ts := startServer(t, cfg)
	other := connectV5(t, ts, v5Connect("rmi-other"))
	other.subscribe(t, "rmi/#", 1)

	t.Run("one over", func(t *testing.T) {
		c, ack := dialSess(t, ts, "tcp", sessConnect(mqtt.V5, "rmi-pub", true, 0))
		if !ack.Properties.Has(mqtt.PropReceiveMaximum) || ack.Properties.ReceiveMaximum != 2 {
			t.Fatalf("CONNACK Receive Maximum %d, want 2", ack.Properties.ReceiveMaximum)
		}
		// QoS 1 publishes are acknowledged at once and hold no quota.
		for i := range 3 {
			c.send(t, &mqtt.Publish{Topic: "rmi/q1", QoS: 1, PacketID: uint16(10 + i), Payload: []byte("q1")})
			nextOf[*mqtt.Puback](t, c)
		}
		for i := range 3 {
			c.send(t, &mqtt.Publish{Topic: "rmi/q2", QoS: 2, PacketID: uint16(1 + i), Payload: []byte(strconv.Itoa(i))})
		}
		for i := range 2 {
			if rec := nextOf[*mqtt.Pubrec](t, c); rec.PacketID != uint16(1+i) {
				t.Fatalf("PUBREC %d, want %d", rec.PacketID, 1+i)
			}
		}
		d := nextOf[*mqtt.Disconnect](t, c)
		if d.ReasonCode != mqtt.ReceiveMaximumExceeded {
			t.Fatalf("DISCONNECT %v, want 0x93 Receive Maximum exceeded", d.ReasonCode)
		}
		c.expectClosed(t)
		// The other client is unaffected: it got what was accepted, and
		// nothing else, and keeps its connection.
		var got []string
		for range 5 {
			got = append(got, string(other.expectMessage(t).Payload))
		}
		if want := []string{"q1", "q1", "q1", "0", "1"}; !slices.Equal(got, want) {
			t.Errorf("the other client got %v, want %v", got, want)
		}
		other.expectFence(t, other, "rmi/fence")
	})

	t.Run("quota per connection", func(t *testing.T) {
		const id = "rmi-resume"
		c, _ := dialSess(t, ts, "tcp", sessConnect(mqtt.V5, id, false, 60))
		c.send(t,
			&mqtt.Publish{Topic: "rmi/r", QoS: 2, PacketID: 1, Payload: []byte("a")},
			&mqtt.Publish{Topic: "rmi/r", QoS: 2, PacketID: 2, Payload: []byte("b")})
		nextOf[*mqtt.Pubrec](t, c)
		nextOf[*mqtt.Pubrec](t, c)
		c.nc.Close()
		waitConnections(t, ts, 1)

		// A new connection starts with the whole quota (4.9: "The send
		// quota and Receive Maximum value are not preserved across Network
		// Connections"), while ids 1 and 2 still wait for PUBREL.
		c, _ = dialSess(t, ts, "tcp", sessConnect(mqtt.V5, id, false, 60))
		c.send(t,
			&mqtt.Publish{Topic: "rmi/r", QoS: 2, PacketID: 3, Payload: []byte("c")},
			&mqtt.Publish{Topic: "rmi/r", QoS: 2, PacketID: 4, Payload: []byte("d")})
		for _, pid := range []uint16{3, 4} {
			if rec := nextOf[*mqtt.Pubrec](t, c); rec.PacketID != pid {
				t.Fatalf("PUBREC %d, want %d", rec.PacketID, pid)
			}
		}
		for _, pid := range []uint16{1, 2, 3, 4} {
			c.send(t, &mqtt.Pubrel{PacketID: pid})
			if comp := nextOf[*mqtt.Pubcomp](t, c); comp.PacketID != pid || comp.ReasonCode != mqtt.Success {
				t.Fatalf("got %+v, want PUBCOMP %d success", comp, pid)
			}
		}
		for _, want := range []string{"a", "b", "c", "d"} {
			if m := other.expectMessage(t); string(m.Payload) != want {
				t.Fatalf("the other client got %q, want %q", m.Payload, want)
			}
		}
		// The limit still holds on this connection.
		c.send(t,
			&mqtt.Publish{Topic: "rmi/r", QoS: 2, PacketID: 5, Payload: []byte("e")},
			&mqtt.Publish{Topic: "rmi/r", QoS: 2, PacketID: 6, Payload: []byte("f")},
			&mqtt.Publish{Topic: "rmi/r", QoS: 2, PacketID: 7, Payload: []byte("g")})
		nextOf[*mqtt.Pubrec](t, c)
		nextOf[*mqtt.Pubrec](t, c)
		if d := nextOf[*mqtt.Disconnect](t, c); d.ReasonCode != mqtt.ReceiveMaximumExceeded {
			t.Fatalf("DISCONNECT %v, want 0x93", d.ReasonCode)
		}
	})
}

// TestSessionOutboundReceiveMaximum checks that the server keeps within
// the client's Receive Maximum: no more QoS 1 and 2 PUBLISH unacknowledged
// than it allows [MQTT-3.3.4-9, MQTT-4.9.0-2], one more for each
// acknowledgement, in order, while other packets are not held back
// [MQTT-3.3.4-10, MQTT-4.9.0-3]. A resumed session's resent messages count
// against the new connection's Receive Maximum too [MQTT-3.3.4-9], and
// keep their packet ids [MQTT-4.4.0-1].
func TestSessionOutboundReceiveMaximum(t *testing.T) {
	ts := startServer(t, testConfig(t))
	pub := connectV5(t, ts, v5Connect("rmo-pub"))
	pub.roundTrip(t)
	withReceiveMaximum := func(cp *mqtt.Connect, rm uint16) *mqtt.Connect {
		cp.Properties.SetUint16(mqtt.PropReceiveMaximum, rm)
		return cp
	}

	t.Run("window", func(t *testing.T) {
		sub, _ := dialSess(t, ts, "tcp", withReceiveMaximum(sessConnect(mqtt.V5, "rmo-sub", true, 0), 3))
		sub.subscribe(t, "rmo/#", 1, mqtt.GrantedQoS1)
		sub.subscribe(t, "fence/rmo", 0, mqtt.GrantedQoS0)
		for i := range 10 {
			pub.publish(t, &paho.Publish{Topic: "rmo/t", QoS: 1, Payload: []byte(strconv.Itoa(i))})
		}
		var got []*mqtt.Publish
		for i := range 3 {
			p := nextOf[*mqtt.Publish](t, sub)
			if string(p.Payload) != strconv.Itoa(i) || p.QoS != 1 {
				t.Fatalf("got %+v, want %d at qos 1", p, i)
			}
			got = append(got, p)
		}
		// All ten are routed (each PUBACK came after routing); the QoS 0
		// fence is not held by the window and shows nothing else was sent
		// [MQTT-3.3.4-9].
		sub.expectFence(t, pub, "fence/rmo")
		sub.ping(t) // [MQTT-3.3.4-10, MQTT-4.9.0-3]
		next := 3
		for len(got) > 0 {
			// One acknowledgement, one more message, in order.
			sub.send(t, &mqtt.Puback{PacketID: got[0].PacketID})
			got = got[1:]
			if next < 10 {
				p := nextOf[*mqtt.Publish](t, sub)
				if string(p.Payload) != strconv.Itoa(next) {
					t.Fatalf("got %q, want %d", p.Payload, next)
				}
				got = append(got, p)
				next++
			}
			sub.expectFence(t, pub, "fence/rmo")
		}
	})

	t.Run("resumed with a smaller window", func(t *testing.T) {
		const id = "rmo-resume"
		sub, _ := dialSess(t, ts, "tcp", withReceiveMaximum(sessConnect(mqtt.V5, id, false, 60), 5))
		sub.subscribe(t, "rmr/#", 1, mqtt.GrantedQoS1)
		sub.subscribe(t, "fence/rmr", 0, mqtt.GrantedQoS0)
		for i := range 6 {
			pub.publish(t, &paho.Publish{Topic: "rmr/t", QoS: 1, Payload: []byte(strconv.Itoa(i))})
		}
		var first []*mqtt.Publish
		for range 5 {
			first = append(first, nextOf[*mqtt.Publish](t, sub))
		}
		sub.expectFence(t, pub, "fence/rmr")
		sub.nc.Close()
		waitConnections(t, ts, 1)

		sub, ack := dialSess(t, ts, "tcp", withReceiveMaximum(sessConnect(mqtt.V5, id, false, 60), 2))
		if !ack.SessionPresent {
			t.Fatalf("Session Present 0 on resuming the session")
		}
		var inflight []*mqtt.Publish
		for i := range 2 {
			p := nextOf[*mqtt.Publish](t, sub)
			if !p.Dup || p.PacketID != first[i].PacketID || string(p.Payload) != string(first[i].Payload) {
				t.Fatalf("got %+v, want message %s again with DUP and packet id %d", p, first[i].Payload, first[i].PacketID)
			}
			inflight = append(inflight, p)
		}
		// Two in flight: the window of the new connection [MQTT-3.3.4-9].
		sub.expectFence(t, pub, "fence/rmr")
		for i := 2; i < 6; i++ {
			sub.send(t, &mqtt.Puback{PacketID: inflight[0].PacketID})
			inflight = inflight[1:]
			p := nextOf[*mqtt.Publish](t, sub)
			if string(p.Payload) != strconv.Itoa(i) {
				t.Fatalf("got %q, want %d", p.Payload, i)
			}
			if i < 5 && (!p.Dup || p.PacketID != first[i].PacketID) {
				// Sent before: again with its id [MQTT-4.4.0-1] and DUP
				// [MQTT-3.3.1-1].
				t.Errorf("message %d: DUP %v, packet id %d; want DUP and %d", i, p.Dup, p.PacketID, first[i].PacketID)
			}
			if i == 5 && p.Dup {
				t.Errorf("message 5 was never sent, but has DUP set") // [MQTT-3.3.1-1]
			}
			inflight = append(inflight, p)
			sub.expectFence(t, pub, "fence/rmr")
		}
	})
}
