package gateway

// Integration tests with the paho.mqtt.golang MQTT 3.1.1 client over TCP,
// and between 3.1.1 and 5 clients. Citations without a version are of
// MQTT 3.1.1 here unless they say "5.0".

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"edgemq/mqtt"

	"github.com/eclipse/paho.golang/paho"
	mqtt3 "github.com/eclipse/paho.mqtt.golang"
	packets3 "github.com/eclipse/paho.mqtt.golang/packets"
)

// TestPaho3Auth checks static users and anonymous access with 3.1.1
// return codes.
func TestPaho3Auth(t *testing.T) {
	ts := startServer(t, authConfig(t))
	rows := []struct {
		name     string
		listener string
		user     string
		password string
		want     byte
	}{
		{"good password", "tcp", "alice", "secret", packets3.Accepted},
		{"good password without anonymous", "closed", "alice", "secret", packets3.Accepted},
		{"bad password", "tcp", "alice", "wrong", packets3.ErrRefusedBadUsernameOrPassword},
		{"unknown user", "tcp", "mallory", "secret", packets3.ErrRefusedBadUsernameOrPassword},
		{"anonymous allowed", "tcp", "", "", packets3.Accepted},
		{"anonymous refused", "closed", "", "", packets3.ErrRefusedNotAuthorised},
	}
	for i, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			_, ct, err := dialV3(t, ts, fmt.Sprintf("auth3-%d", i), func(o *mqtt3.ClientOptions) {
				if row.user != "" {
					o.SetUsername(row.user).SetPassword(row.password)
				}
			}, viaListener(row.listener))
			// The return code says why (table 3.1, 3.2.2.3).
			if rc := ct.ReturnCode(); rc != row.want {
				t.Fatalf("return code %d (%v), want %d", rc, err, row.want)
			}
			if row.want == packets3.Accepted {
				if err != nil {
					t.Fatalf("connect: %v", err)
				}
				return
			}
			if !errors.Is(err, packets3.ConnErrors[row.want]) {
				t.Errorf("error %v, want %v", err, packets3.ConnErrors[row.want])
			}
			if ct.SessionPresent() {
				t.Errorf("Session Present 1 on a refusal") // [MQTT-3.2.2-4]
			}
		})
	}
}

// TestPaho3ClientID checks 3.1.1 client identifier rules.
func TestPaho3ClientID(t *testing.T) {
	ts := startServer(t, clientIDConfig(t))
	rows := []struct {
		name  string
		id    string
		clean bool
		want  byte
	}{
		{"valid", "sensor-3", true, packets3.Accepted},
		// An empty id is accepted with clean session [MQTT-3.1.3-6, MQTT-3.1.3-7] ...
		{"empty with clean session", "", true, packets3.Accepted},
		// ... and refused with return code 2 without [MQTT-3.1.3-8].
		{"empty without clean session", "", false, packets3.ErrRefusedIDRejected},
		// The server may refuse ids it does not accept, with 2 [MQTT-3.1.3-9].
		{"too long", strings.Repeat("a", 21), true, packets3.ErrRefusedIDRejected},
		{"pattern mismatch", "Sensor-3", true, packets3.ErrRefusedIDRejected},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			_, ct, err := dialV3(t, ts, row.id, func(o *mqtt3.ClientOptions) { o.SetCleanSession(row.clean) })
			if rc := ct.ReturnCode(); rc != row.want {
				t.Fatalf("return code %d (%v), want %d", rc, err, row.want)
			}
			if (err == nil) != (row.want == packets3.Accepted) {
				t.Fatalf("connect error %v with return code %d", err, row.want)
			}
		})
	}
}

// TestPaho3Sessions checks 3.1.1 persistent sessions: Session Present,
// subscriptions and QoS 1 messages kept while offline, clean session
// discarding them, and takeover.
func TestPaho3Sessions(t *testing.T) {
	ts := startServer(t, testConfig(t))
	persistent := func(o *mqtt3.ClientOptions) { o.SetCleanSession(false) }

	sub := connectV3(t, ts, "v3-persist", persistent)
	sub.subscribe(t, "p3/#", 1)
	sub.Disconnect(250)
	waitConnections(t, ts, 0)

	pub := connectV3(t, ts, "v3-persist-pub", nil)
	pub.publish(t, "p3/a", 1, false, "while away")

	sub, ct, err := dialV3(t, ts, "v3-persist", persistent)
	if err != nil {
		t.Fatalf("reconnect: %v", err)
	}
	if !ct.SessionPresent() {
		t.Fatalf("Session Present 0 on resuming a session") // [MQTT-3.2.2-2]
	}
	// The QoS 1 message published while offline is delivered
	// [MQTT-3.1.2-4, MQTT-3.1.2-5].
	if m := sub.expectMessage(t); m.Topic() != "p3/a" || string(m.Payload()) != "while away" || m.Qos() != 1 {
		t.Fatalf("got %q on %q at qos %d, want the queued message", m.Payload(), m.Topic(), m.Qos())
	}

	// Takeover: a second connection with the same id closes the first
	// [MQTT-3.1.4-2].
	twin := connectV3(t, ts, "v3-persist", persistent)
	twin.roundTrip(t)
	sub.expectLost(t)
	// The subscription is still in the resumed session.
	pub.publish(t, "p3/b", 1, false, "to the twin")
	for {
		m := twin.expectMessage(t)
		if m.Topic() == "p3/b" {
			break
		}
		// p3/a again when the first connection's PUBACK had not reached
		// the server: resent with DUP on resuming [MQTT-4.4.0-1,
		// MQTT-3.3.1-1].
		if m.Topic() != "p3/a" || !m.Duplicate() {
			t.Fatalf("twin got %q (dup %v), want p3/b", m.Topic(), m.Duplicate())
		}
	}

	// Clean session discards the session [MQTT-3.1.2-6]: Session Present 0
	// [MQTT-3.2.2-1], and no subscription left.
	twin.Disconnect(250)
	waitConnections(t, ts, 1)
	clean, ct, err := dialV3(t, ts, "v3-persist", nil)
	if err != nil {
		t.Fatalf("clean connect: %v", err)
	}
	if ct.SessionPresent() {
		t.Fatalf("Session Present 1 with clean session") // [MQTT-3.2.2-1]
	}
	clean.subscribe(t, "fence/p3", 1)
	pub.publish(t, "p3/c", 1, false, "nobody")
	clean.expectFence(t, pub, "fence/p3")
}

// TestPaho3Will checks 3.1.1 will messages: published when the network
// connection closes without DISCONNECT [MQTT-3.1.2-8], discarded on
// DISCONNECT [MQTT-3.1.2-10, MQTT-3.14.4-3].
func TestPaho3Will(t *testing.T) {
	ts := startServer(t, testConfig(t))
	watcher := connectV3(t, ts, "v3-will-watcher", nil)
	watcher.subscribe(t, "will3/#", 1)
	rows := []struct {
		name string
		end  func(c *v3Client)
		want bool
	}{
		{"abnormal close", func(c *v3Client) { c.closeRaw() }, true},
		{"normal disconnect", func(c *v3Client) { c.Disconnect(250) }, false},
	}
	for i, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			id := fmt.Sprintf("v3-will-%d", i)
			c := connectV3(t, ts, id, func(o *mqtt3.ClientOptions) { o.SetWill("will3/"+id, "gone: "+id, 1, false) })
			c.roundTrip(t)
			row.end(c)
			waitConnections(t, ts, 1) // the will is routed before this
			if row.want {
				m := watcher.expectMessage(t)
				if m.Topic() != "will3/"+id || string(m.Payload()) != "gone: "+id {
					t.Fatalf("got %q on %q, want the will of %s", m.Payload(), m.Topic(), id)
				}
			}
			watcher.expectFence(t, watcher, "will3/fence")
		})
	}
}

// msgClient is what TestPahoQoSAcrossVersions needs of either client.
type msgClient interface {
	sub(tb testing.TB, filter string, qos byte)
	pub(tb testing.TB, topic string, qos byte, payload string)
	next(tb testing.TB) (topic, payload string, qos byte, retain bool)
}

type v5Msg struct{ *v5Client }

func (c v5Msg) sub(tb testing.TB, filter string, qos byte) { c.subscribe(tb, filter, qos) }
func (c v5Msg) pub(tb testing.TB, topic string, qos byte, payload string) {
	c.publish(tb, &paho.Publish{Topic: topic, QoS: qos, Payload: []byte(payload)})
}
func (c v5Msg) next(tb testing.TB) (string, string, byte, bool) {
	m := c.expectMessage(tb)
	return m.Topic, string(m.Payload), m.QoS, m.Retain
}

type v3Msg struct{ *v3Client }

func (c v3Msg) sub(tb testing.TB, filter string, qos byte) {
	tb.Helper()
	if got := c.subscribe(tb, filter, qos); got != qos {
		tb.Fatalf("granted qos %d, want %d", got, qos) // (3.9.3)
	}
}
func (c v3Msg) pub(tb testing.TB, topic string, qos byte, payload string) {
	c.publish(tb, topic, qos, false, payload)
}
func (c v3Msg) next(tb testing.TB) (string, string, byte, bool) {
	m := c.expectMessage(tb)
	return m.Topic(), string(m.Payload()), m.Qos(), m.Retained()
}

// TestPahoQoSAcrossVersions checks QoS 0, 1 and 2 end to end between
// every pair of 3.1.1 and 5 clients: each message arrives once, at the
// lower of the published and granted QoS [MQTT-3.8.4-6 (5.0:
// MQTT-3.8.4-8)], without RETAIN [MQTT-3.3.1-9 (5.0: MQTT-3.3.1-12)].
func TestPahoQoSAcrossVersions(t *testing.T) {
	ts := startServer(t, testConfig(t))
	clients := map[string]func(id string) msgClient{
		"3.1.1": func(id string) msgClient { return v3Msg{connectV3(t, ts, id, nil)} },
		"5.0":   func(id string) msgClient { return v5Msg{connectV5(t, ts, v5Connect(id))} },
	}
	for _, pv := range []string{"3.1.1", "5.0"} {
		for _, sv := range []string{"3.1.1", "5.0"} {
			t.Run(pv+" to "+sv, func(t *testing.T) {
				prefix := fmt.Sprintf("x/%s/%s", pv, sv)
				pub := clients[pv]("pub-" + pv + "-" + sv)
				subs := make([]msgClient, 3)
				for q := range subs {
					subs[q] = clients[sv](fmt.Sprintf("sub-%s-%s-%d", pv, sv, q))
					subs[q].sub(t, fmt.Sprintf("%s/%d/#", prefix, q), byte(q))
				}
				for pq := byte(0); pq <= 2; pq++ {
					for sq := byte(0); sq <= 2; sq++ {
						topic := fmt.Sprintf("%s/%d/%d", prefix, sq, pq)
						payload := fmt.Sprintf("qos %d to %d", pq, sq)
						pub.pub(t, topic, pq, payload)
						gotTopic, gotPayload, gotQoS, retain := subs[sq].next(t)
						if gotTopic != topic || gotPayload != payload {
							t.Fatalf("got %q on %q, want %q on %q", gotPayload, gotTopic, payload, topic)
						}
						if want := min(pq, sq); gotQoS != want {
							t.Errorf("%s: delivered at qos %d, want %d", topic, gotQoS, want)
						}
						if retain {
							t.Errorf("%s: RETAIN set on a forwarded message", topic)
						}
					}
				}
				// Exactly once each: the next message is the fence.
				for q, s := range subs {
					fence := fmt.Sprintf("%s/%d/fence", prefix, q)
					pub.pub(t, fence, 1, "fence")
					if topic, _, _, _ := s.next(t); topic != fence {
						t.Fatalf("got %q, want the fence %q", topic, fence)
					}
				}
			})
		}
	}
}

// TestPaho3Retained checks retained messages reach a 3.1.1 subscriber
// with RETAIN 1 on subscribe [MQTT-3.3.1-8] and RETAIN 0 when forwarded
// live [MQTT-3.3.1-9], and that an empty retained message deletes it
// [MQTT-3.3.1-10, MQTT-3.3.1-11].
func TestPaho3Retained(t *testing.T) {
	ts := startServer(t, testConfig(t))
	pub := connectV3(t, ts, "r3-pub", nil)
	pub.publish(t, "r3/t", 1, true, "kept")

	sub := connectV3(t, ts, "r3-sub", nil)
	sub.subscribe(t, "r3/#", 1)
	if m := sub.expectMessage(t); m.Topic() != "r3/t" || string(m.Payload()) != "kept" || !m.Retained() {
		t.Fatalf("got %q retained %v, want the retained message", m.Payload(), m.Retained()) // [MQTT-3.3.1-8]
	}
	pub.publish(t, "r3/t", 1, true, "live")
	if m := sub.expectMessage(t); string(m.Payload()) != "live" || m.Retained() {
		t.Fatalf("got %q retained %v, want live without RETAIN", m.Payload(), m.Retained()) // [MQTT-3.3.1-9]
	}
	pub.publish(t, "r3/t", 1, true, "")
	sub.expectMessage(t) // the empty message is forwarded too
	late := connectV3(t, ts, "r3-late", nil)
	late.subscribe(t, "r3/#", 1)
	late.expectFence(t, pub, "r3/fence") // [MQTT-3.3.1-10]
}

// TestPaho3Subscriptions checks 3.1.1 SUBACK return codes on a listener
// with a Maximum QoS of 1 and no wildcards: granted QoS capped
// [MQTT-3.8.4-6 allows lower], refused filters 0x80 (3.9.3), and the $
// rule [MQTT-4.7.2-1].
func TestPaho3Subscriptions(t *testing.T) {
	ts := startServer(t, profilesConfig(t))
	// A 3.1.1 keep alive must be within the listener's bounds: it cannot
	// be told a Server Keep Alive.
	browserKA := func(o *mqtt3.ClientOptions) { o.SetKeepAlive(10 * time.Second) }
	c := connectV3(t, ts, "v3-subs", browserKA, viaListener("browser"))
	if got := c.subscribe(t, "s3/t", 2); got != 1 {
		t.Errorf("granted qos %d, want 1 (maximum_qos)", got)
	}
	if got := c.subscribe(t, "s3/+", 1); got != mqtt.SubackFailureV3 {
		t.Errorf("wildcard filter: return code 0x%02X, want 0x80", got)
	}

	d := connectV3(t, ts, "v3-dollar", nil)
	d.subscribe(t, "#", 1)
	// Clients may not publish under $SYS (sys.go): another $ topic.
	d.subscribe(t, "$app/#", 1)
	pub := connectV3(t, ts, "v3-dollar-pub", nil)
	pub.publish(t, "$app/x", 1, false, "sys")
	if m := d.expectMessage(t); m.Topic() != "$app/x" {
		t.Fatalf("got %q, want $app/x", m.Topic())
	}
	// Matched by $app/# only: one copy, and the next one is the fence.
	d.expectFence(t, pub, "fence/d3")
}

// TestPaho3QoSAboveMaximumCloses checks a 3.1.1 client publishing above
// the listener's Maximum QoS is disconnected: 3.1.1 cannot be told the
// limit, and has no DISCONNECT from the server (4.8).
func TestPaho3QoSAboveMaximumCloses(t *testing.T) {
	ts := startServer(t, profilesConfig(t))
	c := connectV3(t, ts, "v3-qos2", func(o *mqtt3.ClientOptions) { o.SetKeepAlive(10 * time.Second) }, viaListener("browser"))
	c.Publish("q3", 2, false, "x").WaitTimeout(time.Second)
	c.expectLost(t)
}

// TestPaho3KeepAlivePing checks a 3.1.1 client with keep alive 1 stays
// connected over several periods by pinging [MQTT-3.1.2-23, MQTT-3.12.4-1].
func TestPaho3KeepAlivePing(t *testing.T) {
	ts := startServer(t, testConfig(t))
	c := connectV3(t, ts, "v3-pinger", func(o *mqtt3.ClientOptions) {
		o.SetKeepAlive(time.Second).SetPingTimeout(5 * time.Second)
	})
	c.subscribe(t, "ping3", 0)
	select {
	case err := <-c.lost:
		t.Fatalf("connection lost: %v", err)
	case <-time.After(3 * time.Second):
	}
	c.publish(t, "ping3", 0, false, "alive")
	if m := c.expectMessage(t); string(m.Payload()) != "alive" {
		t.Fatalf("got %q", m.Payload())
	}
}

// TestPahoWillAcrossVersions checks a v5 will reaches a 3.1.1 subscriber
// [MQTT-3.1.2-8].
func TestPahoWillAcrossVersions(t *testing.T) {
	ts := startServer(t, testConfig(t))
	watcher := connectV3(t, ts, "cross-watcher", nil)
	watcher.subscribe(t, "cross/#", 1)
	c := connectV5(t, ts, willConnect("cross-will", "cross/will", 0, 0))
	c.raw.Close()
	if m := watcher.expectMessage(t); m.Topic() != "cross/will" || m.Qos() != 1 {
		t.Fatalf("got %q at qos %d, want the will at qos 1", m.Topic(), m.Qos()) // [MQTT-3.1.2-8]
	}
}
