package gateway

// Session tests over real sockets, continued from session_test.go:
// QoS downgrade, expiry, wills, DISCONNECT, property pass-through and
// request/response.

import (
	"bytes"
	"edgemq/gateway/internal/testclock"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"edgemq/configs"
	"edgemq/mqtt"

	"github.com/eclipse/paho.golang/paho"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

// TestSessionMaximumQoSDowngrade checks that messages go at the lower of
// their QoS and the granted QoS [MQTT-3.8.4-8 (3.1.1: MQTT-3.8.4-6)], and
// that a listener with Maximum QoS 1 grants at most 1, which its SUBACK
// says [MQTT-3.8.4-7], and delivers a QoS 2 message from another listener
// at QoS 1. A 3.1.1 will above it (3.1.1 has no way to refuse it) is
// published at the listener's maximum.
func TestSessionMaximumQoSDowngrade(t *testing.T) {
	cfg := testConfig(t)
	cfg.Profiles = map[string]configs.Profile{"q1": {MaximumQoS: refOf[byte](1)}}
	cfg.Listeners = append(cfg.Listeners, configs.Listener{Name: "q1", Type: "tcp", Address: "127.0.0.1:0", Profile: "q1"})
	ts := startServer(t, cfg)
	pub := connectV5(t, ts, v5Connect("mq-pub"))
	pub.roundTrip(t)

	rows := []struct {
		name     string
		v        mqtt.Version
		listener string
		subQoS   byte
		granted  mqtt.ReasonCode
	}{
		{"subscription qos 1", mqtt.V5, "tcp", 1, mqtt.GrantedQoS1},
		{"maximum qos 1", mqtt.V5, "q1", 2, mqtt.GrantedQoS1},
		{"maximum qos 1, 3.1.1", mqtt.V311, "q1", 2, mqtt.GrantedQoS1},
	}
	for i, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			id := fmt.Sprintf("mq-sub-%d", i)
			cp := sessConnect(row.v, id, true, 0)
			if row.v == mqtt.V5 {
				// One at a time: the second message comes only once the
				// first was acknowledged as the QoS 1 it was sent at.
				cp.Properties.SetUint16(mqtt.PropReceiveMaximum, 1)
			}
			sub, _ := dialSess(t, ts, row.listener, cp)
			topic := "mq/" + id
			sub.subscribe(t, topic, row.subQoS, row.granted) // [MQTT-3.8.4-7]
			sub.subscribe(t, "fence/"+id, 0, mqtt.GrantedQoS0)
			for _, payload := range []string{"one", "two"} {
				pub.publish(t, &paho.Publish{Topic: topic, QoS: 2, Payload: []byte(payload)})
			}
			for _, payload := range []string{"one", "two"} {
				p := nextOf[*mqtt.Publish](t, sub)
				if p.QoS != 1 || string(p.Payload) != payload || p.PacketID == 0 {
					t.Fatalf("got %+v, want %q at qos 1", p, payload) // [MQTT-3.8.4-8]
				}
				// The exchange is QoS 1: PUBACK completes it.
				sub.send(t, &mqtt.Puback{PacketID: p.PacketID})
			}
			sub.ping(t)
			sub.expectFence(t, pub, "fence/"+id)
		})
	}

	t.Run("3.1.1 will above maximum qos", func(t *testing.T) {
		watcher, _ := dialSess(t, ts, "tcp", sessConnect(mqtt.V5, "mq-watcher", true, 0))
		watcher.subscribe(t, "mqwill/#", 2, mqtt.GrantedQoS2)
		cp := sessConnect(mqtt.V311, "mq-will", true, 0)
		cp.Will = &mqtt.Will{QoS: 2, Topic: "mqwill/gone", Payload: []byte("gone")}
		c, _ := dialSess(t, ts, "q1", cp)
		c.ping(t)
		c.nc.Close()
		p := nextOf[*mqtt.Publish](t, watcher)
		if p.Topic != "mqwill/gone" || p.QoS != 1 {
			t.Fatalf("got %+v, want the will at qos 1, the listener's maximum", p)
		}
	})
}

// TestSessionMessageExpiry checks the Message Expiry Interval of a message
// that waited in a session: sent with the time it waited taken off
// [MQTT-3.3.2-6], and not sent once expired [MQTT-3.3.2-5], which counts
// as dropped "expired"; a message without one is sent without one.
func TestSessionMessageExpiry(t *testing.T) {
	// The server's clock (clock.go) moves only when the test moves it.
	clock := testclock.New(time.Now())
	ts := startServerLog(t, testConfig(t), zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)), func(*Server) {}, withClock(clock))
	pub := connectV5(t, ts, v5Connect("mx-pub"))
	pub.roundTrip(t)
	const id = "mx-sub"
	sub, _ := dialSess(t, ts, "tcp", sessConnect(mqtt.V5, id, false, 60))
	sub.subscribe(t, "mx/#", 1, mqtt.GrantedQoS1)
	sub.subscribe(t, "fence/mx", 0, mqtt.GrantedQoS0)
	sub.send(t, &mqtt.Disconnect{})
	sub.expectClosed(t)
	waitConnections(t, ts, 1)

	pub.publish(t, &paho.Publish{Topic: "mx/short", QoS: 1, Payload: []byte("short"), Properties: &paho.PublishProperties{MessageExpiry: refOf[uint32](1)}})
	pub.publish(t, &paho.Publish{Topic: "mx/long", QoS: 1, Payload: []byte("long"), Properties: &paho.PublishProperties{MessageExpiry: refOf[uint32](10)}})
	pub.publish(t, &paho.Publish{Topic: "mx/none", QoS: 1, Payload: []byte("none")})
	before := ts.Stats().Dropped["expired"]
	// Time passes: past the short message's expiry, well within the long
	// one's.
	clock.Add(2100 * time.Millisecond)

	sub, _ = dialSess(t, ts, "tcp", sessConnect(mqtt.V5, id, false, 60))
	p := nextOf[*mqtt.Publish](t, sub)
	if p.Topic != "mx/long" {
		t.Fatalf("got %q first, want mx/long: the expired message must not be sent", p.Topic) // [MQTT-3.3.2-5]
	}
	if !p.Properties.Has(mqtt.PropMessageExpiryInterval) {
		t.Fatalf("mx/long without Message Expiry Interval")
	}
	if mei := p.Properties.MessageExpiryInterval; mei == 0 || mei >= 10 {
		t.Errorf("Message Expiry Interval %d after waiting 2s, want 1..9", mei) // [MQTT-3.3.2-6]
	}
	p = nextOf[*mqtt.Publish](t, sub)
	if p.Topic != "mx/none" || p.Properties.Has(mqtt.PropMessageExpiryInterval) {
		t.Errorf("got %q with Message Expiry Interval present %v; want mx/none without one", p.Topic, p.Properties.Has(mqtt.PropMessageExpiryInterval))
	}
	sub.expectFence(t, pub, "fence/mx")
	if got := ts.Stats().Dropped["expired"] - before; got != 1 {
		t.Errorf("Dropped[expired] grew by %d, want 1", got)
	}
}

// TestSessionWillDelayAndSessionEnd checks that a will waits for the
// shorter of its Will Delay Interval and the session's life [MQTT-3.1.2-8,
// 3.1.3.2.2]: with a delay of an hour it is published when a session of
// one second expires, and at once when the session ends with the
// connection. The delays are far beyond the wait, so the will arriving
// at all shows the session's end published it.
func TestSessionWillDelayAndSessionEnd(t *testing.T) {
	ts := startServer(t, testConfig(t))
	watcher := connectV5(t, ts, v5Connect("wd-watcher"))
	watcher.subscribe(t, "wd/#", 1)
	const hour = 3600

	t.Run("session expiry 1s", func(t *testing.T) {
		c := connectV5(t, ts, willConnect("wd-expiring", "wd/expiring", hour, 1))
		c.roundTrip(t)
		c.raw.Close()
		waitConnections(t, ts, 1)
		m := watcher.expectMessage(t)
		if m.Topic != "wd/expiring" {
			t.Fatalf("got %q, want the will", m.Topic)
		}
		// Published as the session ended: it is gone [MQTT-3.1.2-8].
		if n := ts.Stats().Sessions; n != 1 {
			t.Errorf("%d sessions after the will, want 1 (the watcher's)", n)
		}
		again, ack := dialSess(t, ts, "tcp", sessConnect(mqtt.V5, "wd-expiring", false, 0))
		if ack.SessionPresent {
			t.Errorf("Session Present 1 after the session expired") // [MQTT-3.2.2-3]
		}
		again.send(t, &mqtt.Disconnect{})
		again.expectClosed(t)
		waitConnections(t, ts, 1)
	})

	t.Run("session expiry 0", func(t *testing.T) {
		c := connectV5(t, ts, willConnect("wd-ending", "wd/ending", hour, 0))
		c.roundTrip(t)
		c.raw.Close()
		waitConnections(t, ts, 1) // the will is routed before this
		if m := watcher.expectMessage(t); m.Topic != "wd/ending" {
			t.Fatalf("got %q, want the will", m.Topic)
		}
		watcher.expectFence(t, watcher, "wd/fence")
	})
}

// TestSessionExpiryOnDisconnect checks the Session Expiry Interval set on
// DISCONNECT (3.14.2.2.2): 0 after 60 on CONNECT ends the session with
// the connection; a non-zero value after 0 on CONNECT is a Protocol Error,
// answered with DISCONNECT 0x82, which carries no Session Expiry Interval
// [MQTT-3.14.2-2], and the session still ends.
func TestSessionExpiryOnDisconnect(t *testing.T) {
	ts := startServer(t, testConfig(t))

	t.Run("60 then 0", func(t *testing.T) {
		const id = "dx-zero"
		c, _ := dialSess(t, ts, "tcp", sessConnect(mqtt.V5, id, false, 60))
		c.subscribe(t, "dx/#", 1, mqtt.GrantedQoS1)
		d := &mqtt.Disconnect{}
		d.Properties.SetUint32(mqtt.PropSessionExpiryInterval, 0)
		c.send(t, d)
		c.expectClosed(t)
		waitConnections(t, ts, 0)
		if n := ts.Stats().Sessions; n != 0 {
			t.Fatalf("%d sessions, want 0: expiry 0 on DISCONNECT ends the session with the connection", n)
		}
		c, ack := dialSess(t, ts, "tcp", sessConnect(mqtt.V5, id, false, 0))
		if ack.SessionPresent {
			t.Fatalf("Session Present 1, want 0") // [MQTT-3.2.2-3]
		}
		c.send(t, &mqtt.Disconnect{})
		c.expectClosed(t)
		waitConnections(t, ts, 0)
	})

	t.Run("0 then 30", func(t *testing.T) {
		const id = "dx-raise"
		c, _ := dialSess(t, ts, "tcp", sessConnect(mqtt.V5, id, false, 0))
		c.ping(t)
		d := &mqtt.Disconnect{}
		d.Properties.SetUint32(mqtt.PropSessionExpiryInterval, 30)
		c.send(t, d)
		sd := nextOf[*mqtt.Disconnect](t, c)
		if sd.ReasonCode != mqtt.ProtocolError {
			t.Fatalf("DISCONNECT %v, want 0x82 Protocol Error", sd.ReasonCode)
		}
		if sd.Properties.Has(mqtt.PropSessionExpiryInterval) {
			t.Errorf("the server's DISCONNECT carries a Session Expiry Interval") // [MQTT-3.14.2-2]
		}
		c.expectClosed(t)
		waitConnections(t, ts, 0)
		if n := ts.Stats().Sessions; n != 0 {
			t.Fatalf("%d sessions, want 0: the session had expiry 0", n)
		}
	})
}

// TestSessionPropertyPassThrough checks that the server forwards a
// message's Payload Format Indicator [MQTT-3.3.2-4], Content Type
// [MQTT-3.3.2-20], Response Topic [MQTT-3.3.2-15], Correlation Data
// [MQTT-3.3.2-16] and User Properties, all of them, repeated keys
// included, in order [MQTT-3.3.2-17, MQTT-3.3.2-18], unaltered and with
// nothing added, at each QoS, live, from a session's queue, and as a
// retained message; and a will's properties likewise (3.1.3.2).
func TestSessionPropertyPassThrough(t *testing.T) {
	ts := startServer(t, testConfig(t))
	var props mqtt.Properties
	props.SetByte(mqtt.PropPayloadFormatIndicator, 1)
	props.SetString(mqtt.PropContentType, "application/json; charset=utf-8")
	props.SetString(mqtt.PropResponseTopic, "pt/reply/7")
	props.SetBinary(mqtt.PropCorrelationData, []byte{0, 1, 0xfe, 0xff})
	props.UserProperties = []mqtt.UserProperty{{Key: "k", Value: "1"}, {Key: "a", Value: "x"}, {Key: "k", Value: "2"}, {Key: "k", Value: "1"}, {Key: "", Value: ""}}
	payload := []byte(`{"v":1}`)
	check := func(t *testing.T, what string, p *mqtt.Publish) {
		t.Helper()
		got := p.Properties
		if got.Present != props.Present {
			t.Errorf("%s: properties present %#x, want %#x (the publisher's, nothing added or removed)", what, got.Present, props.Present)
		}
		if got.PayloadFormatIndicator != 1 {
			t.Errorf("%s: Payload Format Indicator %d, want 1", what, got.PayloadFormatIndicator) // [MQTT-3.3.2-4]
		}
		if got.ContentType != props.ContentType {
			t.Errorf("%s: Content Type %q, want %q", what, got.ContentType, props.ContentType) // [MQTT-3.3.2-20]
		}
		if got.ResponseTopic != props.ResponseTopic {
			t.Errorf("%s: Response Topic %q, want %q", what, got.ResponseTopic, props.ResponseTopic) // [MQTT-3.3.2-15]
		}
		if !bytes.Equal(got.CorrelationData, props.CorrelationData) {
			t.Errorf("%s: Correlation Data % X, want % X", what, got.CorrelationData, props.CorrelationData) // [MQTT-3.3.2-16]
		}
		if !slices.Equal(got.UserProperties, props.UserProperties) {
			t.Errorf("%s: User Properties %v, want %v", what, got.UserProperties, props.UserProperties) // [MQTT-3.3.2-17, MQTT-3.3.2-18]
		}
		if len(got.SubscriptionIdentifiers) != 0 {
			t.Errorf("%s: Subscription Identifiers %v on a subscription without one", what, got.SubscriptionIdentifiers)
		}
		if !bytes.Equal(p.Payload, payload) {
			t.Errorf("%s: payload %q, want %q", what, p.Payload, payload)
		}
	}

	pub, _ := dialSess(t, ts, "tcp", sessConnect(mqtt.V5, "pt-pub", true, 0))
	live, _ := dialSess(t, ts, "tcp", sessConnect(mqtt.V5, "pt-live", true, 0))
	live.subscribe(t, "pt/#", 2, mqtt.GrantedQoS2)
	const queuedID = "pt-queued"
	queued, _ := dialSess(t, ts, "tcp", sessConnect(mqtt.V5, queuedID, false, 60))
	queued.subscribe(t, "pt/#", 2, mqtt.GrantedQoS2)
	queued.send(t, &mqtt.Disconnect{})
	queued.expectClosed(t)
	waitConnections(t, ts, 2) // released: what follows is queued

	for qos := range byte(3) {
		msg := &mqtt.Publish{Topic: fmt.Sprintf("pt/%d", qos), QoS: qos, Retain: qos == 1, Properties: props, Payload: payload}
		if qos > 0 {
			msg.PacketID = 1
		}
		pub.send(t, msg)
		switch qos {
		case 1:
			nextOf[*mqtt.Puback](t, pub)
		case 2:
			nextOf[*mqtt.Pubrec](t, pub)
			pub.send(t, &mqtt.Pubrel{PacketID: 1})
			nextOf[*mqtt.Pubcomp](t, pub)
		}
		p := nextOf[*mqtt.Publish](t, live)
		check(t, fmt.Sprintf("live qos %d", qos), p)
		switch qos {
		case 1:
			live.send(t, &mqtt.Puback{PacketID: p.PacketID})
		case 2:
			live.send(t, &mqtt.Pubrec{PacketID: p.PacketID})
			nextOf[*mqtt.Pubrel](t, live)
			live.send(t, &mqtt.Pubcomp{PacketID: p.PacketID})
		}
	}

	queued, _ = dialSess(t, ts, "tcp", sessConnect(mqtt.V5, queuedID, false, 60))
	for _, qos := range []byte{1, 2} {
		check(t, fmt.Sprintf("queued qos %d", qos), nextOf[*mqtt.Publish](t, queued))
	}

	late, _ := dialSess(t, ts, "tcp", sessConnect(mqtt.V5, "pt-late", true, 0))
	late.send(t, &mqtt.Subscribe{PacketID: 1, Subscriptions: []mqtt.Subscription{{Filter: "pt/1", QoS: 1}}})
	nextOf[*mqtt.Suback](t, late)
	check(t, "retained", nextOf[*mqtt.Publish](t, late))

	// A will carries the same properties (3.1.3.2); its Will Delay
	// Interval is not a PUBLISH property and is not passed on.
	cp := sessConnect(mqtt.V5, "pt-will", true, 0)
	cp.Will = &mqtt.Will{QoS: 1, Topic: "pt/will", Properties: props, Payload: payload}
	wc, _ := dialSess(t, ts, "tcp", cp)
	wc.ping(t)
	wc.nc.Close()
	check(t, "will", nextOf[*mqtt.Publish](t, live))
}

// TestSessionRequestResponse checks request/response (4.10) end to end:
// the Response Information a client asks for in CONNECT comes in CONNACK
// with the client id appended (3.2.2.3.15), the requester subscribes under
// it, and the responder's answer, sent to the request's Response Topic with
// its Correlation Data [MQTT-3.3.2-15, MQTT-3.3.2-16], gets back.
func TestSessionRequestResponse(t *testing.T) {
	cfg := testConfig(t)
	cfg.MQTT.ResponseInformation = "replies/"
	ts := startServer(t, cfg)
	responder := connectV5(t, ts, v5Connect("rr-responder"))
	responder.subscribe(t, "svc/echo", 1)

	cp := v5Connect("rr-requester")
	cp.Properties = &paho.ConnectProperties{RequestResponseInfo: true, RequestProblemInfo: true}
	requester := connectV5(t, ts, cp)
	info := requester.connack.Properties.ResponseInfo
	if info != "replies/rr-requester" {
		t.Fatalf("Response Information %q, want replies/rr-requester", info)
	}
	requester.subscribe(t, info+"/#", 1)
	requester.publish(t, &paho.Publish{Topic: "svc/echo", QoS: 1, Payload: []byte("ping"), Properties: &paho.PublishProperties{
		ResponseTopic: info + "/1", CorrelationData: []byte("req-1"),
	}})
	req := responder.expectMessage(t)
	if req.Properties == nil || req.Properties.ResponseTopic != info+"/1" || string(req.Properties.CorrelationData) != "req-1" {
		t.Fatalf("request %+v without its Response Topic and Correlation Data", req.Properties)
	}
	responder.publish(t, &paho.Publish{Topic: req.Properties.ResponseTopic, QoS: 1, Payload: []byte("pong"), Properties: &paho.PublishProperties{
		CorrelationData: req.Properties.CorrelationData,
	}})
	resp := requester.expectMessage(t)
	if resp.Topic != info+"/1" || string(resp.Payload) != "pong" || resp.Properties == nil || string(resp.Properties.CorrelationData) != "req-1" {
		t.Fatalf("response %q on %q with %+v, want pong with correlation data req-1", resp.Payload, resp.Topic, resp.Properties)
	}
}

// TestSessionResendRespectsNewMaximumPacketSize checks that a message in
// flight from an earlier connection is not re-sent to a connection whose
// Maximum Packet Size it exceeds [MQTT-3.1.2-24, MQTT-3.1.2-25]: it is
// dropped and counted, and smaller ones still come.
func TestSessionResendRespectsNewMaximumPacketSize(t *testing.T) {
	ts := startServer(t, testConfig(t))
	sub, _ := dialSess(t, ts, "tcp", sessConnect(mqtt.V5, "resize", true, 60))
	sub.subscribe(t, "resize/#", 1, mqtt.GrantedQoS1)
	pub := connectV5(t, ts, v5Connect("resize-pub"))
	big := strings.Repeat("b", 600)
	pub.publish(t, &paho.Publish{Topic: "resize/big", QoS: 1, Payload: []byte(big)})
	pub.publish(t, &paho.Publish{Topic: "resize/small", QoS: 1, Payload: []byte("s")})
	for range 2 {
		nextOf[*mqtt.Publish](t, sub) // not acknowledged
	}
	sub.nc.Close()
	before := ts.Stats().Dropped["too_large"]

	cp := sessConnect(mqtt.V5, "resize", false, 60)
	cp.Properties.SetUint32(mqtt.PropMaximumPacketSize, 256)
	again, ack := dialSess(t, ts, "tcp", cp)
	if !ack.SessionPresent {
		t.Fatal("session not resumed")
	}
	p := nextOf[*mqtt.Publish](t, again)
	if string(p.Payload) != "s" || !p.Dup {
		t.Errorf("first re-sent message %q dup=%v, want the small one with DUP", p.Payload, p.Dup)
	}
	if got := ts.Stats().Dropped["too_large"]; got != before+1 {
		t.Errorf("too_large drops %d, want %d", got, before+1)
	}
	again.send(t, &mqtt.Puback{PacketID: p.PacketID})
	again.expectFence(t, pub, "resize/fence")
}
