package gateway

// Integration tests with the paho.golang MQTT 5 client over TCP. Each
// check cites the normative statement (or, where the specification has
// none, the section) of MQTT 5.0 it verifies.

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"edgemq/configs"
	"edgemq/mqtt"

	"github.com/eclipse/paho.golang/paho"
)

// profilesConfig is a server with three listeners: "tcp" on the default
// limits, "browser" with a profile overriding most of them, and "strict"
// with a profile at the low end of every limit.
func profilesConfig(tb testing.TB) *configs.Config {
	tb.Helper()
	cfg := testConfig(tb)
	cfg.MQTT.KeepAlive.Max = 60 * time.Second
	cfg.MQTT.MaxSessionExpiry = time.Hour
	cfg.MQTT.ResponseInformation = "replies/"
	cfg.MQTT.ConnackUserProperties = []configs.UserProperty{{Key: "region", Value: "eu"}}
	cfg.Profiles = map[string]configs.Profile{
		"browser": {
			MaxPacketSize:                 refOf[uint32](65536),
			ReceiveMaximum:                refOf[uint16](64),
			TopicAliasMaximum:             refOf[uint16](16),
			MaximumQoS:                    refOf[byte](1),
			RetainAvailable:               refOf(false),
			WildcardSubscriptionAvailable: refOf(false),
			SharedSubscriptionAvailable:   refOf(false),
			KeepAliveMax:                  refOf(20 * time.Second),
			MaxSessionExpiry:              refOf(10 * time.Minute),
			ResponseInformation:           refOf(""),
			// A repeated key, kept in order [MQTT-3.3.2-17, MQTT-3.3.2-18].
			ConnackUserProperties: refOf([]configs.UserProperty{{Key: "region", Value: "eu"}, {Key: "region", Value: "browser"}}),
		},
		"strict": {
			MaxPacketSize:                    refOf[uint32](1024),
			ReceiveMaximum:                   refOf[uint16](4),
			TopicAliasMaximum:                refOf[uint16](0),
			MaximumQoS:                       refOf[byte](0),
			SubscriptionIdentifiersAvailable: refOf(false),
			KeepAliveMin:                     refOf(5 * time.Second),
			KeepAliveMax:                     refOf(time.Duration(0)),
			MaxSessionExpiry:                 refOf(time.Duration(0)),
			ConnackUserProperties:            refOf([]configs.UserProperty{}),
		},
	}
	cfg.Listeners = append(cfg.Listeners,
		configs.Listener{Name: "browser", Type: "tcp", Address: "127.0.0.1:0", Profile: "browser"},
		configs.Listener{Name: "strict", Type: "tcp", Address: "127.0.0.1:0", Profile: "strict"},
	)
	return cfg
}

// TestPaho5ConnackProperties checks every CONNACK property against the
// effective limits of the listener the client came in on.
func TestPaho5ConnackProperties(t *testing.T) {
	cfg := profilesConfig(t)
	ts := startServer(t, cfg)

	rows := []struct {
		name string
		cp   func(id string) *paho.Connect
	}{
		{"plain", func(id string) *paho.Connect {
			return &paho.Connect{ClientID: id, CleanStart: true, KeepAlive: 10}
		}},
		{"assigned client id", func(string) *paho.Connect {
			return &paho.Connect{ClientID: "", CleanStart: true, KeepAlive: 10}
		}},
		{"keep alive above max", func(id string) *paho.Connect {
			return &paho.Connect{ClientID: id, CleanStart: true, KeepAlive: 120}
		}},
		{"keep alive zero", func(id string) *paho.Connect {
			return &paho.Connect{ClientID: id, CleanStart: true, KeepAlive: 0}
		}},
		{"keep alive below min", func(id string) *paho.Connect {
			return &paho.Connect{ClientID: id, CleanStart: true, KeepAlive: 2}
		}},
		{"session expiry above max", func(id string) *paho.Connect {
			return &paho.Connect{ClientID: id, CleanStart: true, KeepAlive: 10, Properties: &paho.ConnectProperties{
				SessionExpiryInterval: refOf[uint32](1_000_000), RequestProblemInfo: true,
			}}
		}},
		{"session expiry never", func(id string) *paho.Connect {
			return &paho.Connect{ClientID: id, CleanStart: true, KeepAlive: 10, Properties: &paho.ConnectProperties{
				SessionExpiryInterval: refOf[uint32](math.MaxUint32), RequestProblemInfo: true,
			}}
		}},
		{"session expiry within max", func(id string) *paho.Connect {
			return &paho.Connect{ClientID: id, CleanStart: true, KeepAlive: 10, Properties: &paho.ConnectProperties{
				SessionExpiryInterval: refOf[uint32](0), RequestProblemInfo: true,
			}}
		}},
		{"response information requested", func(id string) *paho.Connect {
			return &paho.Connect{ClientID: id, CleanStart: true, KeepAlive: 10, Properties: &paho.ConnectProperties{
				RequestResponseInfo: true, RequestProblemInfo: true,
			}}
		}},
		{"response information requested with assigned id", func(string) *paho.Connect {
			return &paho.Connect{CleanStart: true, KeepAlive: 10, Properties: &paho.ConnectProperties{
				RequestResponseInfo: true, RequestProblemInfo: true,
			}}
		}},
		{"problem information refused", func(id string) *paho.Connect {
			return &paho.Connect{ClientID: id, CleanStart: true, KeepAlive: 10, Properties: &paho.ConnectProperties{
				RequestProblemInfo: false,
			}}
		}},
	}
	for _, l := range cfg.Listeners {
		lim := cfg.LimitsFor(l)
		for i, row := range rows {
			t.Run(l.Name+"/"+row.name, func(t *testing.T) {
				cp := row.cp(fmt.Sprintf("connack-%s-%d", l.Name, i))
				c := connectV5(t, ts, cp, viaListener(l.Name))
				checkConnack(t, lim, cp, c.connack)
			})
		}
	}
}

// checkConnack checks a successful CONNACK answering cp against lim.
func checkConnack(t *testing.T, lim configs.Limits, cp *paho.Connect, ack *paho.Connack) {
	t.Helper()
	if ack.ReasonCode != 0 {
		t.Fatalf("reason code 0x%02X, want success", ack.ReasonCode)
	}
	if ack.SessionPresent {
		t.Errorf("Session Present 1 after a clean start") // [MQTT-3.2.2-2]
	}
	p := ack.Properties
	if p == nil {
		t.Fatalf("CONNACK without properties")
	}
	// Receive Maximum: the server's inbound window (3.2.2.3.3).
	if p.ReceiveMaximum == nil || *p.ReceiveMaximum != lim.ReceiveMaximum {
		t.Errorf("Receive Maximum %v, want %d", deref(p.ReceiveMaximum), lim.ReceiveMaximum)
	}
	// Maximum QoS: present below 2 [MQTT-3.2.2-9], absent means 2
	// (3.2.2.3.4).
	if lim.MaximumQoS == 2 {
		if p.MaximumQoS != nil {
			t.Errorf("Maximum QoS %d present, want absent (2)", *p.MaximumQoS)
		}
	} else if p.MaximumQoS == nil || *p.MaximumQoS != lim.MaximumQoS {
		t.Errorf("Maximum QoS %v, want %d", deref(p.MaximumQoS), lim.MaximumQoS)
	}
	// Retain Available (3.2.2.3.5).
	if p.RetainAvailable != lim.RetainAvailable {
		t.Errorf("Retain Available %v, want %v", p.RetainAvailable, lim.RetainAvailable)
	}
	// Maximum Packet Size (3.2.2.3.6).
	if p.MaximumPacketSize == nil || *p.MaximumPacketSize != lim.MaxPacketSize {
		t.Errorf("Maximum Packet Size %v, want %d", deref(p.MaximumPacketSize), lim.MaxPacketSize)
	}
	// Topic Alias Maximum: absent means 0 (3.2.2.3.8).
	if lim.TopicAliasMaximum == 0 {
		if p.TopicAliasMaximum != nil && *p.TopicAliasMaximum != 0 {
			t.Errorf("Topic Alias Maximum %d, want absent or 0", *p.TopicAliasMaximum)
		}
	} else if p.TopicAliasMaximum == nil || *p.TopicAliasMaximum != lim.TopicAliasMaximum {
		t.Errorf("Topic Alias Maximum %v, want %d", deref(p.TopicAliasMaximum), lim.TopicAliasMaximum)
	}
	// Wildcard, Subscription Identifier and Shared Subscription Available
	// (3.2.2.3.11, 3.2.2.3.12, 3.2.2.3.13).
	if p.WildcardSubAvailable != lim.WildcardSubscriptionAvailable {
		t.Errorf("Wildcard Subscription Available %v, want %v", p.WildcardSubAvailable, lim.WildcardSubscriptionAvailable)
	}
	if p.SubIDAvailable != lim.SubscriptionIdentifiersAvailable {
		t.Errorf("Subscription Identifiers Available %v, want %v", p.SubIDAvailable, lim.SubscriptionIdentifiersAvailable)
	}
	if p.SharedSubAvailable != lim.SharedSubscriptionAvailable {
		t.Errorf("Shared Subscription Available %v, want %v", p.SharedSubAvailable, lim.SharedSubscriptionAvailable)
	}
	// Assigned Client Identifier exactly when the client sent none
	// [MQTT-3.2.2-16].
	clientID := cp.ClientID
	if cp.ClientID == "" {
		clientID = p.AssignedClientID
		if !strings.HasPrefix(p.AssignedClientID, lim.ClientID.AssignedPrefix) || len(p.AssignedClientID) <= len(lim.ClientID.AssignedPrefix) {
			t.Errorf("Assigned Client Identifier %q, want %q and more", p.AssignedClientID, lim.ClientID.AssignedPrefix)
		}
	} else if p.AssignedClientID != "" {
		t.Errorf("Assigned Client Identifier %q for a client that has one", p.AssignedClientID)
	}
	// Server Keep Alive when the server changes the client's value
	// [MQTT-3.2.2-21], absent otherwise (3.2.2.3.14).
	ka := cp.KeepAlive
	if max := uint16(lim.KeepAlive.Max / time.Second); max > 0 && (ka == 0 || ka > max) {
		ka = max
	}
	if min := uint16(lim.KeepAlive.Min / time.Second); min > 0 && ka > 0 && ka < min {
		ka = min
	}
	if ka != cp.KeepAlive {
		if p.ServerKeepAlive == nil || *p.ServerKeepAlive != ka {
			t.Errorf("Server Keep Alive %v for keep alive %d, want %d", deref(p.ServerKeepAlive), cp.KeepAlive, ka)
		}
	} else if p.ServerKeepAlive != nil {
		t.Errorf("Server Keep Alive %d for keep alive %d within bounds, want absent", *p.ServerKeepAlive, cp.KeepAlive)
	}
	// Session Expiry Interval when the server lowers the client's; absent
	// means the client's value is in force (3.2.2.3.2).
	var asked uint32
	if cp.Properties != nil && cp.Properties.SessionExpiryInterval != nil {
		asked = *cp.Properties.SessionExpiryInterval
	}
	maxExpiry := uint32(math.MaxUint32)
	if s := lim.MaxSessionExpiry / time.Second; s < math.MaxUint32 {
		maxExpiry = uint32(s)
	}
	if asked > maxExpiry {
		if p.SessionExpiryInterval == nil || *p.SessionExpiryInterval != maxExpiry {
			t.Errorf("Session Expiry Interval %v for %d, want %d", deref(p.SessionExpiryInterval), asked, maxExpiry)
		}
	} else if p.SessionExpiryInterval != nil {
		t.Errorf("Session Expiry Interval %d for %d within max, want absent", *p.SessionExpiryInterval, asked)
	}
	// Response Information only when requested and configured (3.1.2.11.7,
	// 3.2.2.3.15).
	requested := cp.Properties != nil && cp.Properties.RequestResponseInfo
	if want := lim.ResponseInformation + clientID; requested && lim.ResponseInformation != "" {
		if p.ResponseInfo != want {
			t.Errorf("Response Information %q, want %q", p.ResponseInfo, want)
		}
	} else if p.ResponseInfo != "" {
		t.Errorf("Response Information %q, want absent (requested %v)", p.ResponseInfo, requested)
	}
	if p.ReasonString != "" {
		t.Errorf("Reason String %q on success", p.ReasonString)
	}
	// User Properties: the configured ones, in order [MQTT-3.3.2-18 keeps
	// order], unless the client set Request Problem Information to 0
	// (3.1.2.11.7; [MQTT-3.1.2-29] allows them on CONNACK even then, and
	// edgemq leaves them out as the client asked).
	var want paho.UserProperties
	if cp.Properties == nil || cp.Properties.RequestProblemInfo {
		for _, u := range lim.ConnackUserProperties {
			want = append(want, paho.UserProperty{Key: u.Key, Value: u.Value})
		}
	}
	if !slices.Equal(p.User, want) {
		t.Errorf("User Properties %v, want %v", p.User, want)
	}
}

func deref[T any](p *T) any {
	if p == nil {
		return "absent"
	}
	return *p
}

// TestPaho5ConnackAssignedIDsDiffer checks two clients without an id get
// different identifiers [MQTT-3.2.2-16].
func TestPaho5ConnackAssignedIDsDiffer(t *testing.T) {
	ts := startServer(t, testConfig(t))
	a := connectV5(t, ts, v5Connect(""))
	b := connectV5(t, ts, v5Connect(""))
	ida, idb := a.connack.Properties.AssignedClientID, b.connack.Properties.AssignedClientID
	if ida == "" || ida == idb {
		t.Fatalf("assigned ids %q and %q, want two different ones", ida, idb) // [MQTT-3.2.2-16]
	}
	if ts.Stats().Sessions != 2 {
		t.Fatalf("%d sessions, want 2", ts.Stats().Sessions)
	}
}

// TestPaho5RefusalReasonString checks the Reason String of a refused
// CONNACK follows Request Problem Information.
func TestPaho5RefusalReasonString(t *testing.T) {
	ts := startServer(t, testConfig(t))
	for _, row := range []struct {
		name        string
		problemInfo bool
	}{{"problem info requested", true}, {"problem info refused", false}} {
		t.Run(row.name, func(t *testing.T) {
			cp := v5Connect("reason-" + strings.ReplaceAll(row.name, " ", "-"))
			cp.Properties = &paho.ConnectProperties{AuthMethod: "SCRAM-SHA-256", RequestProblemInfo: row.problemInfo}
			c, ack, err := dialV5(t, ts, cp)
			if err == nil || ack == nil {
				t.Fatalf("connect accepted (%v), want refusal", err)
			}
			if ack.ReasonCode != byte(mqtt.BadAuthenticationMethod) {
				t.Errorf("reason code 0x%02X, want 0x8C", ack.ReasonCode) // [MQTT-4.12.0-1]
			}
			acks := tapped[*mqtt.Connack](t, c.tap)
			if len(acks) != 1 {
				t.Fatalf("%d CONNACK on the wire, want 1", len(acks))
			}
			hasReason := acks[0].Properties.Has(mqtt.PropReasonString)
			if row.problemInfo && !hasReason {
				// The server chooses to explain refusals when allowed.
				t.Errorf("no Reason String with Request Problem Information 1")
			}
			// [MQTT-3.1.2-29] allows a Reason String on CONNACK even then;
			// edgemq sends none, as the client asked.
			if !row.problemInfo && (hasReason || len(acks[0].Properties.UserProperties) > 0) {
				t.Errorf("Reason String %q or User Property with Request Problem Information 0", acks[0].Properties.ReasonString)
			}
		})
	}
}

// enforcementRow sends something the server announced it does not
// accept, and expects the server's DISCONNECT.
type enforcementRow struct {
	name     string
	listener string
	// act runs on its own goroutine; ctx is cancelled once the server's
	// DISCONNECT arrived, since the client library may still wait for an
	// answer.
	act  func(ctx context.Context, c *v5Client)
	want []mqtt.ReasonCode
}

// TestPaho5EnforcesAnnouncedLimits checks that what CONNACK announces is
// enforced on a client that ignores it: the server ends the connection
// with DISCONNECT and the reason code that names the violation
// [MQTT-4.13.1-1].
func TestPaho5EnforcesAnnouncedLimits(t *testing.T) {
	cfg := profilesConfig(t)
	ts := startServer(t, cfg)

	// tooLarge writes a PUBLISH of n payload bytes, encoded by the client
	// library, in one write: paho.golang writes a packet in parts, and a
	// part written after the server closed the connection makes it drop
	// the connection before it reads the DISCONNECT already received.
	tooLarge := func(n int) func(context.Context, *v5Client) {
		return func(_ context.Context, c *v5Client) {
			c.writeWhole(&paho.Publish{Topic: "big", Payload: make([]byte, n)})
		}
	}
	publish := func(p *paho.Publish) func(context.Context, *v5Client) {
		return func(ctx context.Context, c *v5Client) {
			// The server answers with DISCONNECT, not with an ack: the
			// error here is expected.
			_, _ = c.Publish(ctx, p)
		}
	}
	codes := func(c ...mqtt.ReasonCode) []mqtt.ReasonCode { return c }
	rows := []enforcementRow{
		// The server refuses packets over its Maximum Packet Size
		// (3.2.2.3.6; the client's duty is [MQTT-3.2.2-15]).
		{"packet over maximum packet size", "strict", tooLarge(1100), codes(mqtt.PacketTooLarge)},
		{"packet over maximum packet size on browser", "browser", tooLarge(65600), codes(mqtt.PacketTooLarge)},
		// QoS above Maximum QoS (3.3.1.2; the client's duty is
		// [MQTT-3.2.2-11]).
		{"qos 2 above maximum qos 1", "browser",
			publish(&paho.Publish{Topic: "q", QoS: 2, Payload: []byte("x")}), codes(mqtt.QoSNotSupported)},
		{"qos 1 above maximum qos 0", "strict",
			publish(&paho.Publish{Topic: "q", QoS: 1, Payload: []byte("x")}), codes(mqtt.QoSNotSupported)},
		// Retain while Retain Available is 0 (3.3.1.3; the client's duty
		// is [MQTT-3.2.2-14]).
		{"retain unavailable", "browser",
			publish(&paho.Publish{Topic: "r", Retain: true, Payload: []byte("x")}), codes(mqtt.RetainNotSupported)},
		// Topic Alias above Topic Alias Maximum [MQTT-3.3.2-9; 3.3.2.3.4:
		// Topic Alias invalid].
		{"topic alias above maximum", "browser",
			publish(&paho.Publish{Topic: "a", Payload: []byte("x"), Properties: &paho.PublishProperties{TopicAlias: refOf[uint16](17)}}), codes(mqtt.TopicAliasInvalid)},
		{"topic alias with maximum 0", "strict",
			publish(&paho.Publish{Topic: "a", Payload: []byte("x"), Properties: &paho.PublishProperties{TopicAlias: refOf[uint16](1)}}), codes(mqtt.TopicAliasInvalid)},
		// Topic Alias 0 is not permitted [MQTT-3.3.2-8]: the specification
		// names no code, so Protocol Error and Topic Alias invalid both fit.
		{"topic alias 0", "tcp",
			publish(&paho.Publish{Topic: "a", Payload: []byte("x"), Properties: &paho.PublishProperties{TopicAlias: refOf[uint16](0)}}), codes(mqtt.ProtocolError, mqtt.TopicAliasInvalid)},
		// Subscription Identifier while not available (3.2.2.3.12).
		{"subscription identifier unavailable", "strict", func(ctx context.Context, c *v5Client) {
			_, _ = c.Subscribe(ctx, &paho.Subscribe{
				Properties:    &paho.SubscribeProperties{SubscriptionIdentifier: refOf(7)},
				Subscriptions: []paho.SubscribeOptions{{Topic: "s", QoS: 0}},
			})
		}, codes(mqtt.SubscriptionIdentifiersNotSupported)},
	}
	for i, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			c := connectV5(t, ts, v5Connect(fmt.Sprintf("enforce-%d", i)), viaListener(row.listener), ignoringServerLimits())
			ctx, cancel := context.WithCancel(context.Background())
			acted := make(chan struct{})
			go func() { defer close(acted); row.act(ctx, c) }()
			defer func() { cancel(); <-acted }()
			d := c.expectServerDisconnect(t)
			if !slices.Contains(row.want, mqtt.ReasonCode(d.ReasonCode)) {
				t.Fatalf("DISCONNECT 0x%02X, want %v", d.ReasonCode, row.want) // [MQTT-4.13.1-1]
			}
		})
	}
}

// TestPaho5TopicAlias checks an inbound Topic Alias within Topic Alias
// Maximum is accepted and resolved (3.3.2.3.4), and that the server sends
// no Topic Alias to a client that set no Topic Alias Maximum
// [MQTT-3.1.2-27].
func TestPaho5TopicAlias(t *testing.T) {
	ts := startServer(t, testConfig(t))
	sub := connectV5(t, ts, v5Connect("alias-sub"))
	sub.subscribe(t, "alias/#", 1)
	pub := connectV5(t, ts, v5Connect("alias-pub"))
	alias := &paho.PublishProperties{TopicAlias: refOf[uint16](1)}
	pub.publish(t, &paho.Publish{Topic: "alias/t", QoS: 1, Payload: []byte("set"), Properties: alias})
	pub.publish(t, &paho.Publish{Topic: "", QoS: 1, Payload: []byte("used"), Properties: alias})
	for _, want := range []string{"set", "used"} {
		if m := sub.expectMessage(t); m.Topic != "alias/t" || string(m.Payload) != want {
			t.Fatalf("got %q on %q, want %q on alias/t", m.Payload, m.Topic, want)
		}
	}
	for _, p := range tapped[*mqtt.Publish](t, sub.tap) {
		if p.Properties.Has(mqtt.PropTopicAlias) || p.Topic == "" {
			t.Errorf("PUBLISH with Topic Alias %d and topic %q to a client without Topic Alias Maximum", p.Properties.TopicAlias, p.Topic) // [MQTT-3.1.2-27]
		}
	}
}

// TestPaho5SubackRefusals checks the SUBACK reason codes of filters the
// server announced it does not support, one per filter in order
// [MQTT-3.9.3-1], the others granted, and the connection kept.
func TestPaho5SubackRefusals(t *testing.T) {
	cfg := profilesConfig(t)
	ts := startServer(t, cfg)
	rows := []struct {
		name     string
		listener string
		filters  []string
		want     []byte
	}{
		// Wildcards while Wildcard Subscription Available is 0
		// (3.2.2.3.11, 3.9.3).
		{"single level wildcard unavailable", "browser", []string{"a/+"}, []byte{byte(mqtt.WildcardSubscriptionsNotSupported)}},
		{"multi level wildcard unavailable", "browser", []string{"a/#"}, []byte{byte(mqtt.WildcardSubscriptionsNotSupported)}},
		// Shared subscriptions while Shared Subscription Available is 0
		// (3.2.2.3.13, 3.9.3).
		{"shared subscription unavailable", "browser", []string{"$share/g/a"}, []byte{byte(mqtt.SharedSubscriptionsNotSupported)}},
		// Granted QoS is capped by Maximum QoS on the browser listener
		// [MQTT-3.2.2-9, MQTT-3.8.4-8]; one reason code per filter, in
		// order [MQTT-3.9.3-1].
		{"mixed", "browser", []string{"ok/t", "a/+", "$share/g/x", "ok/#"}, []byte{
			byte(mqtt.GrantedQoS1), byte(mqtt.WildcardSubscriptionsNotSupported),
			byte(mqtt.SharedSubscriptionsNotSupported), byte(mqtt.WildcardSubscriptionsNotSupported),
		}},
	}
	for i, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			c := connectV5(t, ts, v5Connect(fmt.Sprintf("suback-%d", i)), viaListener(row.listener), ignoringServerLimits())
			s := &paho.Subscribe{}
			for _, f := range row.filters {
				s.Subscriptions = append(s.Subscriptions, paho.SubscribeOptions{Topic: f, QoS: 2})
			}
			ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
			defer cancel()
			sa, err := c.Subscribe(ctx, s)
			if sa == nil {
				t.Fatalf("no SUBACK: %v", err)
			}
			if !slices.Equal(sa.Reasons, row.want) {
				t.Fatalf("SUBACK reason codes % X, want % X", sa.Reasons, row.want)
			}
			// A refused filter is not a protocol error: the connection
			// stays (3.9.3).
			c.publish(t, &paho.Publish{Topic: "still/here", QoS: 1, Payload: []byte("x")})
		})
	}
}

// TestPaho5ServerRespectsClientMaximumPacketSize checks the server never
// sends a packet larger than the client's Maximum Packet Size: a too
// large message is dropped for that client and counted [MQTT-3.1.2-24,
// MQTT-3.1.2-25].
func TestPaho5ServerRespectsClientMaximumPacketSize(t *testing.T) {
	ts := startServer(t, testConfig(t))
	const max = 128
	cp := v5Connect("small-sub")
	cp.Properties = &paho.ConnectProperties{MaximumPacketSize: refOf[uint32](max), RequestProblemInfo: true}
	sub := connectV5(t, ts, cp)
	sub.subscribe(t, "size/#", 1)
	pub := connectV5(t, ts, v5Connect("size-pub"))

	before := ts.Stats().Dropped["too_large"]
	for _, qos := range []byte{0, 1} {
		pub.publish(t, &paho.Publish{Topic: "size/big", QoS: qos, Payload: make([]byte, 1000)})
		pub.publish(t, &paho.Publish{Topic: "size/small", QoS: qos, Payload: []byte("small")})
		// Only the small one arrives [MQTT-3.1.2-24].
		m := sub.expectMessage(t)
		if m.Topic != "size/small" {
			t.Fatalf("qos %d: got %d bytes on %q, want the small message", qos, len(m.Payload), m.Topic)
		}
	}
	if got := ts.Stats().Dropped["too_large"] - before; got != 2 {
		t.Errorf("Dropped[too_large] grew by %d, want 2", got)
	}
	for _, p := range sub.tap.received(t, mqtt.V5) {
		if n, err := mqtt.Size(p, mqtt.V5); err != nil || n > max {
			t.Errorf("server sent a %v of %d bytes to a client with Maximum Packet Size %d", p.Type(), n, max) // [MQTT-3.1.2-24]
		}
	}
	// The dropped QoS 1 message is treated as sent [MQTT-3.1.2-25]: the
	// session keeps nothing in flight, and later messages still flow.
	pub.publish(t, &paho.Publish{Topic: "size/after", QoS: 1, Payload: []byte("after")})
	if m := sub.expectMessage(t); m.Topic != "size/after" {
		t.Fatalf("got %q, want size/after", m.Topic)
	}
}

// TestPaho5Auth checks static users and anonymous access with MQTT 5
// reason codes.
func TestPaho5Auth(t *testing.T) {
	ts := startServer(t, authConfig(t))
	rows := []struct {
		name     string
		listener string
		user     string
		password string
		method   string
		want     mqtt.ReasonCode
	}{
		{"good password", "tcp", "alice", "secret", "", mqtt.Success},
		{"good password without anonymous", "closed", "alice", "secret", "", mqtt.Success},
		{"bad password", "tcp", "alice", "wrong", "", mqtt.BadUserNameOrPassword},
		{"unknown user", "tcp", "mallory", "secret", "", mqtt.BadUserNameOrPassword},
		{"anonymous allowed", "tcp", "", "", "", mqtt.Success},
		{"anonymous refused", "closed", "", "", "", mqtt.NotAuthorized},
		// No enhanced authentication method is supported [MQTT-4.12.0-1].
		{"authentication method", "tcp", "", "", "SCRAM-SHA-1", mqtt.BadAuthenticationMethod},
	}
	for i, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			cp := v5Connect(fmt.Sprintf("auth5-%d", i))
			if row.user != "" {
				cp.Username, cp.UsernameFlag = row.user, true
				cp.Password, cp.PasswordFlag = []byte(row.password), true
			}
			if row.method != "" {
				cp.Properties = &paho.ConnectProperties{AuthMethod: row.method, RequestProblemInfo: true}
			}
			_, ack, err := dialV5(t, ts, cp, viaListener(row.listener))
			if ack == nil {
				t.Fatalf("no CONNACK: %v", err)
			}
			// The CONNACK reason code says why [MQTT-3.2.2-8].
			if ack.ReasonCode != byte(row.want) {
				t.Fatalf("reason code 0x%02X (%v), want 0x%02X", ack.ReasonCode, err, byte(row.want))
			}
			if (err == nil) != (row.want == mqtt.Success) {
				t.Fatalf("connect error %v for reason code 0x%02X", err, byte(row.want))
			}
			if row.want != mqtt.Success && ack.SessionPresent {
				t.Errorf("Session Present 1 on a refusal") // [MQTT-3.2.2-6]
			}
		})
	}
}

// authConfig has one static user and two listeners: "tcp" allowing
// anonymous clients and "closed" refusing them.
func authConfig(tb testing.TB) *configs.Config {
	tb.Helper()
	cfg := testConfig(tb)
	cfg.Auth.Users = []configs.User{{Username: "alice", PasswordHash: bcryptHash(tb, "secret")}}
	cfg.Listeners[0].AllowAnonymous = refOf(true)
	cfg.Listeners = append(cfg.Listeners, configs.Listener{Name: "closed", Type: "tcp", Address: "127.0.0.1:0", AllowAnonymous: refOf(false)})
	return cfg
}

// clientIDConfig limits client ids to 20 bytes of a pattern.
func clientIDConfig(tb testing.TB) *configs.Config {
	tb.Helper()
	cfg := testConfig(tb)
	cfg.MQTT.ClientID.MaxLength = 20
	// Not anchored: the whole id must match all the same.
	cfg.MQTT.ClientID.Pattern = `[a-z][a-z0-9-]*`
	return cfg
}

// TestPaho5ClientID checks client identifier validation and assignment.
func TestPaho5ClientID(t *testing.T) {
	cfg := clientIDConfig(t)
	ts := startServer(t, cfg)
	rows := []struct {
		name string
		id   string
		want mqtt.ReasonCode
	}{
		{"valid", "sensor-1", mqtt.Success},
		{"longest", strings.Repeat("a", 20), mqtt.Success},
		// An empty id is assigned one [MQTT-3.1.3-6, MQTT-3.2.2-16].
		{"empty", "", mqtt.Success},
		// Refused ids get 0x85 and the connection closes [MQTT-3.1.3-8].
		{"too long", strings.Repeat("a", 21), mqtt.ClientIdentifierNotValid},
		{"pattern mismatch", "Sensor-1", mqtt.ClientIdentifierNotValid},
		{"pattern partial match", "sensor_1", mqtt.ClientIdentifierNotValid},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			c, ack, err := dialV5(t, ts, v5Connect(row.id))
			if ack == nil {
				t.Fatalf("no CONNACK: %v", err)
			}
			if ack.ReasonCode != byte(row.want) {
				t.Fatalf("reason code 0x%02X, want 0x%02X", ack.ReasonCode, byte(row.want))
			}
			if row.want != mqtt.Success {
				// The server closes the connection after the refusal
				// [MQTT-3.1.3-8, MQTT-3.2.2-7]: the tap saw CONNACK only.
				if n := len(c.tap.received(t, mqtt.V5)); n != 1 {
					t.Errorf("%d packets after the refusal, want only CONNACK", n)
				}
				return
			}
			assigned := ack.Properties.AssignedClientID
			if row.id == "" {
				// [MQTT-3.2.2-16]; the assigned id is of 0-9a-z after the
				// prefix so that any server accepts it [MQTT-3.1.3-5].
				if !regexp.MustCompile(`^` + regexp.QuoteMeta(cfg.MQTT.ClientID.AssignedPrefix) + `[0-9a-z]+$`).MatchString(assigned) {
					t.Errorf("Assigned Client Identifier %q", assigned)
				}
			} else if assigned != "" {
				t.Errorf("Assigned Client Identifier %q for id %q", assigned, row.id)
			}
		})
	}
}
