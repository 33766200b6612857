package proto

// Enhanced authentication (4.12) without sockets: the AUTH exchange of
// CONNECT and a re-authentication, and the brute-force delay the channel
// asks for before a refusal.

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"edgemq/configs"
	authscram "edgemq/gateway/auth/scram"
	"edgemq/mqtt"

	"github.com/xdg-go/scram"
)

// scramConversation runs a SCRAM-SHA-256 conversation of user and password
// through c: first is the packet that carries the client-first message
// (CONNECT or AUTH 0x19, made by start), then AUTH 0x18 with the
// client-final one. It returns what the channel queued after the last
// packet and the conversation, to check the server-final message with.
func scramConversation(t *testing.T, c *protoConn, user, password string, start func(first []byte) []byte) ([][]byte, *scram.ClientConversation) {
	t.Helper()
	client, err := scram.SHA256.NewClient(user, password, "")
	if err != nil {
		t.Fatal(err)
	}
	conv := client.NewConversation()
	first, err := conv.Step("")
	if err != nil {
		t.Fatal(err)
	}
	c.feed(t, start([]byte(first)))
	// AUTH 0x18 Continue authentication with the method and the
	// server-first message [MQTT-4.12.0-3 ... the method stays the same].
	out, _ := c.out.take()
	if len(out) != 1 {
		t.Fatalf("queued %s, want AUTH 0x18", hexes(out))
	}
	a, ok := decodeOut(t, out[0], mqtt.V5).(*mqtt.Auth)
	if !ok || a.ReasonCode != mqtt.ContinueAuthentication || a.Properties.AuthenticationMethod != authscram.MethodSHA256 {
		t.Fatalf("queued % x, want AUTH 0x18 with method %s", out[0], authscram.MethodSHA256)
	}
	final, err := conv.Step(string(a.Properties.AuthenticationData))
	if err != nil {
		t.Fatalf("server-first %q: %v", a.Properties.AuthenticationData, err)
	}
	cont := &mqtt.Auth{ReasonCode: mqtt.ContinueAuthentication}
	cont.Properties.SetString(mqtt.PropAuthenticationMethod, authscram.MethodSHA256)
	cont.Properties.SetBinary(mqtt.PropAuthenticationData, []byte(final))
	c.feed(t, encode(t, cont, mqtt.V5))
	out, _ = c.out.take()
	return out, conv
}

// TestProtoEnhancedAuth: SCRAM in CONNECT and in a re-authentication,
// packet by packet; the right password gets CONNACK (or AUTH) 0x00 with
// the server-final message, which proves the server knew it; a wrong one
// is refused after the brute-force delay the channel asks for.
func TestProtoEnhancedAuth(t *testing.T) {
	tests := []struct {
		name          string
		password      string
		code          mqtt.ReasonCode // of CONNACK
		connectDelays []time.Duration
		reauth        string // the re-authentication's password; "": none
		reauthDelays  []time.Duration
	}{
		{name: "connect and re-authenticate", password: "wonderland", reauth: "wonderland"},
		// 0x86 in CONNACK, then close (4.12.0; [MQTT-3.2.2-7]).
		{name: "wrong password", password: "guess", code: mqtt.BadUserNameOrPassword, connectDelays: []time.Duration{time.Second}},
		// A failed re-authentication ends the connection with DISCONNECT
		// 0x87 (4.12.1), after the delay.
		{name: "re-authentication fails", password: "wonderland", reauth: "guess", reauthDelays: []time.Duration{time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := protoConfig(t)
			cfg.Auth.SCRAM.File = writeSCRAMFile(t, map[string]string{"alice": "wonderland"})
			cfg.Auth.BruteForce = configs.BruteForce{Enabled: true, InitialDelay: time.Second, MaxDelay: time.Minute, ResetAfter: time.Hour, MaxEntries: 100}
			h := newProtoHost(t, cfg, nil)
			c := h.dial(t, "192.0.2.1:1883")
			out, conv := scramConversation(t, c, "alice", tt.password, func(first []byte) []byte {
				return connect5(t, "enh", func(cp *mqtt.Connect) {
					cp.Properties.SetString(mqtt.PropAuthenticationMethod, authscram.MethodSHA256)
					cp.Properties.SetBinary(mqtt.PropAuthenticationData, first)
				})
			})
			if len(out) != 1 {
				t.Fatalf("queued %s, want CONNACK", hexes(out))
			}
			ack, ok := decodeOut(t, out[0], mqtt.V5).(*mqtt.Connack)
			if !ok || ack.ReasonCode != tt.code {
				t.Fatalf("queued % x, want CONNACK %v", out[0], tt.code)
			}
			if !slices.Equal(c.delays, tt.connectDelays) {
				t.Errorf("delays before CONNACK %v, want %v", c.delays, tt.connectDelays)
			}
			if tt.code.IsError() {
				if !c.ended || c.connected {
					t.Errorf("refused connection: ended %v, connected %v", c.ended, c.connected)
				}
				return
			}
			// CONNACK carries the method and the server-final message.
			if ack.Properties.AuthenticationMethod != authscram.MethodSHA256 {
				t.Errorf("CONNACK authentication method %q", ack.Properties.AuthenticationMethod)
			}
			if _, err := conv.Step(string(ack.Properties.AuthenticationData)); err != nil || !conv.Valid() {
				t.Errorf("server-final %q not valid: %v", ack.Properties.AuthenticationData, err)
			}
			c.delays = nil

			// Re-authentication: AUTH 0x19 with the same method
			// [MQTT-4.12.1-1].
			out, conv = scramConversation(t, c, "alice", tt.reauth, func(first []byte) []byte {
				a := &mqtt.Auth{ReasonCode: mqtt.ReAuthenticate}
				a.Properties.SetString(mqtt.PropAuthenticationMethod, authscram.MethodSHA256)
				a.Properties.SetBinary(mqtt.PropAuthenticationData, first)
				return encode(t, a, mqtt.V5)
			})
			if !slices.Equal(c.delays, tt.reauthDelays) {
				t.Errorf("delays before the answer %v, want %v", c.delays, tt.reauthDelays)
			}
			if len(out) != 1 {
				t.Fatalf("queued %s after the re-authentication, want one packet", hexes(out))
			}
			if tt.reauthDelays != nil {
				// DISCONNECT 0x87, no properties (no Reason String asked
				// for), and the connection ends.
				if want := []byte{0xE0, 0x02, 0x87, 0x00}; !bytes.Equal(out[0], want) || !c.ended {
					t.Errorf("queued % x (ended %v), want % x and the end", out[0], c.ended, want)
				}
				return
			}
			a, ok := decodeOut(t, out[0], mqtt.V5).(*mqtt.Auth)
			if !ok || a.ReasonCode != mqtt.Success {
				t.Fatalf("queued % x, want AUTH 0x00", out[0])
			}
			if _, err := conv.Step(string(a.Properties.AuthenticationData)); err != nil || !conv.Valid() {
				t.Errorf("re-authentication server-final %q not valid: %v", a.Properties.AuthenticationData, err)
			}
			if c.ended {
				t.Error("the connection ended after a successful re-authentication")
			}
		})
	}
}
