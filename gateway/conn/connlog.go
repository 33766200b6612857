package conn

// The connection's side of the connection-life logs (proto/connlog.go
// has the list of entries, the sampler and the channel's entries).

import (
	"edgemq/gateway/logsafe"
	"edgemq/gateway/proto"
	"edgemq/gateway/stats"
	"net"
	"time"

	"go.uber.org/zap"
)

// logAccepted logs a new connection (debug); peer is the socket's remote
// address, logged when a proxy stands between (remote_addr is then the
// client's).
func (c *Conn) logAccepted(peer net.Addr) {
	ch := &c.ch
	ce := c.ch.Log().Check(zap.DebugLevel, "connection accepted")
	if ce == nil {
		return
	}
	remote := proto.AddrString(ch.Meta().RemoteAddr)
	fields := []zap.Field{zap.String("listener", ch.Meta().Listener), zap.String("transport", string(ch.Meta().Transport)),
		zap.String("remote_addr", remote)}
	if p := proto.AddrString(peer); p != remote {
		fields = append(fields, zap.String("peer_addr", p))
	}
	ce.Write(fields...)
}

// logDisconnected logs the end of a connected client (info).
func (c *Conn) logDisconnected(e proto.End) {
	ch := &c.ch
	ce := c.ch.Log().Check(zap.InfoLevel, "client disconnected")
	if ce == nil {
		return
	}
	fields := make([]zap.Field, 0, 16)
	fields = append(fields,
		logsafe.String("client_id", ch.Negotiated().ClientID), logsafe.String("username", ch.Username()),
		zap.String("listener", ch.Meta().Listener), zap.String("transport", string(ch.Meta().Transport)),
		zap.String("remote_addr", proto.AddrString(ch.Meta().RemoteAddr)),
		zap.String("protocol", stats.VersionLabel(ch.Negotiated().Version)),
		zap.String("initiator", e.Initiator))
	if e.HasCode {
		fields = append(fields, zap.Uint8("reason_code", byte(e.Code)), zap.String("reason", e.Code.String()))
	}
	fields = append(fields, zap.Duration("duration", time.Since(time.Unix(0, c.born))),
		zap.Int64("bytes_in", c.rd.BytesRead()), zap.Int64("bytes_out", c.out.sentBytes.Load()),
		zap.Int64("messages_in", c.msgsIn), zap.Int64("messages_out", c.out.sentMsgs.Load()))
	if e.Err != nil {
		fields = append(fields, logsafe.Error(e.Err))
	}
	ce.Write(fields...)
}
