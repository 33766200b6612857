package gateway

// Per-client publish rate limits (ratelimit.go) over real sockets: raw
// codec clients on two listeners, one with a limited profile. No upper
// bound on time is asserted: the throttled client is shown to lag by
// counting what the subscriber received, and the only time assertion is a
// lower bound the token bucket implies.

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"edgemq/configs"
	"edgemq/mqtt"

	"github.com/golang-jwt/jwt/v5"
)

// rateConfig returns a config with listener "tcp" on profile "slow"
// (publish_rate pr) and an unlimited listener "fast".
func rateConfig(tb testing.TB, pr configs.PublishRate) *configs.Config {
	tb.Helper()
	cfg := testConfig(tb)
	cfg.Profiles = map[string]configs.Profile{"slow": {PublishRate: &pr}}
	cfg.Listeners[0].Profile = "slow"
	cfg.Listeners = append(cfg.Listeners, configs.Listener{Name: "fast", Type: "tcp", Address: "127.0.0.1:0"})
	cfg.Store.Durability = "memory"
	// The subscriber reads 2000 QoS 0 messages one by one: none may be
	// dropped for its queue.
	cfg.Session.MaxOutboundQueue = 1 << 20
	return cfg
}

// publishes returns n QoS 1 PUBLISH packets to topic with ids from 1 and
// payloads of size bytes.
func publishes(topic string, n, size int) []mqtt.Packet {
	out := make([]mqtt.Packet, n)
	for i := range out {
		p := fmt.Sprintf("%d:", i)
		out[i] = &mqtt.Publish{Topic: topic, QoS: 1, PacketID: uint16(i + 1), Payload: []byte(p + strings.Repeat("x", max(0, size-len(p))))}
	}
	return out
}

// One client over its publish_rate is throttled by backpressure while a
// client on an unlimited listener is not: all of B's 2000 messages reach
// the subscriber while A's 60 are still trickling in, and A's 60 take at
// least what the bucket allows (59 tokens at 20/s: 2.95s).
func TestPublishRateThrottlesOneClient(t *testing.T) {
	tests := []struct {
		name string
		pr   configs.PublishRate
		size int
	}{
		{"messages", configs.PublishRate{MessagesPerSecond: 20, MessagesBurst: 1}, 10},
		// 100-byte payloads at 2000 bytes/s, burst 100: 20 messages/s.
		{"bytes", configs.PublishRate{BytesPerSecond: 2000, BytesBurst: 100}, 100},
	}
	const nA, nB = 60, 2000
	minA := time.Duration(float64(nA-1)/20*float64(time.Second)) - 50*time.Millisecond
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := startServer(t, rateConfig(t, tt.pr))
			sub, _ := dialSess(t, ts, "fast", sessConnect(mqtt.V5, "sub", true, 0))
			sub.subscribe(t, "rate/#", 0, mqtt.GrantedQoS0)
			a, _ := dialSess(t, ts, "tcp", sessConnect(mqtt.V5, "a", true, 0))
			b, _ := dialSess(t, ts, "fast", sessConnect(mqtt.V5, "b", true, 0))

			start := time.Now()
			a.send(t, publishes("rate/a", nA, tt.size)...)
			b.send(t, publishes("rate/b", nB, tt.size)...)
			gotA, gotB := 0, 0
			aWhenBDone := -1
			for gotA < nA || gotB < nB {
				p := nextOf[*mqtt.Publish](t, sub)
				switch p.Topic {
				case "rate/a":
					gotA++
				case "rate/b":
					gotB++
				}
				if gotB == nB && aWhenBDone < 0 {
					aWhenBDone = gotA
				}
			}
			took := time.Since(start)
			if aWhenBDone >= nA {
				t.Errorf("all of A's %d messages arrived before B's %d: A was not throttled", nA, nB)
			}
			if took < minA {
				t.Errorf("A's %d messages arrived in %v, faster than the bucket allows (%v)", nA, took, minA)
			}
			if n := ts.Stats().RateLimited[configs.RateBackpressure]; n < nA/2 {
				t.Errorf("rate limited (backpressure) = %d, want at least %d", n, nA/2)
			}
			// A is still served: its acknowledgements all come.
			for range nA {
				nextOf[*mqtt.Puback](t, a)
			}
			t.Logf("A's %d arrived after %v; %d of them before B's %d were all in", nA, took, aWhenBDone, nB)
		})
	}
}

// With action disconnect, a v5 client over its rate gets DISCONNECT 0x96
// Message rate too high; a 3.1.1 client is closed.
func TestPublishRateDisconnect(t *testing.T) {
	pr := configs.PublishRate{MessagesPerSecond: 0.5, MessagesBurst: 2, Action: configs.RateDisconnect}
	cfg := rateConfig(t, pr)
	cfg.Ops.Address = "127.0.0.1:0"
	ts := startServer(t, cfg)
	for _, v := range []mqtt.Version{mqtt.V5, mqtt.V311} {
		t.Run(v.String(), func(t *testing.T) {
			c, _ := dialSess(t, ts, "tcp", sessConnect(v, "flood-"+v.String(), true, 0))
			ps := make([]mqtt.Packet, 5)
			for i := range ps {
				ps[i] = &mqtt.Publish{Topic: "flood", Payload: []byte("x")}
			}
			c.send(t, ps...)
			if v == mqtt.V5 {
				d := nextOf[*mqtt.Disconnect](t, c)
				if d.ReasonCode != mqtt.MessageRateTooHigh {
					t.Errorf("DISCONNECT reason %v, want %v", d.ReasonCode, mqtt.MessageRateTooHigh)
				}
			}
			c.expectClosed(t)
		})
	}
	if n := ts.Stats().RateLimited[configs.RateDisconnect]; n != 2 {
		t.Errorf("rate limited (disconnect) = %d, want 2", n)
	}
	mfs := scrape(t, ts)
	for _, m := range []struct {
		listener, action string
		want             float64
	}{{"tcp", "disconnect", 2}, {"tcp", "backpressure", 0}, {"fast", "disconnect", -1}} {
		if got := metricValue(mfs, "edgemq_rate_limited_total", "listener", m.listener, "action", m.action); got != m.want {
			t.Errorf("edgemq_rate_limited_total{listener=%q,action=%q} = %v, want %v", m.listener, m.action, got, m.want)
		}
	}
	// Another client, within the rate, is served.
	ok, _ := dialSess(t, ts, "tcp", sessConnect(mqtt.V5, "calm", true, 0))
	ok.send(t, &mqtt.Publish{Topic: "calm", Payload: []byte("x")})
	ok.ping(t)
}

// The per-user limit of a JWT claim replaces the listener's (unlimited)
// publish_rate; a token without the claim is not limited.
func TestPublishRateFromJWTClaim(t *testing.T) {
	k := newTestKey(t, "HS256", "")
	cfg := testConfig(t)
	cfg.MQTT.PublishRate.Action = configs.RateDisconnect
	jwtConfig(cfg, configs.JWTAuth{SecretFile: k.keyFile(t), RateLimitClaim: "rate_limit", Token: configs.JWTTokenSource{Password: true}})
	ts := startServer(t, cfg)
	connectToken := func(id string, claims jwt.MapClaims) *sessClient {
		cp := sessConnect(mqtt.V5, id, true, 0)
		cp.PasswordFlag, cp.Password = true, []byte(k.sign(t, claims))
		c, _ := dialSess(t, ts, "tcp", cp)
		return c
	}
	flood := make([]mqtt.Packet, 20)
	for i := range flood {
		flood[i] = &mqtt.Publish{Topic: "t", Payload: []byte("x")}
	}
	free := connectToken("free", jwt.MapClaims{"sub": "free"})
	free.send(t, flood...)
	free.ping(t)
	limited := connectToken("limited", jwt.MapClaims{"sub": "limited", "rate_limit": map[string]any{"messages_per_second": 1, "messages_burst": 1}})
	limited.send(t, flood...)
	if d := nextOf[*mqtt.Disconnect](t, limited); d.ReasonCode != mqtt.MessageRateTooHigh {
		t.Errorf("DISCONNECT reason %v, want %v", d.ReasonCode, mqtt.MessageRateTooHigh)
	}
	// A malformed claim refuses the client.
	cp := tokenConnect("bad", k.sign(t, jwt.MapClaims{"sub": "bad", "rate_limit": map[string]any{"messages_per_second": -1}}))
	expectRefused(t, ts, cp, mqtt.NotAuthorized)
}

// The HTTP hook's rate_limit answer is the client's limit.
func TestPublishRateFromHTTPHook(t *testing.T) {
	hook := newHookServer(t, func(req map[string]any, w http.ResponseWriter) {
		if req["username"] == "limited" {
			w.Write([]byte(`{"result":"allow","rate_limit":{"messages_per_second":1,"messages_burst":1}}`))
			return
		}
		w.Write([]byte(`{"result":"allow"}`))
	})
	cfg := testConfig(t)
	cfg.MQTT.PublishRate.Action = configs.RateDisconnect
	cfg.Auth.Backends = map[string]configs.AuthBackend{"hook": {Type: "http", HTTP: configs.HTTPAuth{URL: hook.URL, CacheTTL: time.Minute}}}
	cfg.Listeners[0].Auth = []string{"hook"}
	ts := startServer(t, cfg)
	flood := make([]mqtt.Packet, 20)
	for i := range flood {
		flood[i] = &mqtt.Publish{Topic: "t", Payload: []byte("x")}
	}
	// Twice each: the second answer comes from the cache.
	for range 2 {
		for _, user := range []string{"free", "limited"} {
			cp := sessConnect(mqtt.V5, user, true, 0)
			cp.UsernameFlag, cp.Username = true, user
			c, _ := dialSess(t, ts, "tcp", cp)
			c.send(t, flood...)
			if user == "free" {
				c.ping(t)
				continue
			}
			if d := nextOf[*mqtt.Disconnect](t, c); d.ReasonCode != mqtt.MessageRateTooHigh {
				t.Errorf("%s: DISCONNECT reason %v, want %v", user, d.ReasonCode, mqtt.MessageRateTooHigh)
			}
		}
	}
	if n := hook.calls.Load(); n != 2 {
		t.Errorf("hook called %d times, want 2 (cached)", n)
	}
}

// A backpressured client whose keep alive is shorter than the wait is
// not disconnected for it: the server is the one not reading.
func TestPublishRateBackpressureKeepsAlive(t *testing.T) {
	ts := startServer(t, rateConfig(t, configs.PublishRate{MessagesPerSecond: 2, MessagesBurst: 1}))
	cp := sessConnect(mqtt.V5, "slowpoke", true, 0)
	cp.KeepAlive = 1 // 1.5s of silence would end it
	c, _ := dialSess(t, ts, "tcp", cp)
	// 6 QoS 1 messages at 2/s: 2.5s of waiting, with nothing more sent.
	c.send(t, publishes("ka", 6, 1)...)
	for range 6 {
		nextOf[*mqtt.Puback](t, c)
	}
	c.ping(t)
}
