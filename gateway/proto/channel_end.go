package proto

import (
	"errors"
	"os"
	"time"

	"edgemq/mqtt"
)

// KeepAliveTimeout is how long the connection may stay silent before the
// server ends it: one and a half times the Keep Alive in force
// [MQTT-3.1.2-24 of 3.1.1, MQTT-3.1.2-22 of 5.0]; 0 for none (Keep Alive 0
// turns the mechanism off, 3.1.2.10). The host sets its read deadline
// from it and reports the deadline passing to fail as
// os.ErrDeadlineExceeded.
func (ch *Channel) KeepAliveTimeout() time.Duration {
	return time.Duration(ch.neg.KeepAlive) * 1500 * time.Millisecond
}

// fail ends a connected client's connection for err (p is the packet
// read, if any): v5 clients get DISCONNECT with its reason code when the
// fault is theirs [MQTT-4.13.1-1]; a keep alive timeout
// (os.ErrDeadlineExceeded) is 0x8D. The client's own DISCONNECT
// (errClientDisconnected) and a failed socket end it without an answer.
// It returns how the connection ended, for the log.
func (ch *Channel) Fail(p mqtt.Packet, err error) End {
	var code mqtt.ReasonCode
	switch {
	case errors.Is(err, errClientDisconnected):
		end := End{Initiator: EndByClient}
		if d, ok := p.(*mqtt.Disconnect); ok {
			end.Code, end.HasCode = d.ReasonCode, true
		}
		ch.out.Close(nil)
		return end
	case errors.Is(err, os.ErrDeadlineExceeded):
		code = mqtt.KeepAliveTimeout
	case IsPacketError(err):
		code = mqtt.CodeOf(err)
	default:
		// The socket closed or failed.
		ch.out.Close(nil)
		return End{Initiator: EndByNetwork, Err: err}
	}
	if ch.neg.Version == mqtt.V5 {
		d := &mqtt.Disconnect{ReasonCode: code}
		if ch.neg.ProblemInfo {
			d.Properties.SetString(mqtt.PropReasonString, err.Error())
		}
		ch.out.Close(d)
	} else {
		ch.out.Close(nil)
	}
	return End{Initiator: EndByServer, Code: code, HasCode: true, Err: err}
}
