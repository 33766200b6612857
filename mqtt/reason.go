package mqtt

import (
	"errors"
	"fmt"
)

// ReasonCode is an MQTT 5.0 reason code (section 2.4). It is an error, so
// that a check can return the code that answers it. Several codes share a
// value (0x00 is Success, Normal disconnection and Granted QoS 0).
type ReasonCode byte

// Reason codes of MQTT 5.0, table 2-6.
const (
	Success                             ReasonCode = 0x00
	NormalDisconnection                 ReasonCode = 0x00
	GrantedQoS0                         ReasonCode = 0x00
	GrantedQoS1                         ReasonCode = 0x01
	GrantedQoS2                         ReasonCode = 0x02
	DisconnectWithWillMessage           ReasonCode = 0x04
	NoMatchingSubscribers               ReasonCode = 0x10
	NoSubscriptionExisted               ReasonCode = 0x11
	ContinueAuthentication              ReasonCode = 0x18
	ReAuthenticate                      ReasonCode = 0x19
	UnspecifiedError                    ReasonCode = 0x80
	MalformedPacket                     ReasonCode = 0x81
	ProtocolError                       ReasonCode = 0x82
	ImplementationSpecificError         ReasonCode = 0x83
	UnsupportedProtocolVersion          ReasonCode = 0x84
	ClientIdentifierNotValid            ReasonCode = 0x85
	BadUserNameOrPassword               ReasonCode = 0x86
	NotAuthorized                       ReasonCode = 0x87
	ServerUnavailable                   ReasonCode = 0x88
	ServerBusy                          ReasonCode = 0x89
	Banned                              ReasonCode = 0x8A
	ServerShuttingDown                  ReasonCode = 0x8B
	BadAuthenticationMethod             ReasonCode = 0x8C
	KeepAliveTimeout                    ReasonCode = 0x8D
	SessionTakenOver                    ReasonCode = 0x8E
	TopicFilterInvalid                  ReasonCode = 0x8F
	TopicNameInvalid                    ReasonCode = 0x90
	PacketIdentifierInUse               ReasonCode = 0x91
	PacketIdentifierNotFound            ReasonCode = 0x92
	ReceiveMaximumExceeded              ReasonCode = 0x93
	TopicAliasInvalid                   ReasonCode = 0x94
	PacketTooLarge                      ReasonCode = 0x95
	MessageRateTooHigh                  ReasonCode = 0x96
	QuotaExceeded                       ReasonCode = 0x97
	AdministrativeAction                ReasonCode = 0x98
	PayloadFormatInvalid                ReasonCode = 0x99
	RetainNotSupported                  ReasonCode = 0x9A
	QoSNotSupported                     ReasonCode = 0x9B
	UseAnotherServer                    ReasonCode = 0x9C
	ServerMoved                         ReasonCode = 0x9D
	SharedSubscriptionsNotSupported     ReasonCode = 0x9E
	ConnectionRateExceeded              ReasonCode = 0x9F
	MaximumConnectTime                  ReasonCode = 0xA0
	SubscriptionIdentifiersNotSupported ReasonCode = 0xA1
	WildcardSubscriptionsNotSupported   ReasonCode = 0xA2
)

var reasonNames = map[ReasonCode]string{
	0x00: "success", 0x01: "granted qos 1", 0x02: "granted qos 2",
	0x04: "disconnect with will message", 0x10: "no matching subscribers",
	0x11: "no subscription existed", 0x18: "continue authentication",
	0x19: "re-authenticate", 0x80: "unspecified error", 0x81: "malformed packet",
	0x82: "protocol error", 0x83: "implementation specific error",
	0x84: "unsupported protocol version", 0x85: "client identifier not valid",
	0x86: "bad user name or password", 0x87: "not authorized",
	0x88: "server unavailable", 0x89: "server busy", 0x8A: "banned",
	0x8B: "server shutting down", 0x8C: "bad authentication method",
	0x8D: "keep alive timeout", 0x8E: "session taken over",
	0x8F: "topic filter invalid", 0x90: "topic name invalid",
	0x91: "packet identifier in use", 0x92: "packet identifier not found",
	0x93: "receive maximum exceeded", 0x94: "topic alias invalid",
	0x95: "packet too large", 0x96: "message rate too high",
	0x97: "quota exceeded", 0x98: "administrative action",
	0x99: "payload format invalid", 0x9A: "retain not supported",
	0x9B: "qos not supported", 0x9C: "use another server", 0x9D: "server moved",
	0x9E: "shared subscriptions not supported", 0x9F: "connection rate exceeded",
	0xA0: "maximum connect time", 0xA1: "subscription identifiers not supported",
	0xA2: "wildcard subscriptions not supported",
}

// String names the code as table 2-6 does.
func (c ReasonCode) String() string {
	if n, ok := reasonNames[c]; ok {
		return n
	}
	return fmt.Sprintf("reason code 0x%02X", byte(c))
}

// Error makes a ReasonCode an error.
func (c ReasonCode) Error() string { return fmt.Sprintf("%s (0x%02X)", c.String(), byte(c)) }

// IsError reports whether the code is a failure (0x80 and above).
func (c ReasonCode) IsError() bool { return c >= 0x80 }

// Return codes of CONNACK in MQTT 3.1 and 3.1.1 (table 3.1 of 3.1.1).
const (
	ConnAccepted                  byte = 0x00
	ConnRefusedProtocolVersion    byte = 0x01
	ConnRefusedIdentifierRejected byte = 0x02
	ConnRefusedServerUnavailable  byte = 0x03
	ConnRefusedBadCredentials     byte = 0x04
	ConnRefusedNotAuthorized      byte = 0x05
)

// SubackFailureV3 is the 3.1.1 SUBACK return code for a refused filter.
const SubackFailureV3 byte = 0x80

// V3 maps a v5 reason code to the byte a 3.1 or 3.1.1 peer understands in a
// packet of type t. It is the one v5→v3 mapping of the project:
//   - CONNACK: success is 0x00; the refusals map to return codes 0x01–0x05
//     (bad credentials and bad authentication method to 0x04, not
//     authorized and banned to 0x05, client id to 0x02, version to 0x01,
//     everything else to 0x03 server unavailable). A code below 0x80 that
//     is not success is taken to be a v3 return code already.
//   - SUBACK: a granted QoS stays, every failure becomes 0x80.
//
// Other packets have no code in v3; V3 returns 0.
func (c ReasonCode) V3(t Type) byte {
	switch t {
	case CONNACK:
		if c < 0x80 {
			return byte(c)
		}
		switch c {
		case UnsupportedProtocolVersion:
			return ConnRefusedProtocolVersion
		case ClientIdentifierNotValid:
			return ConnRefusedIdentifierRejected
		case BadUserNameOrPassword, BadAuthenticationMethod:
			return ConnRefusedBadCredentials
		case NotAuthorized, Banned:
			return ConnRefusedNotAuthorized
		default:
			return ConnRefusedServerUnavailable
		}
	case SUBACK:
		if c >= 0x80 {
			return SubackFailureV3
		}
		return byte(c)
	}
	return 0
}

// Error is a codec or protocol failure: the reason code that answers it,
// the normative statement it breaks (e.g. "MQTT-3.1.2-1"), and detail.
// errors.Is(err, code) matches the reason code.
type Error struct {
	Code   ReasonCode
	Rule   string
	Detail string
}

// Errorf makes an *Error.
func Errorf(code ReasonCode, rule, format string, args ...any) *Error {
	return &Error{Code: code, Rule: rule, Detail: fmt.Sprintf(format, args...)}
}

func (e *Error) Error() string {
	if e.Rule != "" {
		return fmt.Sprintf("%s: %s [%s]", e.Code.String(), e.Detail, e.Rule)
	}
	return fmt.Sprintf("%s: %s", e.Code.String(), e.Detail)
}

// Unwrap returns the reason code.
func (e *Error) Unwrap() error { return e.Code }

// CodeOf returns the reason code carried by err, or UnspecifiedError.
func CodeOf(err error) ReasonCode {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	var c ReasonCode
	if errors.As(err, &c) {
		return c
	}
	return UnspecifiedError
}

func malformed(rule, format string, args ...any) *Error {
	return Errorf(MalformedPacket, rule, format, args...)
}

func protocolErr(rule, format string, args ...any) *Error {
	return Errorf(ProtocolError, rule, format, args...)
}
