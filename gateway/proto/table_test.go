package proto

// Table-driven tests of the protocol state machine without sockets
// (proto_harness_test.go): golden packets of mqtt/mqtttest in, the exact
// packets out, time and timers moved by hand.

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
	"time"

	"edgemq/configs"
	"edgemq/mqtt"

	"github.com/golang-jwt/jwt/v5"
)

// with returns a copy of b with the bytes at the given offsets replaced:
// a golden packet with one field changed.
func with(b []byte, at map[int]byte) []byte {
	out := slices.Clone(b)
	for i, v := range at {
		out[i] = v
	}
	return out
}

// protoConfig is the configuration of the channel tests: the defaults,
// one tcp listener.
func protoConfig(tb testing.TB) *configs.Config {
	tb.Helper()
	cfg := testConfig(tb)
	cfg.DataDir = "" // in memory: the harness has no store
	return cfg
}

// CONNECT in, CONNACK (or a close) out: the handshake's answers, with the
// brute-force delay the channel asks for before a refusal.
func TestProtoConnect(t *testing.T) {
	accepted := []byte{0x20, 0x02, 0x00, 0x00} // 3.x CONNACK: flags 0, return code 0 (3.2.2.3)
	noAnonymous := func(cfg *configs.Config) { cfg.Listeners[0].AllowAnonymous = refOf(false) }
	bruteForce := func(cfg *configs.Config) {
		cfg.Auth.BruteForce = configs.BruteForce{Enabled: true, InitialDelay: time.Second, MaxDelay: time.Minute, ResetAfter: time.Hour, MaxEntries: 100}
	}
	tests := []struct {
		name      string
		cfg       func(*configs.Config)
		in        []byte
		want      [][]byte // the packets queued, in order
		closed    bool     // the connection is closed after them
		connected bool
		delays    []time.Duration // brute-force delays asked for
	}{
		{
			// CONNACK is the first packet from the server [MQTT-3.2.0-1].
			name: "3.1 accepted", in: golden(t, "CONNECT 3.1 clean session"),
			want: [][]byte{golden(t, "CONNACK 3.1 accepted")}, connected: true,
		},
		{
			// A new session: Session Present 0 [MQTT-3.2.2-3 of 3.1.1].
			name: "3.1.1 persistent session accepted", in: golden(t, "CONNECT 3.1.1 minimal, persistent session"),
			want: [][]byte{accepted}, connected: true,
		},
		{
			// A zero-byte client identifier with clean session gets one
			// [MQTT-3.1.3-6].
			name: "3.1.1 empty client identifier, clean session", in: golden(t, "CONNECT 3.1.1 empty client identifier, clean session"),
			want: [][]byte{accepted}, connected: true,
		},
		{
			// ... and without clean session is refused with 0x02, then
			// closed [MQTT-3.1.3-8, MQTT-3.2.2-5].
			name: "3.1.1 empty client identifier, persistent session",
			in:   with(golden(t, "CONNECT 3.1.1 empty client identifier, clean session"), map[int]byte{9: 0x00}),
			want: [][]byte{golden(t, "CONNACK 3.1.1 identifier rejected")}, closed: true,
		},
		{
			// An unsupported level from 5 up: CONNACK 0x84 in the 5.0
			// format, then close [MQTT-3.1.2-2].
			name: "protocol level 6", in: with(golden(t, "CONNECT 5.0 minimal, clean start"), map[int]byte{8: 0x06}),
			want: [][]byte{{0x20, 0x03, 0x00, 0x84, 0x00}}, closed: true,
		},
		{
			// Below 5: return code 0x01 unacceptable protocol version
			// [MQTT-3.1.2-2 of 3.1.1].
			name: "protocol level 2", in: with(golden(t, "CONNECT 3.1.1 minimal, persistent session"), map[int]byte{8: 0x02}),
			want: [][]byte{{0x20, 0x02, 0x00, 0x01}}, closed: true,
		},
		{
			// A protocol name that is not MQTT: closed without CONNACK
			// [MQTT-3.1.2-1].
			name: "protocol name", in: with(golden(t, "CONNECT 3.1.1 minimal, persistent session"), map[int]byte{7: 'X'}),
			closed: true,
		},
		{
			// The first packet must be CONNECT [MQTT-3.1.0-1].
			name: "first packet not connect", in: golden(t, "PINGREQ 3.1.1"), closed: true,
		},
		{
			// An anonymous client where credentials are required: 3.1
			// return code 5 not authorized (3.1.1 [MQTT-3.1.4-1]), close.
			name: "3.1 anonymous refused", cfg: noAnonymous, in: golden(t, "CONNECT 3.1 clean session"),
			want: [][]byte{golden(t, "CONNACK 3.1 refused, not authorized")}, closed: true,
		},
		{
			// Nothing goes out before the brute-force delay is over; then
			// return code 5 and close.
			name: "3.1 anonymous refused after the delay", cfg: func(cfg *configs.Config) { noAnonymous(cfg); bruteForce(cfg) },
			in:   golden(t, "CONNECT 3.1 clean session"),
			want: [][]byte{golden(t, "CONNACK 3.1 refused, not authorized")}, closed: true, delays: []time.Duration{time.Second},
		},
		{
			// A wrong password: return code 4 bad user name or password
			// (3.2.2.3), after the delay.
			name: "3.1.1 bad password after the delay", cfg: func(cfg *configs.Config) {
				bruteForce(cfg)
				cfg.Auth.Users = []configs.User{{Username: "user", PasswordHash: bcryptHash(t, "right")}}
			},
			in:   golden(t, "CONNECT 3.1.1 will qos 2, user name and binary password"),
			want: [][]byte{{0x20, 0x02, 0x00, 0x04}}, closed: true, delays: []time.Duration{time.Second},
		},
		{
			// The right password, without failures before: no delay.
			name: "3.1.1 password accepted", cfg: func(cfg *configs.Config) {
				bruteForce(cfg)
				cfg.Auth.Users = []configs.User{{Username: "user", PasswordHash: bcryptHash(t, "\x00\xff")}}
			},
			in:   golden(t, "CONNECT 3.1.1 will qos 2, user name and binary password"),
			want: [][]byte{accepted}, connected: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := protoConfig(t)
			if tt.cfg != nil {
				tt.cfg(cfg)
			}
			h := newProtoHost(t, cfg, nil)
			c := h.dial(t, "192.0.2.1:1883")
			c.feed(t, tt.in)
			c.expectOut(t, tt.closed, tt.want...)
			if c.connected != tt.connected {
				t.Errorf("connected %v, want %v", c.connected, tt.connected)
			}
			if !slices.Equal(c.delays, tt.delays) {
				t.Errorf("delays %v, want %v", c.delays, tt.delays)
			}
		})
	}
}

// protoStep is one step of a script: a packet fed to one connection, or
// the clock moved, and what every connection queued in answer.
type protoStep struct {
	conn    int           // the connection fed
	in      []byte        // the packet fed to it; nil: none
	advance time.Duration // then the clock moves by this much
	// out is what each connection queued, exactly; a connection not
	// listed queued nothing. A nil packet is one not compared here (a
	// 5.0 CONNACK, whose properties TestProtoConnectV5 checks).
	out map[int][][]byte
	// closed lists the connections the step closed.
	closed []int
	// event, when set, is delivered after the packet: an event of the
	// server's (a kick).
	event func(h *protoHost)
	// commit, when set, makes the store commit after the step's packet
	// (the event "store committed"); out is what follows it.
	commit bool
	// check, when set, checks more after the step.
	check func(t *testing.T, h *protoHost)
}

// runScript runs the steps script makes on a host of cfg with n
// connections.
func runScript(t *testing.T, cfg *configs.Config, st *heldStore, n int, script func(*testing.T, *protoHost) []protoStep) {
	t.Helper()
	h := newProtoHost(t, cfg, st)
	for i := range n {
		h.dial(t, fmt.Sprintf("192.0.2.%d:1883", i+1))
	}
	steps := script(t, h)
	closed := make([]bool, n)
	for i, st := range steps {
		if st.in != nil {
			h.conns[st.conn].feed(t, st.in)
		}
		if st.advance > 0 {
			h.advance(t, st.advance)
		}
		if st.event != nil {
			st.event(h)
			h.settle(t)
		}
		if st.commit && h.st.commit() == 0 {
			t.Fatalf("step %d: nothing waited for the store", i)
		}
		for _, c := range st.closed {
			closed[c] = true
		}
		for ci, c := range h.conns {
			got, isClosed := c.out.take()
			want := st.out[ci]
			if len(got) != len(want) {
				t.Fatalf("step %d: connection %d queued %s, want %s", i, ci, hexes(got), hexes(want))
			}
			for k := range want {
				if want[k] != nil && !bytes.Equal(got[k], want[k]) {
					t.Errorf("step %d: connection %d packet %d: % x, want % x", i, ci, k, got[k], want[k])
				}
			}
			if isClosed != closed[ci] {
				t.Fatalf("step %d: connection %d closed %v, want %v", i, ci, isClosed, closed[ci])
			}
		}
		if st.check != nil {
			st.check(t, h)
		}
	}
}

// connect311 and connect5 are CONNECT packets with the client identifier
// id and clean start; set changes the rest.
func connect311(t *testing.T, id string, set func(*mqtt.Connect)) []byte {
	c := &mqtt.Connect{ProtocolName: "MQTT", Version: mqtt.V311, ClientID: id, CleanStart: true}
	if set != nil {
		set(c)
	}
	return encode(t, c, mqtt.V311)
}

func connect5(t *testing.T, id string, set func(*mqtt.Connect)) []byte {
	c := &mqtt.Connect{ProtocolName: "MQTT", Version: mqtt.V5, ClientID: id, CleanStart: true}
	// No Reason String nor User Property in what the server sends
	// [MQTT-3.1.2-29]: its packets are then exact bytes.
	c.Properties.SetByte(mqtt.PropRequestProblemInformation, 0)
	if set != nil {
		set(c)
	}
	return encode(t, c, mqtt.V5)
}

func subscribe(t *testing.T, v mqtt.Version, pid uint16, filter string, qos byte) []byte {
	return encode(t, &mqtt.Subscribe{PacketID: pid, Subscriptions: []mqtt.Subscription{{Filter: filter, QoS: qos}}}, v)
}

// Packets in, packets out, between connected clients: SUBSCRIBE, the
// PUBLISH flows of each QoS to a second channel, PINGREQ, topic aliases,
// DISCONNECT and the will, keep alive and credential expiry by the clock.
func TestProtoSession(t *testing.T) {
	// The JWT cases' key: set by jwtProtoConfig, signing for jwtToken.
	var key *testKey
	jwtProtoConfig := func(t *testing.T, cfg *configs.Config) {
		key = newTestKey(t)
		jwtConfig(cfg, configs.JWTAuth{SecretFile: key.keyFile(t), Token: configs.JWTTokenSource{Password: true}})
	}
	// jwtToken sets a token valid for d by h's clock as the password.
	jwtToken := func(t *testing.T, h *protoHost, d time.Duration) func(*mqtt.Connect) {
		tok := key.sign(t, jwt.MapClaims{"sub": "a", "exp": h.clock.Now().Add(d).Unix()})
		return func(c *mqtt.Connect) {
			// 3.1.1 has no password without a user name [MQTT-3.1.2-22].
			c.UsernameFlag, c.Username = true, "a"
			c.PasswordFlag, c.Password = true, []byte(tok)
		}
	}
	// expectArms checks how often connection i asked for its credential
	// timer.
	expectArms := func(i, n int) func(*testing.T, *protoHost) {
		return func(t *testing.T, h *protoHost) {
			t.Helper()
			if got := h.conns[i].timers.arms; got != n {
				t.Errorf("connection %d asked for the expiry timer %d times, want %d", i, got, n)
			}
		}
	}
	accepted := []byte{0x20, 0x02, 0x00, 0x00}
	var anyPacket []byte // a 5.0 CONNACK: see TestProtoConnectV5
	withWill := func(c *mqtt.Connect) { c.Will = &mqtt.Will{Topic: "w", Payload: []byte("bye")} }
	willPublish := []byte{0x30, 0x06, 0x00, 0x01, 'w', 'b', 'y', 'e'}        // 3.x
	willPublish5 := []byte{0x30, 0x07, 0x00, 0x01, 'w', 0x00, 'b', 'y', 'e'} // 5.0: property length 0
	tests := []struct {
		name  string
		cfg   func(t *testing.T, cfg *configs.Config)
		store bool // with a store whose commits the steps make
		conns int
		steps func(t *testing.T, h *protoHost) []protoStep
	}{
		{name: "qos 0 and pingreq, 3.1.1", conns: 2, steps: func(t *testing.T, h *protoHost) []protoStep {
			return []protoStep{
				{conn: 0, in: golden(t, "CONNECT 3.1.1 minimal, persistent session"), out: map[int][][]byte{0: {accepted}}},
				{conn: 1, in: connect311(t, "pub", nil), out: map[int][][]byte{1: {accepted}}},
				// SUBACK with the packet id and the granted QoS
				// [MQTT-3.8.4-1, MQTT-3.8.4-2, MQTT-3.9.3-1].
				{conn: 0, in: golden(t, "SUBSCRIBE 3.1.1 one filter"), out: map[int][][]byte{0: {{0x90, 0x03, 0x00, 0x01, 0x00}}}},
				// The message goes to the subscriber as published.
				{conn: 1, in: golden(t, "PUBLISH 3.1.1 qos 0"), out: map[int][][]byte{0: {golden(t, "PUBLISH 3.1.1 qos 0")}}},
				// [MQTT-3.12.4-1]
				{conn: 1, in: golden(t, "PINGREQ 3.1.1"), out: map[int][][]byte{1: {golden(t, "PINGRESP 3.1.1")}}},
				// UNSUBACK with the UNSUBSCRIBE's packet id [MQTT-3.10.4-4];
				// no new messages for the filter [MQTT-3.10.4-2].
				{conn: 0, in: golden(t, "UNSUBSCRIBE 3.1.1"), out: map[int][][]byte{0: {golden(t, "UNSUBACK 3.1.1")}}},
				{conn: 1, in: golden(t, "PUBLISH 3.1.1 qos 0")},
			}
		}},
		{name: "takeover, 3.1.1", conns: 2, steps: func(t *testing.T, h *protoHost) []protoStep {
			persistent := golden(t, "CONNECT 3.1.1 minimal, persistent session") // client "cid"
			return []protoStep{
				{conn: 0, in: persistent, out: map[int][][]byte{0: {accepted}}},
				{conn: 0, in: golden(t, "SUBSCRIBE 3.1.1 one filter"), out: map[int][][]byte{0: {{0x90, 0x03, 0x00, 0x01, 0x00}}}},
				// The same client identifier again: the first connection
				// is closed [MQTT-3.1.4-3] and the session resumed,
				// Session Present 1 [MQTT-3.2.2-3 of 3.1.1].
				{conn: 1, in: persistent, out: map[int][][]byte{1: {golden(t, "CONNACK 3.1.1 session present")}}, closed: []int{0}},
				// The subscription came with the session.
				{conn: 1, in: golden(t, "PUBLISH 3.1.1 qos 0"), out: map[int][][]byte{1: {golden(t, "PUBLISH 3.1.1 qos 0")}}},
			}
		}},
		{name: "acknowledgements wait for the store, 3.1.1", store: true, conns: 2, steps: func(t *testing.T, h *protoHost) []protoStep {
			pubrec := []byte{0x50, 0x02, 0xFF, 0xFF}
			persistent := func(c *mqtt.Connect) { c.CleanStart = false }
			return []protoStep{
				{conn: 0, in: golden(t, "CONNECT 3.1.1 minimal, persistent session"), out: map[int][][]byte{0: {accepted}}},
				{conn: 1, in: connect311(t, "pub", persistent), out: map[int][][]byte{1: {accepted}}},
				// SUBACK once the subscription is stored.
				{conn: 0, in: subscribe(t, mqtt.V311, 1, "a/b", 1)},
				{commit: true, out: map[int][][]byte{0: {{0x90, 0x03, 0x00, 0x01, 0x01}}}},
				// A QoS 1 message to a persistent session: the connected
				// subscriber gets it at once; the publisher's PUBACK, which
				// ends its ownership of the message [MQTT-4.3.2-2], waits
				// until the message is stored.
				{conn: 1, in: golden(t, "PUBLISH 3.1.1 qos 1 retain"), out: map[int][][]byte{
					0: {{0x32, 0x0A, 0x00, 0x03, 'a', '/', 'b', 0x00, 0x01, 0x01, 0x02, 0x03}},
				}},
				{commit: true, out: map[int][][]byte{1: {{0x40, 0x02, 0x00, 0x0A}}}},
				// QoS 2 from a persistent session: PUBREC once the packet
				// id is stored (a restart must not take a repeat for a new
				// message, 4.3.3).
				{conn: 1, in: golden(t, "PUBLISH 3.1.1 qos 2 dup retain, empty payload")},
				{commit: true, out: map[int][][]byte{1: {pubrec}}},
				// PUBCOMP once the id's release is stored: then the id may
				// be reused (persist_qos2.go).
				{conn: 1, in: []byte{0x62, 0x02, 0xFF, 0xFF}},
				{commit: true, out: map[int][][]byte{1: {{0x70, 0x02, 0xFF, 0xFF}}}},
			}
		}},
		{name: "qos 1 and retained, 3.1.1", conns: 3, steps: func(t *testing.T, h *protoHost) []protoStep {
			return []protoStep{
				{conn: 0, in: connect311(t, "sub", nil), out: map[int][][]byte{0: {accepted}}},
				{conn: 1, in: connect311(t, "pub", nil), out: map[int][][]byte{1: {accepted}}},
				{conn: 0, in: subscribe(t, mqtt.V311, 1, "a/b", 1), out: map[int][][]byte{0: {{0x90, 0x03, 0x00, 0x01, 0x01}}}},
				// PUBACK with the publisher's packet id 10 [MQTT-4.3.2-2];
				// the subscriber gets it with its own packet id 1 and
				// RETAIN 0, as it matches an established subscription
				// [MQTT-3.3.1-9 of 3.1.1].
				{conn: 1, in: golden(t, "PUBLISH 3.1.1 qos 1 retain"), out: map[int][][]byte{
					1: {{0x40, 0x02, 0x00, 0x0A}},
					0: {{0x32, 0x0A, 0x00, 0x03, 'a', '/', 'b', 0x00, 0x01, 0x01, 0x02, 0x03}},
				}},
				{conn: 0, in: golden(t, "PUBACK 3.1.1"), out: nil},
				// A new subscription gets the retained message with RETAIN
				// 1 [MQTT-3.3.1-6, MQTT-3.3.1-8 of 3.1.1], after SUBACK.
				{conn: 2, in: connect311(t, "late", nil), out: map[int][][]byte{2: {accepted}}},
				{conn: 2, in: subscribe(t, mqtt.V311, 7, "a/+", 1), out: map[int][][]byte{2: {
					{0x90, 0x03, 0x00, 0x07, 0x01},
					{0x33, 0x0A, 0x00, 0x03, 'a', '/', 'b', 0x00, 0x01, 0x01, 0x02, 0x03},
				}}},
			}
		}},
		{name: "qos 2, 3.1.1", conns: 2, steps: func(t *testing.T, h *protoHost) []protoStep {
			pub := golden(t, "PUBLISH 3.1.1 qos 2 dup retain, empty payload") // packet id 65535, topic "t"
			return []protoStep{
				{conn: 0, in: connect311(t, "sub", nil), out: map[int][][]byte{0: {accepted}}},
				{conn: 1, in: connect311(t, "pub", nil), out: map[int][][]byte{1: {accepted}}},
				{conn: 0, in: subscribe(t, mqtt.V311, 1, "t", 2), out: map[int][][]byte{0: {{0x90, 0x03, 0x00, 0x01, 0x02}}}},
				// PUBREC [MQTT-4.3.3-8]; the subscriber's copy has DUP 0
				// (set independently, [MQTT-3.3.1-3]) and RETAIN 0.
				{conn: 1, in: pub, out: map[int][][]byte{
					1: {{0x50, 0x02, 0xFF, 0xFF}},
					0: {{0x34, 0x05, 0x00, 0x01, 't', 0x00, 0x01}},
				}},
				// The same packet id again before PUBREL: PUBREC again,
				// not delivered twice [MQTT-4.3.3-10].
				{conn: 1, in: pub, out: map[int][][]byte{1: {{0x50, 0x02, 0xFF, 0xFF}}}},
				// PUBREL → PUBCOMP [MQTT-4.3.3-11].
				{conn: 1, in: []byte{0x62, 0x02, 0xFF, 0xFF}, out: map[int][][]byte{1: {{0x70, 0x02, 0xFF, 0xFF}}}},
				// The subscriber's PUBREC → PUBREL with its packet id
				// (4.3.3), then PUBCOMP ends it.
				{conn: 0, in: []byte{0x50, 0x02, 0x00, 0x01}, out: map[int][][]byte{0: {{0x62, 0x02, 0x00, 0x01}}}},
				{conn: 0, in: []byte{0x70, 0x02, 0x00, 0x01}},
				// The id is free again: a new message with it is routed.
				{conn: 1, in: pub, out: map[int][][]byte{
					1: {{0x50, 0x02, 0xFF, 0xFF}},
					0: {{0x34, 0x05, 0x00, 0x01, 't', 0x00, 0x02}},
				}},
			}
		}},
		{name: "topic alias, 5.0", conns: 2, steps: func(t *testing.T, h *protoHost) []protoStep {
			setAlias := &mqtt.Publish{Topic: "a/b", Payload: []byte("x")}
			setAlias.Properties.SetUint16(mqtt.PropTopicAlias, 1)
			unset := &mqtt.Publish{Payload: []byte("x")}
			unset.Properties.SetUint16(mqtt.PropTopicAlias, 2)
			return []protoStep{
				{conn: 0, in: connect5(t, "sub", nil), out: map[int][][]byte{0: {anyPacket}}},
				{conn: 1, in: connect5(t, "pub", nil), out: map[int][][]byte{1: {anyPacket}}},
				// It asks for QoS 1: granted (3.9.3).
				{conn: 0, in: golden(t, "SUBSCRIBE 5.0 without properties"), out: map[int][][]byte{0: {{0x90, 0x04, 0x00, 0x01, 0x00, 0x01}}}},
				// The alias is set [MQTT-3.3.2-12 ...] and not forwarded:
				// the subscriber sees the topic name.
				{conn: 1, in: encode(t, setAlias, mqtt.V5), out: map[int][][]byte{0: {{0x30, 0x07, 0x00, 0x03, 'a', '/', 'b', 0x00, 'x'}}}},
				// ... and a zero-length topic name with it stands for
				// "a/b" (3.3.2.3.4).
				{conn: 1, in: golden(t, "PUBLISH 5.0 empty topic name with topic alias"), out: map[int][][]byte{0: {{0x30, 0x07, 0x00, 0x03, 'a', '/', 'b', 0x00, 'p'}}}},
				// An alias never set: DISCONNECT 0x82 Protocol Error, close.
				{conn: 1, in: encode(t, unset, mqtt.V5), out: map[int][][]byte{1: {{0xE0, 0x02, 0x82, 0x00}}}, closed: []int{1}},
				// A filter not subscribed: UNSUBACK 0x11 No subscription
				// existed (3.11.3).
				{conn: 0, in: golden(t, "UNSUBSCRIBE 5.0 without properties"), out: map[int][][]byte{0: {{0xB0, 0x04, 0x00, 0x04, 0x00, 0x11}}}},
			}
		}},
		{name: "will on disconnect 0x04, 5.0", conns: 2, steps: func(t *testing.T, h *protoHost) []protoStep {
			return []protoStep{
				{conn: 0, in: connect5(t, "dev", withWill), out: map[int][][]byte{0: {anyPacket}}},
				{conn: 1, in: connect5(t, "sub", nil), out: map[int][][]byte{1: {anyPacket}}},
				{conn: 1, in: subscribe(t, mqtt.V5, 1, "w", 0), out: map[int][][]byte{1: {{0x90, 0x04, 0x00, 0x01, 0x00, 0x00}}}},
				// 0x04 keeps the will; the connection ends and the will is
				// published [MQTT-3.14.4-3, MQTT-3.1.2-8].
				{conn: 0, in: golden(t, "DISCONNECT 5.0 reason code without properties"), out: map[int][][]byte{1: {willPublish5}}, closed: []int{0}},
			}
		}},
		{name: "will discarded on disconnect, 3.1.1", conns: 2, steps: func(t *testing.T, h *protoHost) []protoStep {
			return []protoStep{
				{conn: 0, in: connect311(t, "dev", withWill), out: map[int][][]byte{0: {accepted}}},
				{conn: 1, in: connect311(t, "sub", nil), out: map[int][][]byte{1: {accepted}}},
				{conn: 1, in: subscribe(t, mqtt.V311, 1, "w", 0), out: map[int][][]byte{1: {{0x90, 0x03, 0x00, 0x01, 0x00}}}},
				// DISCONNECT discards the will [MQTT-3.1.2-10 of 3.1.1]:
				// nothing reaches the subscriber.
				{conn: 0, in: golden(t, "DISCONNECT 3.1.1"), closed: []int{0}},
			}
		}},
		{name: "keep alive and will, 3.1.1", conns: 2, steps: func(t *testing.T, h *protoHost) []protoStep {
			ka := func(c *mqtt.Connect) { withWill(c); c.KeepAlive = 10 }
			return []protoStep{
				{conn: 0, in: connect311(t, "dev", ka), out: map[int][][]byte{0: {accepted}}},
				{conn: 1, in: connect311(t, "sub", nil), out: map[int][][]byte{1: {accepted}}},
				{conn: 1, in: subscribe(t, mqtt.V311, 1, "w", 0), out: map[int][][]byte{1: {{0x90, 0x03, 0x00, 0x01, 0x00}}}},
				// Within one and a half times the Keep Alive: nothing.
				{advance: 14 * time.Second},
				// A packet restarts the count.
				{conn: 0, in: golden(t, "PINGREQ 3.1.1"), out: map[int][][]byte{0: {golden(t, "PINGRESP 3.1.1")}}},
				{advance: 14 * time.Second},
				// 15 s without a packet: the server closes the connection
				// [MQTT-3.1.2-24 of 3.1.1] and publishes the will
				// [MQTT-3.1.2-8].
				{advance: time.Second, out: map[int][][]byte{1: {willPublish}}, closed: []int{0}},
			}
		}},
		{name: "kicked, 5.0", conns: 2, steps: func(t *testing.T, h *protoHost) []protoStep {
			return []protoStep{
				{conn: 0, in: connect5(t, "dev", nil), out: map[int][][]byte{0: {anyPacket}}},
				{conn: 1, in: connect5(t, "other", nil), out: map[int][][]byte{1: {anyPacket}}},
				// Drain's redirect: DISCONNECT 0x9C Use another server with
				// the Server Reference (4.11), then close; the other
				// client stays.
				{event: func(h *protoHost) { h.conns[0].ch.KickRef(mqtt.UseAnotherServer, "host:88") },
					out: map[int][][]byte{0: {golden(t, "DISCONNECT 5.0 server, use another server")}}, closed: []int{0}},
				{conn: 1, in: golden(t, "PINGREQ 5.0"), out: map[int][][]byte{1: {golden(t, "PINGRESP 5.0")}}},
			}
		}},
		{name: "kicked, 3.1.1", conns: 1, steps: func(t *testing.T, h *protoHost) []protoStep {
			return []protoStep{
				{conn: 0, in: connect311(t, "dev", nil), out: map[int][][]byte{0: {accepted}}},
				// 3.x has no DISCONNECT from the server: a close.
				{event: func(h *protoHost) { h.conns[0].ch.Kick(mqtt.AdministrativeAction) }, closed: []int{0}},
			}
		}},
		{name: "keep alive, 5.0", conns: 1, steps: func(t *testing.T, h *protoHost) []protoStep {
			return []protoStep{
				{conn: 0, in: connect5(t, "dev", func(c *mqtt.Connect) { c.KeepAlive = 60 }), out: map[int][][]byte{0: {anyPacket}}},
				{advance: 89 * time.Second},
				// DISCONNECT 0x8D Keep Alive timeout [MQTT-3.1.2-22].
				{advance: time.Second, out: map[int][][]byte{0: {{0xE0, 0x02, 0x8D, 0x00}}}, closed: []int{0}},
			}
		}},
		{name: "credential expiry, 5.0", conns: 2, cfg: jwtProtoConfig, steps: func(t *testing.T, h *protoHost) []protoStep {
			return []protoStep{
				{conn: 0, in: connect5(t, "dev", jwtToken(t, h, 10*time.Minute)), out: map[int][][]byte{0: {anyPacket}},
					check: expectArms(0, 1)},
				{conn: 1, in: connect5(t, "long", jwtToken(t, h, time.Hour)), out: map[int][][]byte{1: {anyPacket}},
					check: expectArms(1, 1)},
				{advance: 10*time.Minute - time.Second},
				// The credential expired: DISCONNECT 0x87 Not authorized;
				// the other client stays.
				{advance: time.Second, out: map[int][][]byte{0: {{0xE0, 0x02, 0x87, 0x00}}}, closed: []int{0}},
				{conn: 1, in: golden(t, "PINGREQ 5.0"), out: map[int][][]byte{1: {golden(t, "PINGRESP 5.0")}}},
			}
		}},
		{name: "credential expiry, 3.1.1", conns: 1, cfg: jwtProtoConfig, steps: func(t *testing.T, h *protoHost) []protoStep {
			return []protoStep{
				{conn: 0, in: connect311(t, "dev", jwtToken(t, h, time.Minute)), out: map[int][][]byte{0: {accepted}}},
				{advance: time.Minute - time.Second},
				// 3.x has no DISCONNECT from the server: a close.
				{advance: time.Second, closed: []int{0}},
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := protoConfig(t)
			if tt.cfg != nil {
				tt.cfg(t, cfg)
			}
			var st *heldStore
			if tt.store {
				st = &heldStore{}
			}
			runScript(t, cfg, st, tt.conns, tt.steps)
		})
	}
}

// The 5.0 CONNACK: its reason code, Session Present and the properties
// the server must send; refusals in exact bytes (no Reason String: the
// client asked for none, [MQTT-3.1.2-29]).
func TestProtoConnectV5(t *testing.T) {
	bruteForce := func(cfg *configs.Config) {
		cfg.Auth.BruteForce = configs.BruteForce{Enabled: true, InitialDelay: time.Second, MaxDelay: time.Minute, ResetAfter: time.Hour, MaxEntries: 100}
		cfg.Auth.Users = []configs.User{{Username: "user", PasswordHash: bcryptHash(t, "right")}}
	}
	password := func(pw string) func(*mqtt.Connect) {
		return func(c *mqtt.Connect) {
			c.UsernameFlag, c.Username, c.PasswordFlag, c.Password = true, "user", true, []byte(pw)
		}
	}
	tests := []struct {
		name   string
		cfg    func(*configs.Config)
		in     []byte
		code   mqtt.ReasonCode
		check  func(t *testing.T, ack *mqtt.Connack)
		exact  []byte          // the CONNACK's bytes, when set
		delays []time.Duration // brute-force delays asked for
	}{
		{
			// Session Present 0 with Clean Start [MQTT-3.2.2-2].
			name: "minimal, clean start", in: golden(t, "CONNECT 5.0 minimal, clean start"),
			check: func(t *testing.T, ack *mqtt.Connack) {
				if ack.SessionPresent {
					t.Error("session present on a clean start")
				}
				if ack.Properties.Has(mqtt.PropAssignedClientIdentifier) {
					t.Error("assigned client identifier for a client that has one")
				}
			},
		},
		{
			// A zero-length client identifier: the server assigns one and
			// says which [MQTT-3.1.3-6, MQTT-3.2.2-16].
			name: "empty client identifier", in: connect5(t, "", nil),
			check: func(t *testing.T, ack *mqtt.Connack) {
				if id := ack.Properties.AssignedClientIdentifier; !ack.Properties.Has(mqtt.PropAssignedClientIdentifier) || id == "" {
					t.Errorf("assigned client identifier %q", id)
				}
			},
		},
		{
			// An Authentication Method the server does not support: 0x8C,
			// close [MQTT-4.12.0-1], after the brute-force delay.
			name: "unsupported authentication method", cfg: bruteForce,
			in:   golden(t, "CONNECT 5.0 every property, will with every will property, user name and password"),
			code: mqtt.BadAuthenticationMethod, exact: []byte{0x20, 0x03, 0x00, 0x8C, 0x00}, delays: []time.Duration{time.Second},
		},
		{
			// A wrong password: 0x86 (3.2.2.2), after the delay.
			name: "bad password", cfg: bruteForce, in: connect5(t, "c", password("wrong")),
			code: mqtt.BadUserNameOrPassword, exact: []byte{0x20, 0x03, 0x00, 0x86, 0x00}, delays: []time.Duration{time.Second},
		},
		{
			name: "password accepted", cfg: bruteForce, in: connect5(t, "c", password("right")),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := protoConfig(t)
			if tt.cfg != nil {
				tt.cfg(cfg)
			}
			h := newProtoHost(t, cfg, nil)
			c := h.dial(t, "192.0.2.1:1883")
			c.feed(t, tt.in)
			got, closed := c.out.take()
			if len(got) != 1 {
				t.Fatalf("queued %s, want one CONNACK", hexes(got))
			}
			ack, ok := decodeOut(t, got[0], mqtt.V5).(*mqtt.Connack)
			if !ok {
				t.Fatalf("queued % x, want CONNACK", got[0])
			}
			if ack.ReasonCode != tt.code {
				t.Errorf("reason code %v, want %v", ack.ReasonCode, tt.code)
			}
			// A refusal closes the connection [MQTT-3.2.2-7].
			if refused := tt.code.IsError(); closed != refused || c.connected == refused {
				t.Errorf("closed %v, connected %v after reason code %v", closed, c.connected, ack.ReasonCode)
			}
			if tt.exact != nil && !bytes.Equal(got[0], tt.exact) {
				t.Errorf("CONNACK % x, want % x", got[0], tt.exact)
			}
			if tt.check != nil {
				tt.check(t, ack)
			}
			if !slices.Equal(c.delays, tt.delays) {
				t.Errorf("delays %v, want %v", c.delays, tt.delays)
			}
		})
	}
}

// Brute-force delays by the clock: each failure of an address doubles the
// delay the channel asks for before its refusal, a success waits the
// delay its address earned too, and reset_after without a failure
// forgets the count. No time passes but the clock's.
func TestProtoBruteForceDelays(t *testing.T) {
	cfg := protoConfig(t)
	cfg.Auth.BruteForce = configs.BruteForce{Enabled: true, InitialDelay: time.Second, MaxDelay: 3 * time.Second, ResetAfter: time.Hour, MaxEntries: 100}
	cfg.Auth.Users = []configs.User{{Username: "user", PasswordHash: bcryptHash(t, "right")}}
	h := newProtoHost(t, cfg, nil)
	refused := []byte{0x20, 0x02, 0x00, 0x04} // 3.1.1 return code 4 bad user name or password
	accepted := []byte{0x20, 0x02, 0x00, 0x00}
	attempts := []struct {
		name     string
		remote   string
		password string
		before   time.Duration // the clock moves this much first
		want     []byte
		delay    time.Duration // 0: none asked for
	}{
		{name: "first failure", remote: "192.0.2.1:1", password: "wrong", want: refused, delay: time.Second},
		{name: "second failure doubles", remote: "192.0.2.1:2", password: "wrong", want: refused, delay: 2 * time.Second},
		{name: "capped at max_delay", remote: "192.0.2.1:3", password: "wrong", want: refused, delay: 3 * time.Second},
		// The user name failed too: another address gets the user's delay.
		{name: "success waits the user's delay", remote: "192.0.2.9:1", password: "right", want: accepted, delay: 3 * time.Second},
		{name: "forgotten after reset_after", remote: "192.0.2.1:4", password: "wrong", before: time.Hour + time.Second, want: refused, delay: time.Second},
	}
	for i, a := range attempts {
		h.clock.Add(a.before)
		c := h.dial(t, a.remote)
		c.feed(t, connect311(t, fmt.Sprintf("c%d", i), func(cp *mqtt.Connect) {
			cp.UsernameFlag, cp.Username, cp.PasswordFlag, cp.Password = true, "user", true, []byte(a.password)
		}))
		c.expectOut(t, !bytes.Equal(a.want, accepted), a.want)
		var want []time.Duration
		if a.delay > 0 {
			want = []time.Duration{a.delay}
		}
		if !slices.Equal(c.delays, want) {
			t.Errorf("%s: delays %v, want %v", a.name, c.delays, want)
		}
	}
	if got := h.eng.Stats().Auth.Delayed(); got != int64(len(attempts)) {
		t.Errorf("%d answers counted as delayed, want %d", got, len(attempts))
	}
}

// A CONNECT keeps its place among the authentications in progress until
// it is answered, brute-force delay included (auth.concurrency): while
// one address's refusal waits, its next CONNECT is over the per_ip cap of
// 1 and refused at once (3.1.1 return code 3, Server unavailable; v5
// 0x89); once answered, the place is free again.
func TestProtoDelayKeepsAuthPlace(t *testing.T) {
	cfg := protoConfig(t)
	cfg.Auth.BruteForce = configs.BruteForce{Enabled: true, InitialDelay: time.Second, MaxDelay: time.Minute, ResetAfter: time.Hour, MaxEntries: 100}
	cfg.Auth.Users = []configs.User{{Username: "user", PasswordHash: bcryptHash(t, "right")}}
	cfg.Auth.Concurrency.PerIP = 1
	h := newProtoHost(t, cfg, nil)
	login := func(id, pw string) []byte {
		return connect311(t, id, func(c *mqtt.Connect) {
			c.UsernameFlag, c.Username, c.PasswordFlag, c.Password = true, "user", true, []byte(pw)
		})
	}
	guess := h.dial(t, "192.0.2.1:1")
	guess.holdDelays = true
	guess.feed(t, login("guess", "wrong"))
	guess.expectOut(t, false) // held back
	if guess.waiting != time.Second {
		t.Fatalf("delay %v, want 1s", guess.waiting)
	}
	busy := h.dial(t, "192.0.2.1:2")
	busy.feed(t, login("busy", "right"))
	busy.expectOut(t, true, []byte{0x20, 0x02, 0x00, 0x03})
	if busy.delays != nil {
		t.Errorf("the refusal over the cap waited %v", busy.delays)
	}
	guess.elapse(t)
	guess.expectOut(t, true, []byte{0x20, 0x02, 0x00, 0x04})
	// The place is free: the right password connects, after the delay
	// the address's failure imposes on any answer.
	ok := h.dial(t, "192.0.2.1:3")
	ok.feed(t, login("ok", "right"))
	ok.expectOut(t, false, []byte{0x20, 0x02, 0x00, 0x00})
	if !slices.Equal(ok.delays, []time.Duration{time.Second}) {
		t.Errorf("delays %v, want [1s]", ok.delays)
	}
}
