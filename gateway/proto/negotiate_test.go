package proto

import (
	"slices"
	"strings"
	"testing"
	"time"

	"edgemq/configs"
	"edgemq/mqtt"
)

func testProfile(tb testing.TB, change func(*configs.Limits)) *Profile {
	tb.Helper()
	cfg, err := configs.Default()
	if err != nil {
		tb.Fatalf("loading default config: %v", err)
	}
	l := cfg.MQTT
	if change != nil {
		change(&l)
	}
	p, err := NewProfile(l)
	if err != nil {
		tb.Fatalf("making profile: %v", err)
	}
	return p
}

// TestNegotiate checks the limits each side keeps, and what CONNACK
// announces, without a socket.
func TestNegotiate(t *testing.T) {
	v5 := func(ka uint16, set func(*mqtt.Properties)) *mqtt.Connect {
		c := &mqtt.Connect{Version: mqtt.V5, ClientID: "c", KeepAlive: ka, CleanStart: true}
		if set != nil {
			set(&c.Properties)
		}
		return c
	}
	tests := []struct {
		name    string
		connect *mqtt.Connect
		limits  func(*configs.Limits)
		check   func(t *testing.T, n *Negotiated, ack *mqtt.Properties)
		code    mqtt.ReasonCode // refusal expected when non-zero
	}{
		{
			name:    "keep alive above max becomes server keep alive", // [MQTT-3.2.2-21]
			connect: v5(600, nil),
			limits:  func(l *configs.Limits) { l.KeepAlive.Max = 60 * time.Second },
			check: func(t *testing.T, n *Negotiated, ack *mqtt.Properties) {
				if n.KeepAlive != 60 || !n.ServerKeepAlive || !ack.Has(mqtt.PropServerKeepAlive) || ack.ServerKeepAlive != 60 {
					t.Errorf("keep alive %d (server %v), CONNACK %v/%d; want 60 announced", n.KeepAlive, n.ServerKeepAlive, ack.Has(mqtt.PropServerKeepAlive), ack.ServerKeepAlive)
				}
			},
		},
		{
			name:    "keep alive 0 with a max becomes the max",
			connect: v5(0, nil),
			limits:  func(l *configs.Limits) { l.KeepAlive.Max = 30 * time.Second },
			check: func(t *testing.T, n *Negotiated, ack *mqtt.Properties) {
				if n.KeepAlive != 30 || ack.ServerKeepAlive != 30 {
					t.Errorf("keep alive %d, announced %d; want 30", n.KeepAlive, ack.ServerKeepAlive)
				}
			},
		},
		{
			name:    "keep alive below min is raised",
			connect: v5(2, nil),
			limits:  func(l *configs.Limits) { l.KeepAlive.Min = 10 * time.Second },
			check: func(t *testing.T, n *Negotiated, ack *mqtt.Properties) {
				if n.KeepAlive != 10 || ack.ServerKeepAlive != 10 {
					t.Errorf("keep alive %d, announced %d; want 10", n.KeepAlive, ack.ServerKeepAlive)
				}
			},
		},
		{
			name:    "keep alive within bounds is not announced",
			connect: v5(30, nil),
			limits:  func(l *configs.Limits) { l.KeepAlive.Min, l.KeepAlive.Max = 10*time.Second, 60*time.Second },
			check: func(t *testing.T, n *Negotiated, ack *mqtt.Properties) {
				if n.KeepAlive != 30 || n.ServerKeepAlive || ack.Has(mqtt.PropServerKeepAlive) {
					t.Errorf("keep alive %d announced=%v; want 30 not announced", n.KeepAlive, ack.Has(mqtt.PropServerKeepAlive))
				}
			},
		},
		{
			name:    "3.1.1 keep alive above max is refused",
			connect: &mqtt.Connect{Version: mqtt.V311, ClientID: "c", KeepAlive: 600},
			limits:  func(l *configs.Limits) { l.KeepAlive.Max = 60 * time.Second },
			code:    mqtt.ClientIdentifierNotValid,
		},
		{
			name:    "session expiry capped and announced",
			connect: v5(0, func(p *mqtt.Properties) { p.SetUint32(mqtt.PropSessionExpiryInterval, 7200) }),
			limits:  func(l *configs.Limits) { l.MaxSessionExpiry = time.Hour },
			check: func(t *testing.T, n *Negotiated, ack *mqtt.Properties) {
				if n.SessionExpiry != 3600 || !ack.Has(mqtt.PropSessionExpiryInterval) || ack.SessionExpiryInterval != 3600 {
					t.Errorf("session expiry %d, announced %d; want 3600", n.SessionExpiry, ack.SessionExpiryInterval)
				}
			},
		},
		{
			name:    "session expiry under the cap is not announced",
			connect: v5(0, func(p *mqtt.Properties) { p.SetUint32(mqtt.PropSessionExpiryInterval, 60) }),
			check: func(t *testing.T, n *Negotiated, ack *mqtt.Properties) {
				if n.SessionExpiry != 60 || ack.Has(mqtt.PropSessionExpiryInterval) {
					t.Errorf("session expiry %d, announced %v", n.SessionExpiry, ack.Has(mqtt.PropSessionExpiryInterval))
				}
			},
		},
		{
			name:    "client receive maximum caps the outbound window",
			connect: v5(0, func(p *mqtt.Properties) { p.SetUint16(mqtt.PropReceiveMaximum, 5) }),
			check: func(t *testing.T, n *Negotiated, _ *mqtt.Properties) {
				if n.ClientReceiveMaximum != 5 || n.OutboundInflight != 5 {
					t.Errorf("client receive maximum %d, window %d; want 5", n.ClientReceiveMaximum, n.OutboundInflight)
				}
			},
		},
		{
			name:    "max_inflight caps a large client receive maximum",
			connect: v5(0, nil),
			limits:  func(l *configs.Limits) { l.MaxInflight = 7 },
			check: func(t *testing.T, n *Negotiated, _ *mqtt.Properties) {
				if n.ClientReceiveMaximum != 65535 || n.OutboundInflight != 7 {
					t.Errorf("client receive maximum %d, window %d; want 65535 and 7", n.ClientReceiveMaximum, n.OutboundInflight)
				}
			},
		},
		{
			name: "client limits are kept",
			connect: v5(0, func(p *mqtt.Properties) {
				p.SetUint32(mqtt.PropMaximumPacketSize, 512)
				p.SetUint16(mqtt.PropTopicAliasMaximum, 9)
				p.SetByte(mqtt.PropRequestProblemInformation, 0)
			}),
			check: func(t *testing.T, n *Negotiated, _ *mqtt.Properties) {
				if n.ClientMaxPacketSize != 512 || n.ClientTopicAliasMaximum != 9 || n.ProblemInfo {
					t.Errorf("got max packet %d, alias max %d, problem info %v", n.ClientMaxPacketSize, n.ClientTopicAliasMaximum, n.ProblemInfo)
				}
			},
		},
		{
			name:    "response information only when asked and configured",
			connect: v5(0, func(p *mqtt.Properties) { p.SetByte(mqtt.PropRequestResponseInformation, 1) }),
			limits:  func(l *configs.Limits) { l.ResponseInformation = "reply/" },
			check: func(t *testing.T, n *Negotiated, ack *mqtt.Properties) {
				if ack.ResponseInformation != "reply/c" {
					t.Errorf("response information %q, want reply/c", ack.ResponseInformation)
				}
			},
		},
		{
			name:    "response information not asked",
			connect: v5(0, nil),
			limits:  func(l *configs.Limits) { l.ResponseInformation = "reply/" },
			check: func(t *testing.T, n *Negotiated, ack *mqtt.Properties) {
				if ack.Has(mqtt.PropResponseInformation) {
					t.Errorf("response information sent unasked")
				}
			},
		},
		{
			name:    "every server limit is announced",
			connect: v5(0, nil),
			limits: func(l *configs.Limits) {
				l.ReceiveMaximum, l.MaxPacketSize, l.TopicAliasMaximum, l.MaximumQoS = 10, 2048, 3, 1
				l.RetainAvailable, l.WildcardSubscriptionAvailable, l.SubscriptionIdentifiersAvailable = false, false, false
				l.SharedSubscriptionAvailable = false
			},
			check: func(t *testing.T, n *Negotiated, ack *mqtt.Properties) {
				if ack.ReceiveMaximum != 10 || ack.MaximumPacketSize != 2048 || ack.TopicAliasMaximum != 3 ||
					!ack.Has(mqtt.PropMaximumQoS) || ack.MaximumQoS != 1 ||
					!ack.Has(mqtt.PropRetainAvailable) || ack.RetainAvailable != 0 ||
					!ack.Has(mqtt.PropWildcardSubscriptionAvailable) || ack.WildcardSubscriptionAvailable != 0 ||
					!ack.Has(mqtt.PropSubscriptionIdentifierAvailable) || ack.SubscriptionIdentifierAvailable != 0 ||
					!ack.Has(mqtt.PropSharedSubscriptionAvailable) || ack.SharedSubscriptionAvailable != 0 {
					t.Errorf("CONNACK properties %+v do not match the limits", ack)
				}
			},
		},
		{
			name:    "configured user properties are sent in order",
			connect: v5(0, nil),
			limits: func(l *configs.Limits) {
				l.ConnackUserProperties = []configs.UserProperty{{Key: "region", Value: "eu"}, {Key: "region", Value: "us"}}
			},
			check: func(t *testing.T, n *Negotiated, ack *mqtt.Properties) {
				want := []mqtt.UserProperty{{Key: "region", Value: "eu"}, {Key: "region", Value: "us"}}
				if !slices.Equal(ack.UserProperties, want) {
					t.Errorf("user properties %v, want %v", ack.UserProperties, want)
				}
			},
		},
		{
			name: "no user properties without problem information", // [MQTT-3.1.2-29]
			connect: v5(0, func(p *mqtt.Properties) {
				p.SetByte(mqtt.PropRequestProblemInformation, 0)
			}),
			limits: func(l *configs.Limits) {
				l.ConnackUserProperties = []configs.UserProperty{{Key: "region", Value: "eu"}}
			},
			check: func(t *testing.T, n *Negotiated, ack *mqtt.Properties) {
				if len(ack.UserProperties) != 0 {
					t.Errorf("user properties %v sent without problem information", ack.UserProperties)
				}
			},
		},
		{
			name:    "maximum qos 2 is not announced", // [MQTT-3.2.2-9]
			connect: v5(0, nil),
			check: func(t *testing.T, n *Negotiated, ack *mqtt.Properties) {
				if ack.Has(mqtt.PropMaximumQoS) {
					t.Errorf("maximum qos %d announced with qos 2 available", ack.MaximumQoS)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testProfile(t, tt.limits)
			var n Negotiated
			var ack mqtt.Properties
			err := ValidateConnect(tt.connect, p, &n)
			if err == nil {
				err = Negotiate(tt.connect, p, &n, &ack)
			}
			if tt.code != 0 {
				if mqtt.CodeOf(err) != tt.code {
					t.Fatalf("got %v, want refusal %v", err, tt.code)
				}
				return
			}
			if err != nil {
				t.Fatalf("refused: %v", err)
			}
			tt.check(t, &n, &ack)
		})
	}
}

// TestValidateClientID checks the client identifier rules.
func TestValidateClientID(t *testing.T) {
	long := strings.Repeat("x", 24)
	tests := []struct {
		name     string
		connect  mqtt.Connect
		limits   func(*configs.Limits)
		code     mqtt.ReasonCode
		assigned bool
	}{
		{"v5 empty is assigned", mqtt.Connect{Version: mqtt.V5}, nil, 0, true},                                          // [MQTT-3.1.3-6]
		{"3.1.1 empty clean is assigned", mqtt.Connect{Version: mqtt.V311, CleanStart: true}, nil, 0, true},             // [MQTT-3.1.3-6]
		{"3.1.1 empty persistent refused", mqtt.Connect{Version: mqtt.V311}, nil, mqtt.ClientIdentifierNotValid, false}, // [MQTT-3.1.3-8]
		{"3.1 empty refused", mqtt.Connect{Version: mqtt.V31, CleanStart: true}, nil, mqtt.ClientIdentifierNotValid, false},
		{"3.1 24 characters refused", mqtt.Connect{Version: mqtt.V31, ClientID: long}, nil, mqtt.ClientIdentifierNotValid, false},
		{"3.1.1 24 characters accepted", mqtt.Connect{Version: mqtt.V311, ClientID: long}, nil, 0, false},
		{"3.1 long allowed by config", mqtt.Connect{Version: mqtt.V31, ClientID: long}, func(l *configs.Limits) { l.ClientID.MaxLengthV31 = 64 }, 0, false},
		{"over max_length refused", mqtt.Connect{Version: mqtt.V5, ClientID: long}, func(l *configs.Limits) { l.ClientID.MaxLength = 10 }, mqtt.ClientIdentifierNotValid, false},
		{"pattern mismatch refused", mqtt.Connect{Version: mqtt.V5, ClientID: "a b"}, func(l *configs.Limits) { l.ClientID.Pattern = `^[a-z]+$` }, mqtt.ClientIdentifierNotValid, false},
		{"pattern match accepted", mqtt.Connect{Version: mqtt.V5, ClientID: "ab"}, func(l *configs.Limits) { l.ClientID.Pattern = `^[a-z]+$` }, 0, false},
		{"redirect", mqtt.Connect{Version: mqtt.V5, ClientID: "a"}, func(l *configs.Limits) { l.Redirect.Server = "other:1883" }, mqtt.UseAnotherServer, false},
		{"permanent redirect", mqtt.Connect{Version: mqtt.V5, ClientID: "a"}, func(l *configs.Limits) { l.Redirect.Server, l.Redirect.Permanent = "other:1883", true }, mqtt.ServerMoved, false},
		{"v5 will qos above maximum", mqtt.Connect{Version: mqtt.V5, ClientID: "a", Will: &mqtt.Will{Topic: "w", QoS: 2}}, func(l *configs.Limits) { l.MaximumQoS = 1 }, mqtt.QoSNotSupported, false},                    // [MQTT-3.2.2-12]
		{"v5 will retain unavailable", mqtt.Connect{Version: mqtt.V5, ClientID: "a", Will: &mqtt.Will{Topic: "w", Retain: true}}, func(l *configs.Limits) { l.RetainAvailable = false }, mqtt.RetainNotSupported, false}, // [MQTT-3.2.2-13]
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var n Negotiated
			err := ValidateConnect(&tt.connect, testProfile(t, tt.limits), &n)
			if got := mqtt.CodeOf(err); err != nil && got != tt.code || err == nil && tt.code != 0 {
				t.Fatalf("got %v, want code %v", err, tt.code)
			}
			if err == nil && n.AssignedClientID != tt.assigned {
				t.Errorf("assigned %v, want %v", n.AssignedClientID, tt.assigned)
			}
			if n.AssignedClientID && (n.ClientID == "" || mqtt.ValidUTF8(n.ClientID) != nil) {
				t.Errorf("bad assigned id %q", n.ClientID)
			}
		})
	}
}
