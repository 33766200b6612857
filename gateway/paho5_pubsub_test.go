package gateway

// Integration tests with the paho.golang MQTT 5 client over TCP: sessions,
// wills and publish/subscribe. Each check cites the normative statement
// (or, where the specification has none, the section) of MQTT 5.0 it
// verifies. CONNECT/CONNACK tests are in paho5_test.go.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"edgemq/mqtt"

	"github.com/eclipse/paho.golang/paho"
)

// TestPaho5SessionResume checks a session survives a disconnection with
// Clean Start 0: Session Present 1, subscriptions kept, QoS 1 messages
// published meanwhile delivered.
func TestPaho5SessionResume(t *testing.T) {
	ts := startServer(t, testConfig(t))
	resume := func(clean bool) *paho.Connect {
		cp := &paho.Connect{ClientID: "resumer", CleanStart: clean, KeepAlive: 60, Properties: &paho.ConnectProperties{
			SessionExpiryInterval: refOf[uint32](60), RequestProblemInfo: true,
		}}
		return cp
	}
	sub := connectV5(t, ts, resume(true))
	if sub.connack.SessionPresent {
		t.Fatalf("Session Present 1 on a clean start") // [MQTT-3.2.2-2]
	}
	sub.subscribe(t, "resume/#", 1)
	if err := sub.Disconnect(&paho.Disconnect{ReasonCode: 0}); err != nil {
		t.Fatalf("disconnect: %v", err)
	}
	waitConnections(t, ts, 0)

	pub := connectV5(t, ts, v5Connect("resume-pub"))
	r := pub.publish(t, &paho.Publish{Topic: "resume/a", QoS: 1, Payload: []byte("while away")})
	if r.ReasonCode != 0 {
		// The offline session matches [MQTT-3.1.2-5].
		t.Errorf("PUBACK 0x%02X, want success: the offline session subscribes", r.ReasonCode)
	}

	sub = connectV5(t, ts, resume(false))
	if !sub.connack.SessionPresent {
		t.Fatalf("Session Present 0 on resuming a session") // [MQTT-3.2.2-3]
	}
	// The QoS 1 message queued while offline is delivered [MQTT-3.1.2-5,
	// 4.1].
	m := sub.expectMessage(t)
	if m.Topic != "resume/a" || string(m.Payload) != "while away" || m.QoS != 1 {
		t.Fatalf("got %q on %q at qos %d, want the queued message", m.Payload, m.Topic, m.QoS)
	}
	// The subscription was kept: no new SUBSCRIBE is needed.
	pub.publish(t, &paho.Publish{Topic: "resume/c", QoS: 1, Payload: []byte("now")})
	if m := sub.expectMessage(t); m.Topic != "resume/c" {
		t.Fatalf("got %q, want resume/c", m.Topic)
	}

	// A clean start discards the session [MQTT-3.1.2-4]: Session Present
	// 0 [MQTT-3.2.2-2] and no subscription left.
	sub.Disconnect(&paho.Disconnect{ReasonCode: 0})
	waitConnections(t, ts, 1)
	sub = connectV5(t, ts, resume(true))
	if sub.connack.SessionPresent {
		t.Fatalf("Session Present 1 on a clean start") // [MQTT-3.2.2-2]
	}
	// Once SUBACK is back the server finished the CONNECT, old session
	// included.
	sub.subscribe(t, "fence/resume", 1)
	r = pub.publish(t, &paho.Publish{Topic: "resume/d", QoS: 1, Payload: []byte("gone")})
	if r.ReasonCode != byte(mqtt.NoMatchingSubscribers) {
		t.Errorf("PUBACK 0x%02X, want 0x10: the clean start dropped the subscription", r.ReasonCode)
	}
	sub.expectFence(t, pub, "fence/resume")
}

// TestPaho5SessionExpiryZero checks a session with Session Expiry
// Interval 0 ends with its connection (3.1.2.11.2).
func TestPaho5SessionExpiryZero(t *testing.T) {
	ts := startServer(t, testConfig(t))
	cp := &paho.Connect{ClientID: "ephemeral", CleanStart: false, KeepAlive: 60}
	c := connectV5(t, ts, cp)
	c.subscribe(t, "gone/#", 1)
	if ts.Stats().Sessions != 1 {
		t.Fatalf("%d sessions, want 1", ts.Stats().Sessions)
	}
	c.Disconnect(&paho.Disconnect{ReasonCode: 0})
	waitConnections(t, ts, 0)
	if n := ts.Stats().Sessions; n != 0 {
		t.Fatalf("%d sessions after the connection closed, want 0", n)
	}
	c = connectV5(t, ts, cp)
	if c.connack.SessionPresent {
		t.Fatalf("Session Present 1: the session should have ended with its connection") // [MQTT-3.2.2-3]
	}
}

// TestPaho5SessionExpiryElapses checks a session outlives its connection
// for its Session Expiry Interval only (3.1.2.11.2): kept at first, gone
// once the interval passed [MQTT-3.2.2-3].
func TestPaho5SessionExpiryElapses(t *testing.T) {
	ts := startServer(t, testConfig(t))
	cp := &paho.Connect{ClientID: "short-lived", KeepAlive: 60, Properties: &paho.ConnectProperties{
		SessionExpiryInterval: refOf[uint32](1), RequestProblemInfo: true,
	}}
	c := connectV5(t, ts, cp)
	c.roundTrip(t)
	c.Disconnect(&paho.Disconnect{ReasonCode: 0})
	waitConnections(t, ts, 0)
	if n := ts.Stats().Sessions; n != 1 {
		t.Fatalf("%d sessions right after the connection closed, want 1", n)
	}
	eventually(t, "the session to expire", func() bool { return ts.Stats().Sessions == 0 })
	c = connectV5(t, ts, cp)
	if c.connack.SessionPresent {
		t.Fatalf("Session Present 1 after the session expired") // [MQTT-3.2.2-3]
	}
}

// TestPaho5SessionTakeover checks a second connection with the same
// client id takes the session over: the first gets DISCONNECT 0x8E and is
// closed [MQTT-3.1.4-3].
func TestPaho5SessionTakeover(t *testing.T) {
	ts := startServer(t, testConfig(t))
	for _, clean := range []bool{true, false} {
		t.Run(fmt.Sprintf("clean start %v", clean), func(t *testing.T) {
			id := fmt.Sprintf("twin-%v", clean)
			first := connectV5(t, ts, &paho.Connect{ClientID: id, CleanStart: true, KeepAlive: 60})
			first.subscribe(t, "twin/"+id, 1)
			second := connectV5(t, ts, &paho.Connect{ClientID: id, CleanStart: clean, KeepAlive: 60})
			d := first.expectServerDisconnect(t)
			if d.ReasonCode != byte(mqtt.SessionTakenOver) {
				t.Fatalf("DISCONNECT 0x%02X, want 0x8E", d.ReasonCode) // [MQTT-3.1.4-3]
			}
			// Resuming the first connection's session keeps its state
			// [MQTT-3.1.2-5, MQTT-3.2.2-3]; a clean start does not.
			if second.connack.SessionPresent == clean {
				t.Errorf("Session Present %v with clean start %v", second.connack.SessionPresent, clean)
			}
			select {
			case <-first.Done():
			case <-time.After(eventTimeout):
				t.Fatalf("first connection not closed") // [MQTT-3.1.4-3]
			}
			second.subscribe(t, "twin/ping", 0)
			second.publish(t, &paho.Publish{Topic: "twin/ping", Payload: []byte("x")})
			if m := second.expectMessage(t); m.Topic != "twin/ping" {
				t.Fatalf("got %q", m.Topic)
			}
		})
	}
}

// willConnect is a CONNECT with a will on topic.
func willConnect(id, topic string, delay uint32, expiry uint32) *paho.Connect {
	cp := &paho.Connect{ClientID: id, CleanStart: true, KeepAlive: 60,
		WillMessage: &paho.WillMessage{Topic: topic, QoS: 1, Payload: []byte("gone: " + id)},
	}
	if delay > 0 {
		cp.WillProperties = &paho.WillProperties{WillDelayInterval: refOf(delay)}
	}
	if expiry > 0 {
		cp.Properties = &paho.ConnectProperties{SessionExpiryInterval: refOf(expiry), RequestProblemInfo: true}
	}
	return cp
}

// TestPaho5Will checks when the will is published.
func TestPaho5Will(t *testing.T) {
	ts := startServer(t, testConfig(t))
	watcher := connectV5(t, ts, v5Connect("will-watcher"))
	watcher.subscribe(t, "will/#", 1)
	rows := []struct {
		name string
		end  func(c *v5Client)
		want bool
	}{
		// A connection closed without DISCONNECT publishes the will
		// [MQTT-3.1.2-8].
		{"abnormal close", func(c *v5Client) { c.raw.Close() }, true},
		// DISCONNECT 0x00 discards it [MQTT-3.1.2-10, MQTT-3.14.4-3].
		{"normal disconnect", func(c *v5Client) { c.Disconnect(&paho.Disconnect{ReasonCode: 0}) }, false},
		// DISCONNECT 0x04 asks for it (3.14.2.1).
		{"disconnect with will message", func(c *v5Client) {
			c.Disconnect(&paho.Disconnect{ReasonCode: byte(mqtt.DisconnectWithWillMessage)})
		}, true},
		// A session with expiry and no will delay still publishes at once
		// [MQTT-3.1.2-8] (3.1.3.2.2).
		{"abnormal close, session kept", func(c *v5Client) { c.raw.Close() }, true},
	}
	for i, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			id := fmt.Sprintf("will-%d", i)
			expiry := uint32(0)
			if strings.Contains(row.name, "session kept") {
				expiry = 60
			}
			c := connectV5(t, ts, willConnect(id, "will/"+id, 0, expiry))
			c.roundTrip(t)
			row.end(c)
			waitConnections(t, ts, 1) // the will is routed before this
			if row.want {
				m := watcher.expectMessage(t)
				if m.Topic != "will/"+id || string(m.Payload) != "gone: "+id {
					t.Fatalf("got %q on %q, want the will of %s", m.Payload, m.Topic, id)
				}
			}
			watcher.expectFence(t, watcher, "will/fence")
		})
	}
}

// TestPaho5WillDelay checks the will waits for its Will Delay Interval
// (3.1.3.2.2), and that reconnecting within it cancels the will
// [MQTT-3.1.3-9].
func TestPaho5WillDelay(t *testing.T) {
	ts := startServer(t, testConfig(t))
	watcher := connectV5(t, ts, v5Connect("delay-watcher"))
	watcher.subscribe(t, "delayed/#", 1)
	const delay = 2 * time.Second

	c := connectV5(t, ts, willConnect("delayed", "delayed/will", uint32(delay/time.Second), 30))
	c.roundTrip(t)
	c.raw.Close()
	waitConnections(t, ts, 1)
	// Not at once (3.1.3.2.2) ...
	watcher.expectNoMessageFor(t, delay/2)
	// ... but once the delay passed.
	m := watcher.expectMessage(t)
	if m.Topic != "delayed/will" {
		t.Fatalf("got %q, want the will", m.Topic)
	}

	// A new connection for the session before the delay cancels the will
	// [MQTT-3.1.3-9].
	c = connectV5(t, ts, willConnect("delayed2", "delayed/will2", 1, 30))
	c.roundTrip(t)
	c.raw.Close()
	waitConnections(t, ts, 1)
	again := connectV5(t, ts, &paho.Connect{ClientID: "delayed2", KeepAlive: 60, Properties: &paho.ConnectProperties{
		SessionExpiryInterval: refOf[uint32](30), RequestProblemInfo: true,
	}})
	if !again.connack.SessionPresent {
		t.Fatalf("Session Present 0, want the session resumed") // [MQTT-3.2.2-3]
	}
	watcher.expectNoMessageFor(t, 2*time.Second)
}

// TestPaho5QoSEndToEnd checks QoS 0, 1 and 2 between MQTT 5 clients: the
// message arrives once at the lower of the published and granted QoS
// [MQTT-3.8.4-8], with the publisher's exchange completed.
func TestPaho5QoSEndToEnd(t *testing.T) {
	ts := startServer(t, testConfig(t))
	pub := connectV5(t, ts, v5Connect("qos-pub"))
	for _, subQoS := range []byte{0, 1, 2} {
		sub := connectV5(t, ts, v5Connect(fmt.Sprintf("qos-sub-%d", subQoS)))
		sub.subscribe(t, fmt.Sprintf("qos/%d/#", subQoS), subQoS)
		for _, pubQoS := range []byte{0, 1, 2} {
			t.Run(fmt.Sprintf("publish %d subscribe %d", pubQoS, subQoS), func(t *testing.T) {
				topic := fmt.Sprintf("qos/%d/%d", subQoS, pubQoS)
				payload := fmt.Sprintf("payload %d %d", pubQoS, subQoS)
				r := pub.publish(t, &paho.Publish{Topic: topic, QoS: pubQoS, Payload: []byte(payload)})
				if pubQoS > 0 && r.ReasonCode != 0 {
					t.Errorf("ack reason code 0x%02X, want success", r.ReasonCode) // [MQTT-3.4.2.1, MQTT-3.5.2.1]
				}
				m := sub.expectMessage(t)
				if m.Topic != topic || string(m.Payload) != payload {
					t.Fatalf("got %q on %q", m.Payload, m.Topic)
				}
				if want := min(pubQoS, subQoS); m.QoS != want {
					t.Errorf("delivered at qos %d, want %d", m.QoS, want) // [MQTT-3.8.4-8]
				}
				if m.Retain {
					t.Errorf("RETAIN set on a message that was not retained") // [MQTT-3.3.1-12]
				}
			})
		}
		sub.expectFence(t, pub, fmt.Sprintf("qos/%d/fence", subQoS))
	}
	// No subscriber: PUBACK and PUBREC say so (3.4.2.1, 3.5.2.1).
	r := pub.publish(t, &paho.Publish{Topic: "nobody/here", QoS: 1, Payload: []byte("x")})
	if r.ReasonCode != byte(mqtt.NoMatchingSubscribers) {
		t.Errorf("qos 1 to no subscriber: PUBACK 0x%02X, want 0x10", r.ReasonCode)
	}
	// paho.golang reports the PUBCOMP of QoS 2; the PUBREC is on the wire.
	pub.publish(t, &paho.Publish{Topic: "nobody/here", QoS: 2, Payload: []byte("x")})
	recs := tapped[*mqtt.Pubrec](t, pub.tap)
	if last := recs[len(recs)-1]; last.ReasonCode != mqtt.NoMatchingSubscribers {
		t.Errorf("qos 2 to no subscriber: PUBREC %v, want 0x10", last.ReasonCode)
	}
}

// TestPaho5Wildcards checks topic filter matching with + and #, and that
// wildcards at the first level do not match $ topics [MQTT-4.7.2-1].
func TestPaho5Wildcards(t *testing.T) {
	ts := startServer(t, testConfig(t))
	pub := connectV5(t, ts, v5Connect("wild-pub"))
	// Clients may not publish under $SYS (sys.go): another $ topic.
	topics := []string{"a", "a/b", "a/b/c", "a/x/c", "b/x", "$app/x", "$app/x/y", "x/x"}
	rows := []struct {
		filter string
		want   []string
	}{
		// # matches the parent and every level below (4.7.1.2).
		{"a/#", []string{"a", "a/b", "a/b/c", "a/x/c"}},
		// + matches exactly one level (4.7.1.3).
		{"a/+/c", []string{"a/b/c", "a/x/c"}},
		{"a/+", []string{"a/b"}},
		// Wildcards at the first level do not match $ topics
		// [MQTT-4.7.2-1].
		{"#", []string{"a", "a/b", "a/b/c", "a/x/c", "b/x", "x/x"}},
		{"+/x", []string{"b/x", "x/x"}},
		{"+/+/c", []string{"a/b/c", "a/x/c"}},
		// A filter that starts with $ matches them (4.7.2).
		{"$app/#", []string{"$app/x", "$app/x/y"}},
		{"$app/+", []string{"$app/x"}},
		{"a/b/c", []string{"a/b/c"}},
	}
	for i, row := range rows {
		t.Run(row.filter, func(t *testing.T) {
			sub := connectV5(t, ts, v5Connect(fmt.Sprintf("wild-sub-%d", i)))
			sub.subscribe(t, row.filter, 1)
			fence := fmt.Sprintf("fence/wild/%d", i)
			sub.subscribe(t, fence, 1)
			for _, topic := range topics {
				pub.publish(t, &paho.Publish{Topic: topic, QoS: 1, Payload: []byte(topic)})
			}
			pub.publish(t, &paho.Publish{Topic: fence, QoS: 1, Payload: []byte("fence")})
			var got []string
			for {
				m := sub.expectMessage(t)
				if m.Topic == fence {
					break
				}
				got = append(got, m.Topic)
			}
			if !slices.Equal(got, row.want) {
				t.Fatalf("filter %q matched %q, want %q", row.filter, got, row.want)
			}
		})
	}
}

// TestPaho5OverlappingSubscriptions checks a message matching several
// subscriptions of a session is sent once, at the highest QoS, with every
// Subscription Identifier [MQTT-3.3.4-2, MQTT-3.3.4-3, MQTT-3.3.4-4].
func TestPaho5OverlappingSubscriptions(t *testing.T) {
	ts := startServer(t, testConfig(t))
	sub := connectV5(t, ts, v5Connect("overlap-sub"))
	for _, s := range []struct {
		filter string
		qos    byte
		id     int
	}{{"ov/+", 1, 1}, {"ov/#", 2, 2}, {"ov/x", 0, 0}} {
		ps := &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: s.filter, QoS: s.qos}}}
		if s.id != 0 {
			ps.Properties = &paho.SubscribeProperties{SubscriptionIdentifier: refOf(s.id)}
		}
		sub.subscribeWith(t, ps)
	}
	pub := connectV5(t, ts, v5Connect("overlap-pub"))
	pub.publish(t, &paho.Publish{Topic: "ov/x", QoS: 2, Payload: []byte("once")})
	m := sub.expectMessage(t)
	if m.Topic != "ov/x" || m.QoS != 2 {
		t.Fatalf("got %q at qos %d, want ov/x at qos 2", m.Topic, m.QoS) // [MQTT-3.3.4-2]
	}
	sub.expectFence(t, pub, "ov/fence") // one copy only
	// The fence matches ov/+ and ov/# (not ov/x).
	var pubs []*mqtt.Publish
	for _, p := range tapped[*mqtt.Publish](t, sub.tap) {
		if p.Topic == "ov/x" {
			pubs = append(pubs, p)
		}
	}
	if len(pubs) != 1 {
		t.Fatalf("%d PUBLISH for ov/x on the wire, want 1", len(pubs))
	}
	ids := slices.Sorted(slices.Values(pubs[0].Properties.SubscriptionIdentifiers))
	if !slices.Equal(ids, []uint32{1, 2}) {
		t.Fatalf("Subscription Identifiers %v, want [1 2]", ids) // [MQTT-3.3.4-3, MQTT-3.3.4-4]
	}
}

// TestPaho5NoLocal checks No Local: a client's own messages are not sent
// back to its No Local subscription [MQTT-3.8.3-3].
func TestPaho5NoLocal(t *testing.T) {
	ts := startServer(t, testConfig(t))
	self := connectV5(t, ts, v5Connect("nolocal-self"))
	self.subscribeWith(t, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "nl/t", QoS: 1, NoLocal: true}}})
	self.subscribe(t, "nl/fence", 1)
	other := connectV5(t, ts, v5Connect("nolocal-other"))
	other.subscribe(t, "nl/t", 1)

	self.publish(t, &paho.Publish{Topic: "nl/t", QoS: 1, Payload: []byte("mine")})
	// Others still get it.
	if m := other.expectMessage(t); string(m.Payload) != "mine" {
		t.Fatalf("other got %q", m.Payload)
	}
	// Not sent back [MQTT-3.8.3-3].
	self.expectFence(t, other, "nl/fence")
	other.publish(t, &paho.Publish{Topic: "nl/t", QoS: 1, Payload: []byte("theirs")})
	if m := self.expectMessage(t); string(m.Payload) != "theirs" {
		t.Fatalf("self got %q, want the other client's message", m.Payload)
	}
}

// TestPaho5RetainAsPublished checks the RETAIN flag of forwarded
// messages follows Retain As Published [MQTT-3.3.1-12, MQTT-3.3.1-13].
func TestPaho5RetainAsPublished(t *testing.T) {
	ts := startServer(t, testConfig(t))
	rap := connectV5(t, ts, v5Connect("rap-on"))
	rap.subscribeWith(t, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "rap/t", QoS: 1, RetainAsPublished: true}}})
	plain := connectV5(t, ts, v5Connect("rap-off"))
	plain.subscribe(t, "rap/t", 1)
	pub := connectV5(t, ts, v5Connect("rap-pub"))
	for _, retained := range []bool{true, false} {
		pub.publish(t, &paho.Publish{Topic: "rap/t", QoS: 1, Retain: retained, Payload: []byte("x")})
		if m := rap.expectMessage(t); m.Retain != retained {
			t.Errorf("Retain As Published 1: RETAIN %v, want %v", m.Retain, retained) // [MQTT-3.3.1-13]
		}
		if m := plain.expectMessage(t); m.Retain {
			t.Errorf("Retain As Published 0: RETAIN set") // [MQTT-3.3.1-12]
		}
	}
}

// TestPaho5RetainedMessages checks retained messages: delivered on
// subscribe as Retain Handling says, replaced, and deleted by an empty
// payload.
func TestPaho5RetainedMessages(t *testing.T) {
	ts := startServer(t, testConfig(t))
	pub := connectV5(t, ts, v5Connect("ret-pub"))
	pub.publish(t, &paho.Publish{Topic: "ret/t", QoS: 1, Retain: true, Payload: []byte("v1")})

	sub := connectV5(t, ts, v5Connect("ret-sub"))
	sub.subscribe(t, "fence/ret", 1)
	subscribe := func(rh byte) {
		t.Helper()
		sub.subscribeWith(t, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "ret/#", QoS: 1, RetainHandling: rh}}})
	}
	expectRetained := func(payload string) {
		t.Helper()
		m := sub.expectMessage(t)
		if m.Topic != "ret/t" || string(m.Payload) != payload || !m.Retain {
			t.Fatalf("got %q on %q retain %v, want retained %q", m.Payload, m.Topic, m.Retain, payload) // [MQTT-3.3.1-9]
		}
	}

	// Retain Handling 1 on a new subscription sends them [MQTT-3.3.1-10].
	subscribe(1)
	expectRetained("v1")
	// Retain Handling 1 on an existing subscription does not
	// [MQTT-3.3.1-10].
	subscribe(1)
	sub.expectFence(t, pub, "fence/ret")
	// Retain Handling 2 never does [MQTT-3.3.1-11].
	subscribe(2)
	sub.expectFence(t, pub, "fence/ret")
	// Retain Handling 0 always does [MQTT-3.3.1-9].
	subscribe(0)
	expectRetained("v1")
	subscribe(0)
	expectRetained("v1")

	// A new retained message replaces the old one [MQTT-3.3.1-5]; the
	// current subscriber gets it as a normal message [MQTT-3.3.1-12].
	pub.publish(t, &paho.Publish{Topic: "ret/t", QoS: 1, Retain: true, Payload: []byte("v2")})
	if m := sub.expectMessage(t); string(m.Payload) != "v2" || m.Retain {
		t.Fatalf("got %q retain %v, want v2 without RETAIN", m.Payload, m.Retain)
	}
	subscribe(0)
	expectRetained("v2")
	sub.expectFence(t, pub, "fence/ret") // v1 is gone

	// A retained message with an empty payload deletes it [MQTT-3.3.1-6,
	// MQTT-3.3.1-7], and is still forwarded to current subscribers.
	pub.publish(t, &paho.Publish{Topic: "ret/t", QoS: 1, Retain: true, Payload: nil})
	if m := sub.expectMessage(t); len(m.Payload) != 0 {
		t.Fatalf("got %q, want the empty message", m.Payload)
	}
	subscribe(0)
	sub.expectFence(t, pub, "fence/ret")
	late := connectV5(t, ts, v5Connect("ret-late"))
	late.subscribe(t, "ret/#", 1)
	late.expectFence(t, pub, "ret/fence")
}

// TestPaho5Unsubscribe checks UNSUBACK reason codes, one per filter in
// order [MQTT-3.11.3-1], and that delivery stops [MQTT-3.10.4-2].
func TestPaho5Unsubscribe(t *testing.T) {
	ts := startServer(t, testConfig(t))
	c := connectV5(t, ts, v5Connect("unsub"))
	c.subscribe(t, "u/a", 1)
	c.subscribe(t, "u/fence", 1)
	ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
	defer cancel()
	ua, err := c.Unsubscribe(ctx, &paho.Unsubscribe{Topics: []string{"u/a", "u/none", "u/a"}})
	if err != nil {
		t.Fatalf("unsubscribe: %v", err)
	}
	want := []byte{byte(mqtt.Success), byte(mqtt.NoSubscriptionExisted), byte(mqtt.NoSubscriptionExisted)}
	if !slices.Equal(ua.Reasons, want) {
		t.Fatalf("UNSUBACK reason codes % X, want % X", ua.Reasons, want) // [MQTT-3.11.3-1]
	}
	c.publish(t, &paho.Publish{Topic: "u/a", QoS: 1, Payload: []byte("x")})
	c.expectFence(t, c, "u/fence") // [MQTT-3.10.4-2]
}

// TestPaho5KeepAlivePing checks a client with keep alive 1 stays
// connected for several keep alive periods by sending PINGREQ, each
// answered by PINGRESP [MQTT-3.12.4-1].
func TestPaho5KeepAlivePing(t *testing.T) {
	ts := startServer(t, testConfig(t))
	c := connectV5(t, ts, &paho.Connect{ClientID: "pinger", CleanStart: true, KeepAlive: 1})
	c.subscribe(t, "ping/t", 0)
	select {
	case <-c.lost:
		t.Fatalf("connection lost while pinging")
	case <-time.After(3 * time.Second):
	}
	if n := len(tapped[*mqtt.Pingresp](t, c.tap)); n == 0 {
		t.Fatalf("no PINGRESP in 3 keep alive periods") // [MQTT-3.12.4-1]
	}
	c.publish(t, &paho.Publish{Topic: "ping/t", Payload: []byte("alive")})
	if m := c.expectMessage(t); string(m.Payload) != "alive" {
		t.Fatalf("got %q", m.Payload)
	}
}

// TestPaho5KeepAliveTimeout checks a client silent for one and a half
// keep alive periods is disconnected [MQTT-3.1.2-22]: a v5 client gets
// DISCONNECT 0x8D first (4.13), a 3.1.1 client just the close. The
// silent client is a raw socket: a client library would ping.
func TestPaho5KeepAliveTimeout(t *testing.T) {
	ts := startServer(t, testConfig(t))
	for _, v := range []mqtt.Version{mqtt.V5, mqtt.V311} {
		t.Run(v.String(), func(t *testing.T) {
			nc := dial(t, ts, "tcp")
			nc.SetDeadline(time.Now().Add(eventTimeout))
			connect := &mqtt.Connect{ProtocolName: "MQTT", Version: v, CleanStart: true, KeepAlive: 1, ClientID: "silent-" + v.String()}
			if err := mqtt.WritePacket(nc, connect, v); err != nil {
				t.Fatalf("writing CONNECT: %v", err)
			}
			rd := mqtt.NewReader(nc, 0, nil)
			p, err := rd.ReadPacket(v)
			if ack, ok := p.(*mqtt.Connack); err != nil || !ok || ack.ReasonCode != 0 {
				t.Fatalf("CONNACK: %v %v", p, err)
			}
			// Nothing more is sent.
			p, err = rd.ReadPacket(v)
			if v == mqtt.V5 {
				d, ok := p.(*mqtt.Disconnect)
				if err != nil || !ok {
					t.Fatalf("got %v, %v; want DISCONNECT", p, err)
				}
				if d.ReasonCode != mqtt.KeepAliveTimeout {
					t.Fatalf("DISCONNECT %v, want keep alive timeout (0x8D)", d.ReasonCode) // [MQTT-3.1.2-22]
				}
				p, err = rd.ReadPacket(v)
			}
			if !errors.Is(err, io.EOF) {
				t.Fatalf("got %v, %v; want the connection closed", p, err) // [MQTT-3.1.2-22]
			}
		})
	}
}

// TestPaho5GracefulShutdown checks a stopping server sends v5 clients
// DISCONNECT 0x8B (Server shutting down) and closes 3.1.1 clients (4.13).
func TestPaho5GracefulShutdown(t *testing.T) {
	ts := startServer(t, testConfig(t))
	c5 := connectV5(t, ts, v5Connect("shutdown-5"))
	c3 := connectV3(t, ts, "shutdown-3", nil)
	ts.cancel()
	d := c5.expectServerDisconnect(t)
	if d.ReasonCode != byte(mqtt.ServerShuttingDown) {
		t.Fatalf("DISCONNECT 0x%02X, want 0x8B", d.ReasonCode)
	}
	c3.expectLost(t)
}
