package proto

// Connection-life logs. Every connection leaves, at most:
//
//   - "connection accepted" (debug): listener, transport, remote_addr (the
//     real client after PROXY protocol or a trusted X-Forwarded-For) and
//     peer_addr when the socket's peer differs (the proxy);
//   - "connection refused" (info, sampled): admission limits (stage
//     admission: per_ip_connections, per_ip_rate, global_rate,
//     max_connections, max_unauthenticated, listener_max_connections) or a
//     refused CONNECT (stage connect: reason_code, reason, protocol,
//     return_code for 3.x, client_id and username when known);
//   - "client connected" (info): the negotiated summary;
//   - "client disconnected" (info): reason_code and reason (none when the
//     network ended it), initiator (client, server, network, takeover,
//     kick, drain), duration, bytes and messages in and out.
//
// "connection refused" and "authentication failed" go through a sampler
// built once per server: per second, the first logSampleFirst entries of
// each message, then one in logSampleThereafter; what it drops is counted
// in edgemq_log_sampled_total. A flood of refused clients cannot flood
// the log. Fields are built only when the level is enabled.

import (
	"net"
	"sync/atomic"
	"time"

	"edgemq/gateway/logsafe"
	"edgemq/gateway/stats"
	"edgemq/mqtt"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Sampling of refusals and authentication failures, per message.
const (
	logSampleTick       = time.Second
	logSampleFirst      = 20
	logSampleThereafter = 100
)

// ConnLog is a server's connection-life logging: the server's logger,
// and a sampled one for what clients can provoke at will. Safe for
// concurrent use; a nil *ConnLog logs nothing.
type ConnLog struct {
	log     *zap.Logger
	sampled *zap.Logger
	// dropped counts the entries the sampler dropped.
	dropped atomic.Int64
}

// NewConnLog returns the connection-life logging over log, with the
// sampler of refusals and authentication failures.
func NewConnLog(log *zap.Logger) *ConnLog {
	cl := &ConnLog{log: log}
	cl.sampled = cl.sampler(logSampleTick, logSampleFirst, logSampleThereafter)
	return cl
}

// SetSampling replaces the sampler: per tick, the first entries of each
// message, then one in thereafter. Call it before the server serves (a
// test that needs one window for a whole burst).
func (cl *ConnLog) SetSampling(tick time.Duration, first, thereafter int) {
	cl.sampled = cl.sampler(tick, first, thereafter)
}

// sampler returns the server's logger behind a sampler of its own that
// counts what it drops in cl.dropped.
func (cl *ConnLog) sampler(tick time.Duration, first, thereafter int) *zap.Logger {
	hook := zapcore.SamplerHook(func(_ zapcore.Entry, d zapcore.SamplingDecision) {
		if d&zapcore.LogDropped != 0 {
			cl.dropped.Add(1)
		}
	})
	return cl.log.WithOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core {
		return zapcore.NewSamplerWithOptions(c, tick, first, thereafter, hook)
	}))
}

// sampledCheck is the sampled logger's Check; nil when nothing is to be
// logged.
func (cl *ConnLog) sampledCheck(lvl zapcore.Level, msg string) *zapcore.CheckedEntry {
	if cl == nil {
		return nil
	}
	return cl.sampled.Check(lvl, msg)
}

// Dropped is what the sampler dropped so far (edgemq_log_sampled_total).
func (cl *ConnLog) Dropped() int64 {
	if cl == nil {
		return 0
	}
	return cl.dropped.Load()
}

// AdmissionRefused logs a socket the admission limits closed (sampled);
// listener is "" when not known (the gateway-wide limits). It implements
// limits.RefusalLog.
func (cl *ConnLog) AdmissionRefused(listener, reason string, remote net.Addr) {
	ce := cl.sampledCheck(zap.InfoLevel, "connection refused")
	if ce == nil {
		return
	}
	fields := []zap.Field{zap.String("stage", "admission"), zap.String("reason", reason),
		zap.String("remote_addr", AddrString(remote))}
	if listener != "" {
		fields = append(fields, zap.String("listener", listener))
	}
	ce.Write(fields...)
}

// AddrString returns a.String(), "" for nil: the log field of an address
// that may be unknown.
func AddrString(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}

// logSampled is logAt through the sampled logger.
func (ch *Channel) logSampled(lvl zapcore.Level, msg string, fields ...zap.Field) {
	if ce := ch.env.clog.sampledCheck(lvl, msg); ce != nil {
		ce.Write(append(fields, zap.String("listener", ch.meta.Listener), zap.String("remote_addr", AddrString(ch.meta.RemoteAddr)))...)
	}
}

// logRefused logs a refused CONNECT (sampled), with its reason code; a
// 3.x client's return code too.
func (ch *Channel) logRefused(c *mqtt.Connect, code mqtt.ReasonCode, err error) {
	ce := ch.env.clog.sampledCheck(zap.InfoLevel, "connection refused")
	if ce == nil {
		return
	}
	fields := make([]zap.Field, 0, 12)
	fields = append(fields, zap.String("stage", "connect"),
		zap.String("listener", ch.meta.Listener), zap.String("transport", string(ch.meta.Transport)),
		zap.String("remote_addr", AddrString(ch.meta.RemoteAddr)),
		zap.Uint8("reason_code", byte(code)), zap.String("reason", code.String()))
	if c != nil {
		fields = append(fields, zap.String("protocol", stats.VersionLabel(c.Version)))
		if c.Version != mqtt.V5 {
			fields = append(fields, zap.Uint8("return_code", code.V3(mqtt.CONNACK)))
		}
		if c.ClientID != "" {
			fields = append(fields, logsafe.String("client_id", c.ClientID))
		}
		if c.Username != "" {
			fields = append(fields, logsafe.String("username", c.Username))
		}
	}
	ce.Write(append(fields, logsafe.Error(err))...)
}

// logConnected logs the negotiated summary of a client once CONNACK is
// queued (info).
func (ch *Channel) logConnected(username string) {
	ce := ch.log.Check(zap.InfoLevel, "client connected")
	if ce == nil {
		return
	}
	n := &ch.neg
	ce.Write(
		logsafe.String("client_id", n.ClientID), logsafe.String("username", username),
		zap.String("listener", ch.meta.Listener), zap.String("transport", string(ch.meta.Transport)),
		zap.String("remote_addr", AddrString(ch.meta.RemoteAddr)),
		zap.String("protocol", stats.VersionLabel(n.Version)),
		zap.Uint16("keep_alive", n.KeepAlive),
		zap.Bool("clean_start", n.CleanStart), zap.Bool("session_present", n.SessionPresent),
		zap.Uint32("session_expiry", n.SessionExpiry),
		zap.Uint16("receive_maximum_client", n.ClientReceiveMaximum),
		zap.Uint16("receive_maximum_server", n.ServerReceiveMaximum),
		zap.Uint32("max_packet_size_client", n.ClientMaxPacketSize),
		zap.Uint32("max_packet_size_server", n.ServerMaxPacketSize),
		zap.Uint16("topic_alias_max_client", n.ClientTopicAliasMaximum),
		zap.Uint16("topic_alias_max_server", n.ServerTopicAliasMaximum),
	)
}

// KickReason is the reason code the server kicked the client with
// (KickRef); Unspecified error when it did not.
func (ch *Channel) KickReason() mqtt.ReasonCode {
	if v := ch.kickCode.Load(); v != 0 {
		return mqtt.ReasonCode(v & 0xFF)
	}
	return mqtt.UnspecifiedError
}
