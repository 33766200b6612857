package gateway

import (
	"errors"
	"math"
	"sync/atomic"
	"time"

	"edgemq/configs"
	"edgemq/gateway/auth"
	"edgemq/gateway/internal/lockorder"
	"edgemq/gateway/logsafe"
	"edgemq/mqtt"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// rateBucket is a token bucket that may go into debt: a cost is let
// through once the bucket holds min(cost, burst) tokens, then taken
// whole, so a message larger than the burst still passes, on average at
// the rate. A zero rate never limits.
type rateBucket struct {
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
}

func newRateBucket(rate float64, burst float64, now time.Time) rateBucket {
	if burst <= 0 {
		burst = max(1, math.Ceil(rate)) // one second's worth
	}
	return rateBucket{rate: rate, burst: burst, tokens: burst, last: now}
}

// need returns how long until cost may be taken: 0 when it may now.
func (b *rateBucket) need(now time.Time, cost float64) time.Duration {
	if b.rate <= 0 {
		return 0
	}
	b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	b.last = now
	short := min(cost, b.burst) - b.tokens
	if short <= 0 {
		return 0
	}
	return time.Duration(short / b.rate * float64(time.Second))
}

// take takes cost (after need), into debt if short.
func (b *rateBucket) take(cost float64) {
	if b.rate > 0 {
		b.tokens -= cost
	}
}

// pubLimiter is one connection's publish rate limit: a message bucket and
// a payload byte bucket. Only the connection's read goroutine uses it. A
// connection without limits has none (nil): nothing is counted or timed.
type pubLimiter struct {
	msgs, bytes rateBucket
	disconnect  bool
	counted     *atomic.Int64 // edgemq_rate_limited_total of the listener and action
	log         *zap.Logger   // the rate limits' (rateLimits.log)
	// timer is made at the first wait and reused.
	timer *time.Timer
}

// rateAction indexes the rate-limited counters.
const (
	rateBackpressure = iota
	rateDisconnect
	rateActions
)

var rateActionNames = [rateActions]string{configs.RateBackpressure, configs.RateDisconnect}

// rateLimits is the server's publish rate limiting state: counters by
// listener and action, and the sampled logger throttled publishes are
// logged to (a flood must not flood the log).
type rateLimits struct {
	log *zap.Logger

	mu   lockorder.Mutex[rateLimitsMu]
	byLn map[string]*[rateActions]atomic.Int64
}

// rateLogSample: per second, the first rateLogFirst entries of each
// message are logged, then none.
const rateLogFirst = 3

func newRateLimits(log *zap.Logger) *rateLimits {
	sampled := log.WithOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core {
		return zapcore.NewSamplerWithOptions(c, time.Second, rateLogFirst, 0)
	}))
	return &rateLimits{log: sampled, byLn: make(map[string]*[rateActions]atomic.Int64)}
}

// counters returns the counters of a listener, made on first use; they
// outlive a configuration reload.
func (r *rateLimits) counters(listener string) *[rateActions]atomic.Int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.byLn[listener]
	if c == nil {
		c = new([rateActions]atomic.Int64)
		r.byLn[listener] = c
	}
	return c
}

// newLimiter returns the publish limiter of a connected client: the
// listener profile's publish_rate with the credential's claims applied;
// nil when neither bucket limits.
func (r *rateLimits) newLimiter(listener string, prof configs.PublishRate, claims *auth.RateLimitClaims) *pubLimiter {
	pr := claims.Apply(prof)
	if !pr.Enabled() {
		return nil
	}
	now := time.Now()
	l := &pubLimiter{
		msgs:       newRateBucket(pr.MessagesPerSecond, float64(pr.MessagesBurst), now),
		bytes:      newRateBucket(pr.BytesPerSecond, float64(pr.BytesBurst), now),
		disconnect: pr.Action == configs.RateDisconnect,
		log:        r.log,
	}
	act := rateBackpressure
	if l.disconnect {
		act = rateDisconnect
	}
	l.counted = &r.counters(listener)[act]
	return l
}

// throttle applies the limiter to an inbound PUBLISH before it is
// handled. With backpressure it waits, reading nothing meanwhile, until
// the buckets allow p (TCP flow control then pushes back on the client);
// the wait ends early when the connection is closed. With disconnect it
// returns 0x96 Message rate too high.
func (c *conn) throttle(p *mqtt.Publish) error {
	l := c.lim
	now := time.Now()
	size := float64(len(p.Payload))
	wait := max(l.msgs.need(now, 1), l.bytes.need(now, size))
	if wait <= 0 {
		l.msgs.take(1)
		l.bytes.take(size)
		return nil
	}
	l.counted.Add(1)
	ch := &c.ch
	if l.disconnect {
		if ce := l.log.Check(zap.InfoLevel, "publish rate too high: disconnecting"); ce != nil {
			ce.Write(zap.String("listener", ch.meta.Listener), logsafe.String("client_id", ch.neg.ClientID), zap.Stringer("remote_addr", ch.meta.RemoteAddr))
		}
		// 0x96 Message rate too high is a DISCONNECT reason code of the
		// server (3.14.2.1, table 2-6 of 2.4); 3.x clients are closed.
		return mqtt.Errorf(mqtt.MessageRateTooHigh, "MQTT-3.14.2.1", "publish rate above %g messages/s or %g bytes/s", l.msgs.rate, l.bytes.rate)
	}
	if ce := l.log.Check(zap.InfoLevel, "publish rate limited: not reading"); ce != nil {
		ce.Write(zap.String("listener", ch.meta.Listener), logsafe.String("client_id", ch.neg.ClientID), zap.Stringer("remote_addr", ch.meta.RemoteAddr), zap.Duration("wait", wait))
	}
	l.msgs.take(1)
	l.bytes.take(size)
	if l.timer == nil {
		l.timer = time.NewTimer(wait)
	} else {
		l.timer.Reset(wait)
	}
	select {
	case <-l.timer.C:
		return nil
	case <-c.out.closed():
		// Kicked (takeover, shutdown) or the socket failed.
		l.timer.Stop()
		return errThrottleClosed
	}
}

// errThrottleClosed ends a read loop whose connection closed while it
// waited for publish tokens.
var errThrottleClosed = errors.New("connection closed while throttled")

// stop releases the limiter's timer.
func (l *pubLimiter) stop() {
	if l != nil && l.timer != nil {
		l.timer.Stop()
	}
}

// snapshot fills the rate limit part of a Stats snapshot: throttled
// publishes by action, summed over listeners.
func (r *rateLimits) snapshot(out *Stats) {
	out.RateLimited = make(map[string]int64, rateActions)
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, n := range rateActionNames {
		var sum int64
		for _, c := range r.byLn {
			sum += c[i].Load()
		}
		out.RateLimited[n] = sum
	}
}

var descRateLimited = prometheus.NewDesc("edgemq_rate_limited_total",
	"PUBLISH packets over a client's publish_rate, by listener and action (backpressure: delayed; disconnect: the client was disconnected).",
	[]string{"listener", "action"}, nil)

func (r *rateLimits) collect(ch chan<- prometheus.Metric) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for ln, c := range r.byLn {
		for i, n := range rateActionNames {
			ch <- prometheus.MustNewConstMetric(descRateLimited, prometheus.CounterValue, float64(c[i].Load()), ln, n)
		}
	}
}
