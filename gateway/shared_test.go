package gateway

// Shared subscriptions, "$share/{ShareName}/{filter}" (MQTT 5.0 4.8.2),
// with real clients over TCP: paho.golang (5.0), paho.mqtt.golang
// (3.1.1), and a raw codec client where a client must not acknowledge.
// No assertion depends on timing: what must not arrive is checked with a
// fence (a marker published after it, which must come first).

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"testing"
	"time"

	"edgemq/mqtt"

	"github.com/eclipse/paho.golang/paho"
	mqtt3 "github.com/eclipse/paho.mqtt.golang"
)

// beforeFence has pub publish a marker to topic, which c subscribes, and
// returns the messages c receives before it.
func (c *v5Client) beforeFence(tb testing.TB, pub *v5Client, topic string) []*paho.Publish {
	tb.Helper()
	pub.publish(tb, &paho.Publish{Topic: topic, QoS: 1, Payload: []byte("fence")})
	var out []*paho.Publish
	for {
		m := c.expectMessage(tb)
		if m.Topic == topic && string(m.Payload) == "fence" {
			return out
		}
		out = append(out, m)
	}
}

// beforeFence is v5Client.beforeFence for a 3.1.1 client, with a v5
// publisher.
func (c *v3Client) beforeFence(tb testing.TB, pub *v5Client, topic string) []mqtt3.Message {
	tb.Helper()
	pub.publish(tb, &paho.Publish{Topic: topic, QoS: 1, Payload: []byte("fence")})
	var out []mqtt3.Message
	for {
		m := c.expectMessage(tb)
		if m.Topic() == topic && string(m.Payload()) == "fence" {
			return out
		}
		out = append(out, m)
	}
}

// subscribeOne subscribes one filter and returns the SUBACK return code.
// paho.mqtt.golang keys a shared filter's result by its topic filter
// part, so the only result is taken.
func (c *v3Client) subscribeOne(tb testing.TB, filter string, qos byte) byte {
	tb.Helper()
	tok := c.Subscribe(filter, qos, nil)
	if !tok.WaitTimeout(eventTimeout) {
		tb.Fatalf("v3 subscribe %q: no answer", filter)
	}
	res := tok.(*mqtt3.SubscribeToken).Result()
	if len(res) != 1 {
		tb.Fatalf("v3 subscribe %q: results %v", filter, res)
	}
	for _, code := range res {
		return code
	}
	return 0
}

// sharedMember connects a v5 client that subscribes filter (a shared
// one) and its fence topic "fence/{id}".
func sharedMember(tb testing.TB, ts *testServer, cp *paho.Connect, filter string, qos byte) *v5Client {
	tb.Helper()
	c := connectV5(tb, ts, cp)
	c.subscribe(tb, filter, qos)
	c.subscribe(tb, "fence/"+cp.ClientID, 1)
	return c
}

// persistentConnect is a CONNECT whose session outlives the connection.
func persistentConnect(id string, clean bool) *paho.Connect {
	return &paho.Connect{ClientID: id, CleanStart: clean, KeepAlive: 60, Properties: &paho.ConnectProperties{
		SessionExpiryInterval: refOf[uint32](300), RequestProblemInfo: true,
	}}
}

// publishN publishes payloads "0".."n-1" at QoS 1 to topic; each must be
// matched (PUBACK 0x00). PUBACK comes after routing, so every message is
// handed to its subscribers' sessions when publishN returns.
func publishN(tb testing.TB, pub *v5Client, topic string, from, n int) {
	tb.Helper()
	for i := from; i < from+n; i++ {
		r := pub.publish(tb, &paho.Publish{Topic: topic, QoS: 1, Payload: []byte(strconv.Itoa(i))})
		if r.ReasonCode != 0 {
			tb.Fatalf("PUBACK 0x%02X for message %d, want success", r.ReasonCode, i)
		}
	}
}

func payloads(ms []*paho.Publish) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = string(m.Payload)
	}
	return out
}

// TestSharedRoundRobin checks a message matching a group goes to exactly
// one member, in turn (4.8.2), while a non-shared subscriber gets every
// message.
func TestSharedRoundRobin(t *testing.T) {
	ts := startServer(t, testConfig(t))
	const n = 30
	var members []*v5Client
	for i := range 3 {
		members = append(members, sharedMember(t, ts, v5Connect(fmt.Sprintf("rr-%d", i)), "$share/workers/rr/+", 1))
	}
	watcher := sharedMember(t, ts, v5Connect("rr-watcher"), "rr/#", 1)
	pub := connectV5(t, ts, v5Connect("rr-pub"))
	publishN(t, pub, "rr/job", 0, n)

	seen := map[string]int{}
	for i, c := range members {
		got := c.beforeFence(t, pub, "fence/"+c.ClientID())
		// Round robin in the order the members joined: member i gets
		// messages i, i+3, i+6...
		var want []string
		for j := i; j < n; j += 3 {
			want = append(want, strconv.Itoa(j))
		}
		if !slices.Equal(payloads(got), want) {
			t.Errorf("member %d got %v, want %v", i, payloads(got), want)
		}
		for _, m := range got {
			seen[string(m.Payload)]++
			if m.QoS != 1 || m.Topic != "rr/job" {
				t.Errorf("member %d got %q at qos %d", i, m.Topic, m.QoS)
			}
		}
	}
	for i := range n {
		if c := seen[strconv.Itoa(i)]; c != 1 {
			t.Errorf("message %d went to %d members, want 1", i, c)
		}
	}
	// The non-shared subscription is independent of the group.
	got := watcher.beforeFence(t, pub, "fence/rr-watcher")
	if len(got) != n {
		t.Fatalf("non-member got %d messages, want %d", len(got), n)
	}
	for i, m := range got {
		if string(m.Payload) != strconv.Itoa(i) {
			t.Fatalf("non-member got %v, want 0..%d in order", payloads(got), n-1)
		}
	}
}

// TestSharedSkipsOfflineMember checks a member whose session has no
// connection gets nothing while other members are connected, and takes
// its turn again once back.
func TestSharedSkipsOfflineMember(t *testing.T) {
	for _, strategy := range []string{"round_robin", "random"} {
		t.Run(strategy, func(t *testing.T) {
			cfg := testConfig(t)
			cfg.Session.SharedSubscriptionStrategy = strategy
			ts := startServer(t, cfg)
			away := sharedMember(t, ts, persistentConnect("off-away", true), "$share/g/off/#", 1)
			b := sharedMember(t, ts, v5Connect("off-b"), "$share/g/off/#", 1)
			c := sharedMember(t, ts, v5Connect("off-c"), "$share/g/off/#", 1)
			pub := connectV5(t, ts, v5Connect("off-pub"))
			pub.roundTrip(t)
			if err := away.Disconnect(&paho.Disconnect{ReasonCode: 0}); err != nil {
				t.Fatalf("disconnect: %v", err)
			}
			// Once counted out, the session is released: it lives on
			// without a connection.
			waitConnections(t, ts, 3)
			if n := ts.Stats().Sessions; n != 4 {
				t.Fatalf("%d sessions, want 4", n)
			}

			const n = 12
			publishN(t, pub, "off/t", 0, n)
			gotB := b.beforeFence(t, pub, "fence/off-b")
			gotC := c.beforeFence(t, pub, "fence/off-c")
			if len(gotB)+len(gotC) != n {
				t.Fatalf("the connected members got %d + %d messages, want %d in all", len(gotB), len(gotC), n)
			}
			if strategy == "round_robin" && (len(gotB) == 0 || len(gotC) == 0) {
				t.Errorf("round robin gave %d and %d messages", len(gotB), len(gotC))
			}

			away = connectV5(t, ts, persistentConnect("off-away", false))
			if !away.connack.SessionPresent {
				t.Fatalf("Session Present 0: the session should have been kept")
			}
			// Nothing was queued for it while others were connected.
			if got := away.beforeFence(t, pub, "fence/off-away"); len(got) != 0 {
				t.Fatalf("the member that was offline got %v", payloads(got))
			}
			if strategy != "round_robin" {
				return
			}
			// Back online it takes its turn: the cursor is at 12, a
			// multiple of 3, and the members are in join order.
			publishN(t, pub, "off/t", n, 3)
			for i, m := range []*v5Client{away, b, c} {
				got := m.beforeFence(t, pub, "fence/"+m.ClientID())
				if want := []string{strconv.Itoa(n + i)}; !slices.Equal(payloads(got), want) {
					t.Errorf("member %d got %v, want %v", i, payloads(got), want)
				}
			}
		})
	}
}

// TestSharedAllOffline checks that with no member connected a message is
// queued for one offline member, in turn, and delivered once it is back.
func TestSharedAllOffline(t *testing.T) {
	ts := startServer(t, testConfig(t))
	ids := []string{"alloff-a", "alloff-b"}
	for _, id := range ids {
		m := sharedMember(t, ts, persistentConnect(id, true), "$share/g/alloff/#", 1)
		m.Disconnect(&paho.Disconnect{ReasonCode: 0})
	}
	pub := connectV5(t, ts, v5Connect("alloff-pub"))
	pub.roundTrip(t)
	waitConnections(t, ts, 1)
	// The offline sessions match: success, not No Matching Subscribers.
	publishN(t, pub, "alloff/t", 0, 4)
	for i, id := range ids {
		m := connectV5(t, ts, persistentConnect(id, false))
		got := m.beforeFence(t, pub, "fence/"+id)
		if want := []string{strconv.Itoa(i), strconv.Itoa(i + 2)}; !slices.Equal(payloads(got), want) {
			t.Errorf("%s got %v, want %v", id, payloads(got), want)
		}
	}
}

// rawClient is an MQTT 5 client on the edgemq codec, which acknowledges
// nothing unless told to.
type rawClient struct {
	nc net.Conn
}

// dialRaw connects a raw v5 client with clean start, Session Expiry
// Interval 0 and Receive Maximum receiveMax.
func dialRaw(tb testing.TB, ts *testServer, id string, receiveMax uint16) *rawClient {
	tb.Helper()
	r := &rawClient{nc: dial(tb, ts, "tcp")}
	cp := &mqtt.Connect{Version: mqtt.V5, CleanStart: true, KeepAlive: 60, ClientID: id}
	cp.Properties.SetUint16(mqtt.PropReceiveMaximum, receiveMax)
	r.send(tb, cp)
	if ack, ok := r.read(tb).(*mqtt.Connack); !ok || ack.ReasonCode != mqtt.Success {
		tb.Fatalf("raw client %s: want CONNACK success, got %+v", id, ack)
	}
	return r
}

func (r *rawClient) send(tb testing.TB, p mqtt.Packet) {
	tb.Helper()
	b, err := mqtt.Append(nil, p, mqtt.V5)
	if err != nil {
		tb.Fatalf("encoding %v: %v", p.Type(), err)
	}
	if _, err := r.nc.Write(b); err != nil {
		tb.Fatalf("writing %v: %v", p.Type(), err)
	}
}

func (r *rawClient) read(tb testing.TB) mqtt.Packet {
	tb.Helper()
	r.nc.SetReadDeadline(time.Now().Add(eventTimeout))
	p, err := mqtt.ReadPacket(r.nc, mqtt.V5, 0)
	if err != nil {
		tb.Fatalf("raw client: reading: %v", err)
	}
	return p
}

// subscribe subscribes filter and checks the grant.
func (r *rawClient) subscribe(tb testing.TB, filter string, qos byte) {
	tb.Helper()
	r.send(tb, &mqtt.Subscribe{PacketID: 1, Subscriptions: []mqtt.Subscription{{Filter: filter, QoS: qos}}})
	if sa, ok := r.read(tb).(*mqtt.Suback); !ok || !slices.Equal(sa.ReasonCodes, []mqtt.ReasonCode{mqtt.ReasonCode(qos)}) {
		tb.Fatalf("raw client: want SUBACK granting qos %d, got %+v", qos, sa)
	}
}

// expectPublish reads a PUBLISH of payload.
func (r *rawClient) expectPublish(tb testing.TB, payload string) *mqtt.Publish {
	tb.Helper()
	p, ok := r.read(tb).(*mqtt.Publish)
	if !ok || string(p.Payload) != payload || p.Dup {
		tb.Fatalf("raw client: want PUBLISH %q without DUP, got %+v", payload, p)
	}
	return p
}

// TestSharedRedeliveryOnSessionEnd checks the QoS 1 and 2 messages a
// member did not acknowledge, in flight or waiting for its Receive
// Maximum, go to another member of the group when its session ends, as
// new messages (DUP 0); a QoS 2 message past PUBREC was received and is
// not sent again (4.8.2).
func TestSharedRedeliveryOnSessionEnd(t *testing.T) {
	for _, qos := range []byte{1, 2} {
		t.Run(fmt.Sprintf("qos %d", qos), func(t *testing.T) {
			ts := startServer(t, testConfig(t))
			filter := "$share/red/red/#"
			// The raw member joins first: round robin gives it messages
			// 0 and 2. With Receive Maximum 1 (QoS 1), 0 is in flight
			// and 2 waits in its session; with 2 (QoS 2) both are in
			// flight and 0 gets its PUBREC.
			x := dialRaw(t, ts, "red-x", uint16(qos))
			x.subscribe(t, filter, qos)
			y := sharedMember(t, ts, v5Connect("red-y"), filter, qos)
			pub := connectV5(t, ts, v5Connect("red-pub"))
			for i := range 4 {
				pub.publish(t, &paho.Publish{Topic: "red/t", QoS: qos, Payload: []byte(strconv.Itoa(i))})
			}
			want := []string{"0", "1", "2", "3"}
			p0 := x.expectPublish(t, "0")
			if qos == 2 {
				x.expectPublish(t, "2")
				x.send(t, &mqtt.Pubrec{PacketID: p0.PacketID})
				if rel, ok := x.read(t).(*mqtt.Pubrel); !ok || rel.PacketID != p0.PacketID {
					t.Fatalf("want PUBREL %d, got %+v", p0.PacketID, rel)
				}
				want = []string{"1", "2", "3"}
			}
			// Session Expiry 0: closing the socket ends the session.
			x.nc.Close()

			var got []string
			for range want {
				m := y.expectMessage(t)
				if m.QoS != qos || m.Duplicate() {
					t.Errorf("got %q at qos %d dup %v, want qos %d without DUP", m.Payload, m.QoS, m.Duplicate(), qos)
				}
				got = append(got, string(m.Payload))
			}
			if extra := y.beforeFence(t, pub, "fence/red-y"); len(extra) > 0 {
				t.Errorf("then %v", payloads(extra))
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Fatalf("the remaining member got %v, want %v", got, want)
			}
			for _, p := range tapped[*mqtt.Publish](t, y.tap) {
				if p.Dup {
					t.Errorf("PUBLISH %q with DUP to the new member", p.Payload)
				}
			}
		})
	}
}

// TestSharedInvalidShareName checks a share name must be at least one
// character with no '/', '+' or '#', and be followed by a filter
// [MQTT-4.8.2-1, MQTT-4.8.2-2]: SUBACK 0x8F for MQTT 5, 0x80 for 3.1.1,
// the connection kept.
func TestSharedInvalidShareName(t *testing.T) {
	ts := startServer(t, testConfig(t))
	bad := []string{"$share//a", "$share/+/a", "$share/g#/a", "$share/g+/a", "$share/g", "$share/g/", "$share/"}

	c := connectV5(t, ts, v5Connect("badshare-5"))
	s := &paho.Subscribe{}
	for _, f := range bad {
		s.Subscriptions = append(s.Subscriptions, paho.SubscribeOptions{Topic: f, QoS: 1})
	}
	s.Subscriptions = append(s.Subscriptions, paho.SubscribeOptions{Topic: "$share/ok/badshare/t", QoS: 1})
	ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
	defer cancel()
	sa, err := c.Subscribe(ctx, s)
	if sa == nil {
		t.Fatalf("no SUBACK: %v", err)
	}
	want := slices.Repeat([]byte{byte(mqtt.TopicFilterInvalid)}, len(bad))
	want = append(want, 1)
	if !slices.Equal(sa.Reasons, want) {
		t.Fatalf("SUBACK reason codes % X, want % X", sa.Reasons, want)
	}
	c.publish(t, &paho.Publish{Topic: "badshare/t", QoS: 1, Payload: []byte("x")})
	if m := c.expectMessage(t); string(m.Payload) != "x" {
		t.Fatalf("got %q", m.Payload)
	}

	v3 := connectV3(t, ts, "badshare-3", nil)
	for _, f := range bad[:4] { // paho.mqtt.golang refuses the others itself
		if got := v3.subscribeOne(t, f, 1); got != 0x80 {
			t.Errorf("v3 SUBACK return code 0x%02X for %q, want 0x80", got, f)
		}
	}
	if got := v3.subscribeOne(t, "$share/ok/badshare/v3", 1); got != 1 {
		t.Errorf("v3 granted qos %d, want 1", got)
	}
}

// TestSharedNoLocal checks No Local on a shared subscription is a
// Protocol Error: DISCONNECT 0x82 [MQTT-3.8.3-4].
func TestSharedNoLocal(t *testing.T) {
	ts := startServer(t, testConfig(t))
	c := connectV5(t, ts, v5Connect("share-nolocal"))
	ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
	defer cancel()
	go c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "$share/g/nl", QoS: 1, NoLocal: true}}})
	if d := c.expectServerDisconnect(t); d.ReasonCode != byte(mqtt.ProtocolError) {
		t.Fatalf("DISCONNECT 0x%02X, want 0x82", d.ReasonCode)
	}
}

// TestSharedNoRetained checks retained messages are not sent on a new
// shared subscription (4.8.2), whatever its Retain Handling, while a
// non-shared one gets them.
func TestSharedNoRetained(t *testing.T) {
	ts := startServer(t, testConfig(t))
	pub := connectV5(t, ts, v5Connect("shret-pub"))
	pub.publish(t, &paho.Publish{Topic: "shret/t", QoS: 1, Retain: true, Payload: []byte("kept")})

	m := connectV5(t, ts, v5Connect("shret-member"))
	m.subscribe(t, "fence/shret-member", 1)
	// Retain Handling 1 on a new subscription, then 0, would send them on
	// a non-shared one [MQTT-3.3.1-9, MQTT-3.3.1-10].
	for _, rh := range []byte{1, 0} {
		m.subscribeWith(t, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "$share/g/shret/#", QoS: 1, RetainHandling: rh}}})
		if got := m.beforeFence(t, pub, "fence/shret-member"); len(got) != 0 {
			t.Fatalf("retain handling %d: shared subscription got %v", rh, payloads(got))
		}
	}
	// A non-shared subscription of the same client does get it.
	m.subscribe(t, "shret/#", 1)
	if got := m.expectMessage(t); string(got.Payload) != "kept" || !got.Retain {
		t.Fatalf("got %q retain %v, want the retained message", got.Payload, got.Retain)
	}
	// Live messages reach the group as usual.
	m.Unsubscribe(context.Background(), &paho.Unsubscribe{Topics: []string{"shret/#"}})
	pub.publish(t, &paho.Publish{Topic: "shret/t", QoS: 1, Payload: []byte("live")})
	if got := m.expectMessage(t); string(got.Payload) != "live" || got.Retain {
		t.Fatalf("got %q retain %v, want the live message", got.Payload, got.Retain)
	}
}

// TestSharedOverlapAndUnsubscribe checks a session gets a copy per shared
// subscription and one for its non-shared ones (the one-copy rule,
// [MQTT-3.3.4-2..5], is for non-shared subscriptions), each with its
// Subscription Identifier, and that UNSUBSCRIBE of "$share/g/f" ends only
// that membership.
func TestSharedOverlapAndUnsubscribe(t *testing.T) {
	ts := startServer(t, testConfig(t))
	c := connectV5(t, ts, v5Connect("shov"))
	for i, f := range []string{"$share/g1/shov/#", "$share/g2/shov/+", "shov/#", "shov/x"} {
		c.subscribeWith(t, &paho.Subscribe{
			Subscriptions: []paho.SubscribeOptions{{Topic: f, QoS: 1}},
			Properties:    &paho.SubscribeProperties{SubscriptionIdentifier: refOf(i + 1)},
		})
	}
	c.subscribe(t, "fence/shov", 1)
	pub := connectV5(t, ts, v5Connect("shov-pub"))

	// ids lists the Subscription Identifiers of each PUBLISH of payload
	// on the wire (the client library shows one only).
	ids := func(payload string) [][]uint32 {
		var out [][]uint32
		for _, p := range tapped[*mqtt.Publish](t, c.tap) {
			if string(p.Payload) == payload {
				out = append(out, slices.Sorted(slices.Values(p.Properties.SubscriptionIdentifiers)))
			}
		}
		slices.SortFunc(out, slices.Compare)
		return out
	}
	pub.publish(t, &paho.Publish{Topic: "shov/x", QoS: 1, Payload: []byte("x")})
	if got := c.beforeFence(t, pub, "fence/shov"); len(got) != 3 {
		t.Fatalf("got %d copies, want 3", len(got))
	}
	// One copy per group, one for the two non-shared subscriptions.
	if got, want := ids("x"), [][]uint32{{1}, {2}, {3, 4}}; !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("Subscription Identifiers of the copies %v, want %v", got, want)
	}

	ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
	defer cancel()
	ua, err := c.Unsubscribe(ctx, &paho.Unsubscribe{Topics: []string{"$share/g1/shov/#", "$share/g3/shov/#"}})
	if err != nil {
		t.Fatalf("unsubscribe: %v", err)
	}
	if want := []byte{byte(mqtt.Success), byte(mqtt.NoSubscriptionExisted)}; !slices.Equal(ua.Reasons, want) {
		t.Fatalf("UNSUBACK % X, want % X", ua.Reasons, want)
	}
	pub.publish(t, &paho.Publish{Topic: "shov/x", QoS: 1, Payload: []byte("y")})
	if got := c.beforeFence(t, pub, "fence/shov"); len(got) != 2 {
		t.Fatalf("after UNSUBSCRIBE: got %d copies, want 2", len(got))
	}
	if got, want := ids("y"), [][]uint32{{2}, {3, 4}}; !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("after UNSUBSCRIBE: Subscription Identifiers %v, want %v", got, want)
	}
}

// TestSharedAcrossVersions checks a 3.1.1 client shares a group with MQTT
// 5 clients, taking its turn.
func TestSharedAcrossVersions(t *testing.T) {
	ts := startServer(t, testConfig(t))
	const filter = "$share/mix/mix/#"
	a := sharedMember(t, ts, v5Connect("mix-a"), filter, 1)
	v3 := connectV3(t, ts, "mix-v3", nil)
	if got := v3.subscribeOne(t, filter, 1); got != 1 {
		t.Fatalf("v3 granted qos %d, want 1", got)
	}
	v3.subscribe(t, "fence/mix-v3", 1)
	b := sharedMember(t, ts, v5Connect("mix-b"), filter, 1)
	pub := connectV5(t, ts, v5Connect("mix-pub"))

	const n = 9
	publishN(t, pub, "mix/t", 0, n)
	want := func(i int) []string {
		var w []string
		for j := i; j < n; j += 3 {
			w = append(w, strconv.Itoa(j))
		}
		return w
	}
	if got := payloads(a.beforeFence(t, pub, "fence/mix-a")); !slices.Equal(got, want(0)) {
		t.Errorf("v5 member a got %v, want %v", got, want(0))
	}
	var got3 []string
	for _, m := range v3.beforeFence(t, pub, "fence/mix-v3") {
		if m.Topic() != "mix/t" || m.Qos() != 1 {
			t.Errorf("v3 member got %q at qos %d", m.Topic(), m.Qos())
		}
		got3 = append(got3, string(m.Payload()))
	}
	if !slices.Equal(got3, want(1)) {
		t.Errorf("v3 member got %v, want %v", got3, want(1))
	}
	if got := payloads(b.beforeFence(t, pub, "fence/mix-b")); !slices.Equal(got, want(2)) {
		t.Errorf("v5 member b got %v, want %v", got, want(2))
	}
}
