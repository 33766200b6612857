package gateway

// Issue 18 parts 2, 3 and 8: per-client quotas, each refused with 0x97
// Quota exceeded (v5) or what 3.1.1 allows, and a retained topic longer
// than the store holds refused before it reaches the store.

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"edgemq/configs"
	"edgemq/gateway/broker"
	"edgemq/gateway/store"
	"edgemq/mqtt"

	"github.com/eclipse/paho.golang/paho"
	mqtt3 "github.com/eclipse/paho.mqtt.golang"
)

// TestSubscriptionQuota checks session.max_subscriptions and
// max_subscription_bytes: filters over either get 0x97 in SUBACK (3.1.1:
// 0x80), replacing a filter the session holds always works, and what
// UNSUBSCRIBE frees can be taken again.
func TestSubscriptionQuota(t *testing.T) {
	for _, tc := range []struct {
		name           string
		count, bytes   int
		first          []string // subscribed in one SUBSCRIBE
		want           []byte   // its SUBACK
		freed, retaken string   // unsubscribed, then subscribed with another
		v3Refused      int      // of x, y, z, w by a 3.1.1 client
		kind           string   // the quota label
	}{
		{"count", 3, 0, []string{"a", "b", "c", "d", "e"}, []byte{1, 1, 1, 0x97, 0x97}, "b", "d", 1, "subscriptions"},
		{"bytes", 0, 10, []string{"aaaa", "bbbb", "cc", "d"}, []byte{1, 1, 1, 0x97}, "bbbb", "dddd", 0, "subscription_bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t)
			cfg.Session.MaxSubscriptions, cfg.Session.MaxSubscriptionBytes = tc.count, tc.bytes
			cfg.Ops.Address = "127.0.0.1:0"
			ts := startServer(t, cfg)

			c := connectV5(t, ts, v5Connect("sq-v5"))
			ctx, cancel := context.WithTimeout(t.Context(), eventTimeout)
			defer cancel()
			subs := func(filters ...string) []byte {
				t.Helper()
				s := &paho.Subscribe{}
				for _, f := range filters {
					s.Subscriptions = append(s.Subscriptions, paho.SubscribeOptions{Topic: f, QoS: 1})
				}
				sa, err := c.Subscribe(ctx, s)
				if sa == nil {
					t.Fatalf("subscribe %v: %v", filters, err)
				}
				return sa.Reasons
			}
			// [MQTT-3.9.3-1] one code per filter; 0x97 Quota exceeded (3.9.3).
			if got := subs(tc.first...); !slices.Equal(got, tc.want) {
				t.Errorf("SUBACK %x, want %x", got, tc.want)
			}
			if got := subs(tc.first[0]); !slices.Equal(got, []byte{1}) {
				t.Errorf("re-subscribing a held filter at the quota: %x, want granted", got)
			}
			refusals := 2 // the first SUBACK's last filter, and the one below
			if got := subs(tc.retaken); !slices.Equal(got, []byte{0x97}) {
				t.Errorf("%q before UNSUBSCRIBE: %x, want 97", tc.retaken, got)
			}
			if tc.want[len(tc.want)-2] == 0x97 {
				refusals++
			}
			ua, err := c.Unsubscribe(ctx, &paho.Unsubscribe{Topics: []string{tc.freed}})
			if err != nil || ua.Reasons[0] != 0 {
				t.Fatalf("unsubscribe: %v %v", ua, err)
			}
			if got := subs(tc.retaken); !slices.Equal(got, []byte{1}) {
				t.Errorf("%q after UNSUBSCRIBE: %x, want granted", tc.retaken, got)
			}

			if tc.count > 0 {
				v3 := connectV3(t, ts, "sq-v3", nil)
				tok := v3.SubscribeMultiple(map[string]byte{"x": 1, "y": 1, "z": 1, "w": 1}, nil)
				waitToken(t, "v3 subscribe", tok)
				res := tok.(*mqtt3.SubscribeToken).Result()
				refused := 0
				for _, code := range res {
					if code == mqtt.SubackFailureV3 { // [MQTT-3.9.3-2] 0x80 Failure
						refused++
					}
				}
				if refused != tc.v3Refused {
					t.Errorf("v3 SUBACK %v: %d refused, want %d", res, refused, tc.v3Refused)
				}
				refusals += refused
			}
			if n := metricValue(scrape(t, ts), "edgemq_quota_refused_total", "quota", tc.kind); n != float64(refusals) {
				t.Errorf("edgemq_quota_refused_total{quota=%s} = %v, want %d", tc.kind, n, refusals)
			}
		})
	}
}

// TestSessionQuota checks session.max_sessions_per_ip and
// max_sessions_per_user: a session counts while it exists (a persistent
// one after its client left too), a CONNECT over the quota gets CONNACK
// 0x97 (3.1.1: return code 3), resuming a held session always works, and
// an ended session frees its place.
func TestSessionQuota(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  func(*configs.Config)
		user string
		kind broker.QuotaKind
	}{
		{"per ip", func(c *configs.Config) { c.Session.MaxSessionsPerIP = 2 }, "", broker.QuotaSessionsPerIP},
		{"per user", func(c *configs.Config) { c.Session.MaxSessionsPerUser = 2 }, "alice", broker.QuotaSessionsPerUser},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t)
			tc.set(cfg)
			cfg.Auth.Users = []configs.User{{Username: "alice", PasswordHash: bcryptHash(t, "pw")}}
			cfg.Listeners[0].AllowAnonymous = refOf(true)
			ts := startServer(t, cfg)
			cp := func(id string, expiry uint32, clean bool) *paho.Connect {
				p := &paho.Connect{ClientID: id, CleanStart: clean, KeepAlive: 60,
					Properties: &paho.ConnectProperties{SessionExpiryInterval: refOf(expiry)}}
				if tc.user != "" {
					p.Username, p.UsernameFlag, p.Password, p.PasswordFlag = tc.user, true, []byte("pw"), true
				}
				return p
			}
			kept := connectV5(t, ts, cp("ses-kept", 3600, true))
			kept.roundTrip(t)
			kept.Disconnect(&paho.Disconnect{}) // its session stays, and counts
			waitConnections(t, ts, 0)
			short := connectV5(t, ts, cp("ses-short", 0, true))
			short.roundTrip(t)

			_, ack, err := dialV5(t, ts, cp("ses-third", 0, true))
			if err == nil || ack == nil || ack.ReasonCode != byte(mqtt.QuotaExceeded) {
				t.Fatalf("third session: connack %+v, err %v; want 0x97 Quota exceeded", ack, err)
			}
			_, ct, err := dialV3(t, ts, "ses-third-v3", func(o *mqtt3.ClientOptions) {
				if tc.user != "" {
					o.SetUsername(tc.user).SetPassword("pw")
				}
			})
			// 3.1.1 table 3.1: 0x03 Server unavailable.
			if err == nil || ct.ReturnCode() != mqtt.ConnRefusedServerUnavailable {
				t.Fatalf("third session, 3.1.1: return code %d, err %v; want 3", ct.ReturnCode(), err)
			}
			if tc.user != "" {
				// Clients without a user name are not counted by user.
				anon := connectV5(t, ts, v5Connect("ses-anon"))
				anon.roundTrip(t)
			}
			// Resuming a session held already works at the quota.
			back := connectV5(t, ts, cp("ses-kept", 3600, false))
			if !back.connack.SessionPresent {
				t.Error("resumed session not present")
			}
			// An ended session frees its place.
			short.Disconnect(&paho.Disconnect{})
			left := 1 // ses-kept
			if tc.user != "" {
				left++ // ses-anon
			}
			eventually(t, "the short session to end", func() bool { return ts.eng.Broker().SessionCount() == left })
			third := connectV5(t, ts, cp("ses-third", 0, true))
			third.roundTrip(t)
			if n := ts.eng.Broker().Quotas().Refused(tc.kind); n != 2 {
				t.Errorf("%d refusals counted, want 2", n)
			}
		})
	}
}

// publishCode publishes p and returns the reason code of its PUBACK or
// PUBREC.
func publishCode(tb testing.TB, c *v5Client, p *paho.Publish) byte {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
	defer cancel()
	r, err := c.Publish(ctx, p)
	if r == nil {
		tb.Fatalf("publish to %.40q: %v; the server sent %s", p.Topic, err, c.wire(tb))
	}
	return r.ReasonCode
}

// TestRetainedQuota checks retained.max_per_client: a retained PUBLISH
// that would make a new topic over the client's quota is refused with
// PUBACK/PUBREC 0x97 (v5) and neither stored nor delivered; a 3.1.1
// client gets its normal acknowledgement [MQTT-3.3.5-2] and the message
// is dropped; replacing and deleting always work, and a deleted topic
// frees its place.
func TestRetainedQuota(t *testing.T) {
	cfg := testConfig(t)
	cfg.Retained.MaxPerClient = 2
	ts := startServer(t, cfg)
	live := connectV5(t, ts, v5Connect("rq-live"))
	live.subscribe(t, "rq/#", 1)
	pub := connectV5(t, ts, v5Connect("rq-pub"))
	ret := func(topic string, qos byte, payload string) byte {
		return publishCode(t, pub, &paho.Publish{Topic: topic, QoS: qos, Retain: true, Payload: []byte(payload)})
	}
	for _, tc := range []struct {
		topic   string
		qos     byte
		payload string
		want    byte
	}{
		{"rq/1", 1, "a", 0},
		{"rq/2", 1, "b", 0},
		{"rq/3", 1, "c", 0x97}, // over the quota: 0x97 (3.4.2.1, 3.5.2.1)
		{"rq/3", 2, "c", 0x97},
		{"rq/1", 1, "a2", 0}, // replacing works
		{"rq/2", 1, "", 0},   // deleting works...
		{"rq/3", 2, "c", 0},  // ...and frees a place
	} {
		if got := ret(tc.topic, tc.qos, tc.payload); got != tc.want {
			t.Errorf("retained %q qos %d %q: reason 0x%02x, want 0x%02x", tc.topic, tc.qos, tc.payload, got, tc.want)
		}
	}
	// Live: everything accepted, nothing refused, in order.
	var got []string
	for range 5 {
		m := live.expectMessage(t)
		got = append(got, m.Topic+"="+string(m.Payload))
	}
	if want := []string{"rq/1=a", "rq/2=b", "rq/1=a2", "rq/2=", "rq/3=c"}; !slices.Equal(got, want) {
		t.Errorf("live subscriber got %v, want %v", got, want)
	}
	other := connectV5(t, ts, v5Connect("rq-other"))
	if c := publishCode(t, other, &paho.Publish{Topic: "rq/other", QoS: 1, Retain: true, Payload: []byte("o")}); c != 0 {
		t.Errorf("another client's retained publish: 0x%02x", c)
	}

	v3 := connectV3(t, ts, "rq-v3", nil)
	for _, topic := range []string{"rq3/1", "rq3/2", "rq3/3"} {
		v3.publish(t, topic, 1, true, "x") // all acknowledged [MQTT-3.3.5-2]
	}
	v3.roundTrip(t) // still connected
	if got, want := retainedTopics(ts.eng.Broker().RetainedMatch("#", time.Now())), []string{"rq/1", "rq/3", "rq/other", "rq3/1", "rq3/2"}; !slices.Equal(got, want) {
		t.Errorf("retained topics %v, want %v", got, want)
	}
	if n := ts.eng.Broker().Quotas().Refused(broker.QuotaRetainedPerClient); n != 3 {
		t.Errorf("%d refusals counted, want 3", n)
	}
}

// TestRetainedTopicTooLong checks that a retained topic longer than the
// store holds (store.MaxRetainedTopic, bbolt's key limit) is refused
// before it reaches the store: 0x97 to a v5 publisher, which stays
// connected; a 3.1.1 publisher gets its normal PUBACK and the message is
// dropped; other clients publishing at the same time are never
// disconnected and every message acknowledged to them is stored. Before,
// the write failed the group commit and every client in it got
// DISCONNECT 0x80.
func TestRetainedTopicTooLong(t *testing.T) {
	cfg := testConfig(t)
	cfg.Retained.MaxBytes = 0
	srv, stop := runFor(t, cfg)
	addr := srv.Addr("tcp").String()
	ts := &testServer{Server: srv}
	long := strings.Repeat("L", store.MaxRetainedTopic+1)

	const publishers, each = 4, 50
	var wg sync.WaitGroup
	errs := make(chan error, publishers)
	start := make(chan struct{})
	for i := range publishers {
		c, _ := crashClient(t, addr, &paho.Connect{ClientID: fmt.Sprintf("good-%d", i), CleanStart: true, KeepAlive: 60}, nil)
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for n := range each {
				ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
				_, err := c.Publish(ctx, &paho.Publish{Topic: fmt.Sprintf("good/%d/%d", i, n), QoS: 1, Retain: true, Payload: []byte("g")})
				cancel()
				if err != nil {
					errs <- fmt.Errorf("good-%d message %d: %w", i, n, err)
					return
				}
			}
		}()
	}
	bad := connectV5(t, ts, v5Connect("bad-v5"))
	close(start)
	for range 5 {
		if c := publishCode(t, bad, &paho.Publish{Topic: long, QoS: 1, Retain: true, Payload: []byte("x")}); c != byte(mqtt.QuotaExceeded) {
			t.Fatalf("long retained topic: reason 0x%02x, want 0x97", c)
		}
	}
	// The same topic without retain is delivered as usual: only the
	// store cannot hold it.
	if c := publishCode(t, bad, &paho.Publish{Topic: long, QoS: 1, Payload: []byte("x")}); c != byte(mqtt.NoMatchingSubscribers) {
		t.Errorf("long topic without retain: reason 0x%02x, want 0x10", c)
	}
	v3 := connectV3(t, ts, "bad-v3", nil)
	v3.publish(t, long, 1, true, "x") // [MQTT-3.3.5-2] a positive acknowledgement
	v3.roundTrip(t)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := ts.eng.Broker().Quotas().Refused(broker.QuotaRetainedTopic); n != 6 {
		t.Errorf("%d refusals counted, want 6", n)
	}
	bad.roundTrip(t) // still connected
	stop()

	cfg.Listeners[0].Address = addr
	srv, stop = runFor(t, cfg)
	defer stop()
	if n := len(srv.eng.Broker().RetainedMatch("good/#", time.Now())); n != publishers*each {
		t.Errorf("%d retained messages after the restart, want the %d acknowledged", n, publishers*each)
	}
}

// retainedTopics returns the topics of ms, sorted.
func retainedTopics(ms []*broker.Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Publish().Topic)
	}
	slices.Sort(out)
	return out
}
