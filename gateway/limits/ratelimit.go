package limits

// Publish rate limits: a connected client's publish_rate, in messages
// and payload bytes per second.

import (
	"math"
	"net"
	"sync/atomic"
	"time"

	"edgemq/configs"
	"edgemq/gateway/internal/lockorder"
	"edgemq/gateway/logsafe"

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

// PubLimiter is one connection's publish rate limit: a message bucket and
// a payload byte bucket. Not safe for concurrent use: only the
// connection's read goroutine uses it. A connection without limits has
// none (nil): nothing is counted or timed.
type PubLimiter struct {
	msgs, bytes rateBucket
	disconnect  bool
	counted     *atomic.Int64 // edgemq_rate_limited_total of the listener and action
	log         *zap.Logger   // the rate limits' (RateLimits.log)
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

// RateLimits is the server's publish rate limiting state: counters by
// listener and action, and the sampled logger throttled publishes are
// logged to (a flood must not flood the log). Safe for concurrent use.
type RateLimits struct {
	log *zap.Logger

	mu   lockorder.Mutex[rateLimitsMu]
	byLn map[string]*[rateActions]atomic.Int64
}

// rateLogFirst: per second, the first rateLogFirst entries of each
// message are logged, then none.
const rateLogFirst = 3

// NewRateLimits returns the publish rate limits, logging to a sampled
// log.
func NewRateLimits(log *zap.Logger) *RateLimits {
	sampled := log.WithOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core {
		return zapcore.NewSamplerWithOptions(c, time.Second, rateLogFirst, 0)
	}))
	return &RateLimits{log: sampled, byLn: make(map[string]*[rateActions]atomic.Int64)}
}

// counters returns the counters of a listener, made on first use; they
// outlive a configuration reload.
func (r *RateLimits) counters(listener string) *[rateActions]atomic.Int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.byLn[listener]
	if c == nil {
		c = new([rateActions]atomic.Int64)
		r.byLn[listener] = c
	}
	return c
}

// NewLimiter returns the publish limiter of a client connected on
// listener with publish rate pr (the listener profile's publish_rate with
// the credential's claims applied); nil when neither bucket limits.
func (r *RateLimits) NewLimiter(listener string, pr configs.PublishRate) *PubLimiter {
	if !pr.Enabled() {
		return nil
	}
	now := time.Now()
	l := &PubLimiter{
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

// Reserve applies the limiter to an inbound PUBLISH of size payload bytes
// at now, before it is handled. It returns 0 when the publish may go now,
// its cost taken. Otherwise the publish is over the rate and counted: with
// Disconnects the caller disconnects the client and nothing is taken;
// else the cost is taken into debt and the caller reads nothing more for
// the returned wait (Sleep), so that TCP flow control pushes back on the
// client.
func (l *PubLimiter) Reserve(now time.Time, size int) time.Duration {
	cost := float64(size)
	wait := max(l.msgs.need(now, 1), l.bytes.need(now, cost))
	if wait <= 0 {
		l.msgs.take(1)
		l.bytes.take(cost)
		return 0
	}
	l.counted.Add(1)
	if !l.disconnect {
		l.msgs.take(1)
		l.bytes.take(cost)
	}
	return wait
}

// Disconnects reports whether a publish over the rate disconnects the
// client (action disconnect) rather than holding up its reads.
func (l *PubLimiter) Disconnects() bool { return l.disconnect }

// Rates returns the limits: messages and payload bytes per second, 0 for
// none.
func (l *PubLimiter) Rates() (msgs, bytes float64) { return l.msgs.rate, l.bytes.rate }

// Sleep waits d, on a timer the limiter keeps; it reports false when
// closed is closed first (the connection was kicked or failed).
func (l *PubLimiter) Sleep(closed <-chan struct{}, d time.Duration) bool {
	if l.timer == nil {
		l.timer = time.NewTimer(d)
	} else {
		l.timer.Reset(d)
	}
	select {
	case <-l.timer.C:
		return true
	case <-closed:
		l.timer.Stop()
		return false
	}
}

// LogLimited logs, sampled, a publish over the rate of the client
// clientID on listener from remote, that waits wait (0 when it is
// disconnected).
func (l *PubLimiter) LogLimited(listener, clientID string, remote net.Addr, wait time.Duration) {
	if l.disconnect {
		if ce := l.log.Check(zap.InfoLevel, "publish rate too high: disconnecting"); ce != nil {
			ce.Write(zap.String("listener", listener), logsafe.String("client_id", clientID), zap.Stringer("remote_addr", remote))
		}
		return
	}
	if ce := l.log.Check(zap.InfoLevel, "publish rate limited: not reading"); ce != nil {
		ce.Write(zap.String("listener", listener), logsafe.String("client_id", clientID), zap.Stringer("remote_addr", remote), zap.Duration("wait", wait))
	}
}

// Stop releases the limiter's timer. A nil limiter does nothing.
func (l *PubLimiter) Stop() {
	if l != nil && l.timer != nil {
		l.timer.Stop()
	}
}

// Limited returns the publishes over a rate so far by action
// (backpressure, disconnect), summed over listeners, every action present.
func (r *RateLimits) Limited() map[string]int64 {
	out := make(map[string]int64, rateActions)
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, n := range rateActionNames {
		var sum int64
		for _, c := range r.byLn {
			sum += c[i].Load()
		}
		out[n] = sum
	}
	return out
}

// EachLimited calls f with the publishes over a rate so far of every
// listener that had a limited client and every action, in no order.
// rateLimits.mu is held meanwhile: f must not call back into r.
func (r *RateLimits) EachLimited(f func(listener, action string, n int64)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for ln, c := range r.byLn {
		for i, n := range rateActionNames {
			f(ln, n, c[i].Load())
		}
	}
}
