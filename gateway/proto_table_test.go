package gateway

// Table-driven tests of the protocol state machine without sockets
// (proto_harness_test.go): golden packets of mqtt/mqtttest in, the exact
// packets out, time and timers moved by hand.

import (
	"slices"
	"testing"
	"time"

	"edgemq/configs"
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
			h := newProtoHost(t, cfg)
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
