package conn

// Publish rate limits are gateway/limits' (a credential's own limits,
// auth.RateLimitClaims, are gateway/auth's); this is the connection's
// side of them: the limiter a connected client gets (Serve, from
// proto.Channel.PublishRate) and the throttle of its read loop.

import (
	"errors"
	"time"

	"edgemq/mqtt"
)

// throttle applies the limiter to an inbound PUBLISH before it is
// handled. With backpressure it waits, reading nothing meanwhile, until
// the buckets allow p (TCP flow control then pushes back on the client);
// the wait ends early when the connection is closed. With disconnect it
// returns 0x96 Message rate too high.
func (c *Conn) throttle(p *mqtt.Publish) error {
	l := c.lim
	wait := l.Reserve(time.Now(), len(p.Payload))
	if wait <= 0 {
		return nil
	}
	ch := &c.ch
	l.LogLimited(ch.Meta().Listener, ch.Negotiated().ClientID, ch.Meta().RemoteAddr, wait)
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
