package gateway

// Publish rate limits are gateway/limits'; here are a credential's own
// limits (RateLimitClaims) and the connection's side of them.

import (
	"errors"
	"fmt"
	"math"
	"time"

	"edgemq/configs"
	"edgemq/gateway/limits"
	"edgemq/mqtt"
)

// RateLimitClaims are a credential's own publish limits (a JWT's
// rate_limit_claim, an HTTP hook's rate_limit answer). A nil field keeps
// the listener's publish_rate value. Read-only once the client is
// connected.
type RateLimitClaims struct {
	MessagesPerSecond *float64 `json:"messages_per_second"`
	MessagesBurst     *int     `json:"messages_burst"`
	BytesPerSecond    *float64 `json:"bytes_per_second"`
	BytesBurst        *int64   `json:"bytes_burst"`
}

// apply returns base with the claims' set fields replacing base's.
func (r *RateLimitClaims) apply(base configs.PublishRate) configs.PublishRate {
	if r == nil {
		return base
	}
	setIf(&base.MessagesPerSecond, r.MessagesPerSecond)
	setIf(&base.MessagesBurst, r.MessagesBurst)
	setIf(&base.BytesPerSecond, r.BytesPerSecond)
	setIf(&base.BytesBurst, r.BytesBurst)
	return base
}

// check refuses negative or non-finite values.
func (r *RateLimitClaims) check() error {
	if r == nil {
		return nil
	}
	for _, f := range []*float64{r.MessagesPerSecond, r.BytesPerSecond} {
		if f != nil && (*f < 0 || math.IsInf(*f, 0) || math.IsNaN(*f)) {
			return errors.New("rates must be finite and not negative")
		}
	}
	if (r.MessagesBurst != nil && *r.MessagesBurst < 0) || (r.BytesBurst != nil && *r.BytesBurst < 0) {
		return errors.New("bursts must not be negative")
	}
	return nil
}

func setIf[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// parseRateLimitClaim reads a JWT claim {messages_per_second,
// messages_burst, bytes_per_second, bytes_burst} (numbers).
func parseRateLimitClaim(v any) (*RateLimitClaims, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("want an object {messages_per_second, bytes_per_second, ...}")
	}
	num := func(k string) (*float64, error) {
		raw, ok := m[k]
		if !ok {
			return nil, nil
		}
		f, ok := raw.(float64)
		if !ok {
			return nil, fmt.Errorf("%s: want a number", k)
		}
		return &f, nil
	}
	var r RateLimitClaims
	var err error
	if r.MessagesPerSecond, err = num("messages_per_second"); err != nil {
		return nil, err
	}
	if r.BytesPerSecond, err = num("bytes_per_second"); err != nil {
		return nil, err
	}
	mb, err := num("messages_burst")
	if err != nil {
		return nil, err
	}
	if mb != nil {
		n := int(min(*mb, math.MaxInt32))
		r.MessagesBurst = &n
	}
	bb, err := num("bytes_burst")
	if err != nil {
		return nil, err
	}
	if bb != nil {
		n := int64(min(*bb, math.MaxInt64/2))
		r.BytesBurst = &n
	}
	return &r, r.check()
}

// throttle applies the limiter to an inbound PUBLISH before it is
// handled. With backpressure it waits, reading nothing meanwhile, until
// the buckets allow p (TCP flow control then pushes back on the client);
// the wait ends early when the connection is closed. With disconnect it
// returns 0x96 Message rate too high.
func (c *conn) throttle(p *mqtt.Publish) error {
	l := c.lim
	wait := l.Reserve(time.Now(), len(p.Payload))
	if wait <= 0 {
		return nil
	}
	ch := &c.ch
	l.LogLimited(ch.meta.Listener, ch.neg.ClientID, ch.meta.RemoteAddr, wait)
	if l.Disconnects() {
		msgs, bytes := l.Rates()
		// 0x96 Message rate too high is a DISCONNECT reason code of the
		// server (3.14.2.1, table 2-6 of 2.4); 3.x clients are closed.
		return mqtt.Errorf(mqtt.MessageRateTooHigh, "MQTT-3.14.2.1", "publish rate above %g messages/s or %g bytes/s", msgs, bytes)
	}
	if !l.Sleep(c.out.closed(), wait) {
		// Kicked (takeover, shutdown) or the socket failed.
		return errThrottleClosed
	}
	return nil
}

// errThrottleClosed ends a read loop whose connection closed while it
// waited for publish tokens.
var errThrottleClosed = errors.New("connection closed while throttled")

// newLimiter returns the publish limiter of a client connected on
// listener: the listener profile's publish_rate with the credential's
// claims applied; nil when neither bucket limits.
func (s *Server) newLimiter(listener string, prof configs.PublishRate, claims *RateLimitClaims) *limits.PubLimiter {
	return s.rlim.NewLimiter(listener, claims.apply(prof))
}
