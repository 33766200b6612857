package mqtt

import (
	"encoding/binary"
	"fmt"
	"math/bits"
)

// PropID is an MQTT 5.0 property identifier (section 2.2.2.2).
type PropID byte

// Property identifiers.
const (
	PropPayloadFormatIndicator          PropID = 0x01
	PropMessageExpiryInterval           PropID = 0x02
	PropContentType                     PropID = 0x03
	PropResponseTopic                   PropID = 0x08
	PropCorrelationData                 PropID = 0x09
	PropSubscriptionIdentifier          PropID = 0x0B
	PropSessionExpiryInterval           PropID = 0x11
	PropAssignedClientIdentifier        PropID = 0x12
	PropServerKeepAlive                 PropID = 0x13
	PropAuthenticationMethod            PropID = 0x15
	PropAuthenticationData              PropID = 0x16
	PropRequestProblemInformation       PropID = 0x17
	PropWillDelayInterval               PropID = 0x18
	PropRequestResponseInformation      PropID = 0x19
	PropResponseInformation             PropID = 0x1A
	PropServerReference                 PropID = 0x1C
	PropReasonString                    PropID = 0x1F
	PropReceiveMaximum                  PropID = 0x21
	PropTopicAliasMaximum               PropID = 0x22
	PropTopicAlias                      PropID = 0x23
	PropMaximumQoS                      PropID = 0x24
	PropRetainAvailable                 PropID = 0x25
	PropUserProperty                    PropID = 0x26
	PropMaximumPacketSize               PropID = 0x27
	PropWildcardSubscriptionAvailable   PropID = 0x28
	PropSubscriptionIdentifierAvailable PropID = 0x29
	PropSharedSubscriptionAvailable     PropID = 0x2A
)

// propKind is the data type of a property value (section 1.5).
type propKind byte

const (
	kindByte propKind = iota + 1
	kindUint16
	kindUint32
	kindVarInt
	kindString
	kindBinary
	kindPair
)

// willProps is the pseudo packet type of will properties in CONNECT.
const willProps Type = 0

// propSpec is a property's type and the packets it may appear in
// (table 2-4), as a bit per packet Type (bit 0 for will properties).
type propSpec struct {
	name    string
	kind    propKind
	packets uint16
}

func packetsOf(ts ...Type) uint16 {
	var m uint16
	for _, t := range ts {
		m |= 1 << t
	}
	return m
}

func specOf(id PropID) (propSpec, bool) {
	switch id {
	case PropPayloadFormatIndicator:
		return propSpec{"payload format indicator", kindByte, packetsOf(PUBLISH, willProps)}, true
	case PropMessageExpiryInterval:
		return propSpec{"message expiry interval", kindUint32, packetsOf(PUBLISH, willProps)}, true
	case PropContentType:
		return propSpec{"content type", kindString, packetsOf(PUBLISH, willProps)}, true
	case PropResponseTopic:
		return propSpec{"response topic", kindString, packetsOf(PUBLISH, willProps)}, true
	case PropCorrelationData:
		return propSpec{"correlation data", kindBinary, packetsOf(PUBLISH, willProps)}, true
	case PropSubscriptionIdentifier:
		return propSpec{"subscription identifier", kindVarInt, packetsOf(PUBLISH, SUBSCRIBE)}, true
	case PropSessionExpiryInterval:
		return propSpec{"session expiry interval", kindUint32, packetsOf(CONNECT, CONNACK, DISCONNECT)}, true
	case PropAssignedClientIdentifier:
		return propSpec{"assigned client identifier", kindString, packetsOf(CONNACK)}, true
	case PropServerKeepAlive:
		return propSpec{"server keep alive", kindUint16, packetsOf(CONNACK)}, true
	case PropAuthenticationMethod:
		return propSpec{"authentication method", kindString, packetsOf(CONNECT, CONNACK, AUTH)}, true
	case PropAuthenticationData:
		return propSpec{"authentication data", kindBinary, packetsOf(CONNECT, CONNACK, AUTH)}, true
	case PropRequestProblemInformation:
		return propSpec{"request problem information", kindByte, packetsOf(CONNECT)}, true
	case PropWillDelayInterval:
		return propSpec{"will delay interval", kindUint32, packetsOf(willProps)}, true
	case PropRequestResponseInformation:
		return propSpec{"request response information", kindByte, packetsOf(CONNECT)}, true
	case PropResponseInformation:
		return propSpec{"response information", kindString, packetsOf(CONNACK)}, true
	case PropServerReference:
		return propSpec{"server reference", kindString, packetsOf(CONNACK, DISCONNECT)}, true
	case PropReasonString:
		return propSpec{"reason string", kindString, packetsOf(CONNACK, PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK, UNSUBACK, DISCONNECT, AUTH)}, true
	case PropReceiveMaximum:
		return propSpec{"receive maximum", kindUint16, packetsOf(CONNECT, CONNACK)}, true
	case PropTopicAliasMaximum:
		return propSpec{"topic alias maximum", kindUint16, packetsOf(CONNECT, CONNACK)}, true
	case PropTopicAlias:
		return propSpec{"topic alias", kindUint16, packetsOf(PUBLISH)}, true
	case PropMaximumQoS:
		return propSpec{"maximum qos", kindByte, packetsOf(CONNACK)}, true
	case PropRetainAvailable:
		return propSpec{"retain available", kindByte, packetsOf(CONNACK)}, true
	case PropUserProperty:
		return propSpec{"user property", kindPair, packetsOf(CONNECT, CONNACK, PUBLISH, willProps, PUBACK, PUBREC, PUBREL, PUBCOMP, SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, DISCONNECT, AUTH)}, true
	case PropMaximumPacketSize:
		return propSpec{"maximum packet size", kindUint32, packetsOf(CONNECT, CONNACK)}, true
	case PropWildcardSubscriptionAvailable:
		return propSpec{"wildcard subscription available", kindByte, packetsOf(CONNACK)}, true
	case PropSubscriptionIdentifierAvailable:
		return propSpec{"subscription identifier available", kindByte, packetsOf(CONNACK)}, true
	case PropSharedSubscriptionAvailable:
		return propSpec{"shared subscription available", kindByte, packetsOf(CONNACK)}, true
	}
	return propSpec{}, false
}

// String names the property.
func (id PropID) String() string {
	if s, ok := specOf(id); ok {
		return s.name
	}
	return fmt.Sprintf("property 0x%02X", byte(id))
}

// UserProperty is one name/value pair. Order and duplicates are kept
// [MQTT-3.3.2-17, MQTT-3.3.2-18].
type UserProperty struct {
	Key, Value string
}

// Properties holds the MQTT 5.0 properties of one packet. A single-valued
// property is present when its bit is set in Present (use Has and the
// Set methods); the multi-valued ones are present when their slices are
// non-empty. The zero value is "no properties".
type Properties struct {
	Present uint64

	PayloadFormatIndicator          byte
	MessageExpiryInterval           uint32
	ContentType                     string
	ResponseTopic                   string
	CorrelationData                 []byte
	SubscriptionIdentifiers         []uint32
	SessionExpiryInterval           uint32
	AssignedClientIdentifier        string
	ServerKeepAlive                 uint16
	AuthenticationMethod            string
	AuthenticationData              []byte
	RequestProblemInformation       byte
	WillDelayInterval               uint32
	RequestResponseInformation      byte
	ResponseInformation             string
	ServerReference                 string
	ReasonString                    string
	ReceiveMaximum                  uint16
	TopicAliasMaximum               uint16
	TopicAlias                      uint16
	MaximumQoS                      byte
	RetainAvailable                 byte
	MaximumPacketSize               uint32
	WildcardSubscriptionAvailable   byte
	SubscriptionIdentifierAvailable byte
	SharedSubscriptionAvailable     byte
	UserProperties                  []UserProperty
}

// Has reports whether a single-valued property is present.
func (p *Properties) Has(id PropID) bool { return p.Present&(1<<id) != 0 }

// Clear removes a single-valued property.
func (p *Properties) Clear(id PropID) { p.Present &^= 1 << id }

func (p *Properties) mark(id PropID) { p.Present |= 1 << id }

// SetByte sets a byte property (payload format indicator, request problem
// information, request response information, maximum qos, and the four
// "available" flags).
func (p *Properties) SetByte(id PropID, v byte) {
	switch id {
	case PropPayloadFormatIndicator:
		p.PayloadFormatIndicator = v
	case PropRequestProblemInformation:
		p.RequestProblemInformation = v
	case PropRequestResponseInformation:
		p.RequestResponseInformation = v
	case PropMaximumQoS:
		p.MaximumQoS = v
	case PropRetainAvailable:
		p.RetainAvailable = v
	case PropWildcardSubscriptionAvailable:
		p.WildcardSubscriptionAvailable = v
	case PropSubscriptionIdentifierAvailable:
		p.SubscriptionIdentifierAvailable = v
	case PropSharedSubscriptionAvailable:
		p.SharedSubscriptionAvailable = v
	default:
		panic(fmt.Sprintf("mqtt: %v is not a byte property", id))
	}
	p.mark(id)
}

// SetUint16 sets a two byte integer property.
func (p *Properties) SetUint16(id PropID, v uint16) {
	switch id {
	case PropServerKeepAlive:
		p.ServerKeepAlive = v
	case PropReceiveMaximum:
		p.ReceiveMaximum = v
	case PropTopicAliasMaximum:
		p.TopicAliasMaximum = v
	case PropTopicAlias:
		p.TopicAlias = v
	default:
		panic(fmt.Sprintf("mqtt: %v is not a two byte property", id))
	}
	p.mark(id)
}

// SetUint32 sets a four byte integer property.
func (p *Properties) SetUint32(id PropID, v uint32) {
	switch id {
	case PropMessageExpiryInterval:
		p.MessageExpiryInterval = v
	case PropSessionExpiryInterval:
		p.SessionExpiryInterval = v
	case PropWillDelayInterval:
		p.WillDelayInterval = v
	case PropMaximumPacketSize:
		p.MaximumPacketSize = v
	default:
		panic(fmt.Sprintf("mqtt: %v is not a four byte property", id))
	}
	p.mark(id)
}

// SetString sets a UTF-8 string property.
func (p *Properties) SetString(id PropID, v string) {
	*p.stringField(id) = v
	p.mark(id)
}

// SetBinary sets a binary data property.
func (p *Properties) SetBinary(id PropID, v []byte) {
	switch id {
	case PropCorrelationData:
		p.CorrelationData = v
	case PropAuthenticationData:
		p.AuthenticationData = v
	default:
		panic(fmt.Sprintf("mqtt: %v is not a binary property", id))
	}
	p.mark(id)
}

func (p *Properties) stringField(id PropID) *string {
	switch id {
	case PropContentType:
		return &p.ContentType
	case PropResponseTopic:
		return &p.ResponseTopic
	case PropAssignedClientIdentifier:
		return &p.AssignedClientIdentifier
	case PropAuthenticationMethod:
		return &p.AuthenticationMethod
	case PropResponseInformation:
		return &p.ResponseInformation
	case PropServerReference:
		return &p.ServerReference
	case PropReasonString:
		return &p.ReasonString
	}
	panic(fmt.Sprintf("mqtt: %v is not a string property", id))
}

// Empty reports whether no property is present.
func (p *Properties) Empty() bool {
	return p.Present == 0 && len(p.UserProperties) == 0 && len(p.SubscriptionIdentifiers) == 0
}

// propOrder is the order properties are encoded in: ascending identifier.
var propOrder = [...]PropID{
	PropPayloadFormatIndicator, PropMessageExpiryInterval, PropContentType,
	PropResponseTopic, PropCorrelationData, PropSessionExpiryInterval,
	PropAssignedClientIdentifier, PropServerKeepAlive, PropAuthenticationMethod,
	PropAuthenticationData, PropRequestProblemInformation, PropWillDelayInterval,
	PropRequestResponseInformation, PropResponseInformation, PropServerReference,
	PropReasonString, PropReceiveMaximum, PropTopicAliasMaximum, PropTopicAlias,
	PropMaximumQoS, PropRetainAvailable, PropMaximumPacketSize,
	PropWildcardSubscriptionAvailable, PropSubscriptionIdentifierAvailable,
	PropSharedSubscriptionAvailable,
}

// size returns the encoded length of the properties, without the
// length prefix.
func (p *Properties) size() int {
	n := 0
	if p.Present != 0 {
		for _, id := range propOrder {
			if p.Has(id) {
				n += 1 + p.valueSize(id)
			}
		}
	}
	for _, id := range p.SubscriptionIdentifiers {
		n += 1 + varIntSize(id)
	}
	for _, u := range p.UserProperties {
		n += 1 + 2 + len(u.Key) + 2 + len(u.Value)
	}
	return n
}

func (p *Properties) valueSize(id PropID) int {
	s, _ := specOf(id)
	switch s.kind {
	case kindByte:
		return 1
	case kindUint16:
		return 2
	case kindUint32:
		return 4
	case kindString:
		return 2 + len(*p.stringField(id))
	case kindBinary:
		if id == PropCorrelationData {
			return 2 + len(p.CorrelationData)
		}
		return 2 + len(p.AuthenticationData)
	}
	return 0
}

// appendProps appends the length-prefixed properties. t is the packet
// type they belong to (willProps for will properties); a property not
// allowed there is an encoding error.
func (p *Properties) appendProps(dst []byte, t Type) ([]byte, error) {
	if err := p.checkEncodable(t); err != nil {
		return dst, err
	}
	n := p.size()
	dst = appendVarInt(dst, uint32(n))
	if n == 0 {
		return dst, nil
	}
	if p.Present != 0 {
		for _, id := range propOrder {
			if !p.Has(id) {
				continue
			}
			s, _ := specOf(id)
			if s.packets&(1<<t) == 0 {
				return dst, fmt.Errorf("encoding %v: %v not allowed in %v", t, id, t)
			}
			dst = append(dst, byte(id))
			switch s.kind {
			case kindByte:
				dst = append(dst, p.byteValue(id))
			case kindUint16:
				dst = binary.BigEndian.AppendUint16(dst, p.uint16Value(id))
			case kindUint32:
				dst = binary.BigEndian.AppendUint32(dst, p.uint32Value(id))
			case kindString:
				dst = appendString(dst, *p.stringField(id))
			case kindBinary:
				if id == PropCorrelationData {
					dst = appendBinary(dst, p.CorrelationData)
				} else {
					dst = appendBinary(dst, p.AuthenticationData)
				}
			}
		}
	}
	if len(p.SubscriptionIdentifiers) > 0 {
		if t != PUBLISH && t != SUBSCRIBE {
			return dst, fmt.Errorf("encoding %v: subscription identifier not allowed", t)
		}
		for _, id := range p.SubscriptionIdentifiers {
			dst = append(dst, byte(PropSubscriptionIdentifier))
			dst = appendVarInt(dst, id)
		}
	}
	if len(p.UserProperties) > 0 {
		if t == PINGREQ || t == PINGRESP {
			return dst, fmt.Errorf("encoding %v: user property not allowed", t)
		}
		for _, u := range p.UserProperties {
			dst = append(dst, byte(PropUserProperty))
			dst = appendString(dst, u.Key)
			dst = appendString(dst, u.Value)
		}
	}
	return dst, nil
}

// checkEncodable refuses values the wire cannot carry: strings and binary
// data over 65535 bytes, subscription identifiers outside 1 to 268,435,455
// [MQTT-1.5.5-1], and more than one in SUBSCRIBE (3.8.2.1.2).
func (p *Properties) checkEncodable(t Type) error {
	if p.Present != 0 {
		for _, id := range propOrder {
			if !p.Has(id) {
				continue
			}
			if s, _ := specOf(id); s.kind == kindString || s.kind == kindBinary {
				if err := checkLen(t, id.String(), p.valueSize(id)-2); err != nil {
					return err
				}
			}
		}
	}
	for _, id := range p.SubscriptionIdentifiers {
		if id == 0 || id > MaxRemainingLength {
			return fmt.Errorf("encoding %v: subscription identifier %d out of range", t, id)
		}
	}
	if t == SUBSCRIBE && len(p.SubscriptionIdentifiers) > 1 {
		return fmt.Errorf("encoding SUBSCRIBE: %d subscription identifiers", len(p.SubscriptionIdentifiers))
	}
	for _, u := range p.UserProperties {
		if err := checkLen(t, "user property", max(len(u.Key), len(u.Value))); err != nil {
			return err
		}
	}
	return nil
}

func (p *Properties) byteValue(id PropID) byte {
	switch id {
	case PropPayloadFormatIndicator:
		return p.PayloadFormatIndicator
	case PropRequestProblemInformation:
		return p.RequestProblemInformation
	case PropRequestResponseInformation:
		return p.RequestResponseInformation
	case PropMaximumQoS:
		return p.MaximumQoS
	case PropRetainAvailable:
		return p.RetainAvailable
	case PropWildcardSubscriptionAvailable:
		return p.WildcardSubscriptionAvailable
	case PropSubscriptionIdentifierAvailable:
		return p.SubscriptionIdentifierAvailable
	case PropSharedSubscriptionAvailable:
		return p.SharedSubscriptionAvailable
	}
	return 0
}

func (p *Properties) uint16Value(id PropID) uint16 {
	switch id {
	case PropServerKeepAlive:
		return p.ServerKeepAlive
	case PropReceiveMaximum:
		return p.ReceiveMaximum
	case PropTopicAliasMaximum:
		return p.TopicAliasMaximum
	case PropTopicAlias:
		return p.TopicAlias
	}
	return 0
}

func (p *Properties) uint32Value(id PropID) uint32 {
	switch id {
	case PropMessageExpiryInterval:
		return p.MessageExpiryInterval
	case PropSessionExpiryInterval:
		return p.SessionExpiryInterval
	case PropWillDelayInterval:
		return p.WillDelayInterval
	case PropMaximumPacketSize:
		return p.MaximumPacketSize
	}
	return 0
}

// decodeProps reads length-prefixed properties of a packet of type t
// from the front of b and returns the rest of b.
func (p *Properties) decodeProps(b []byte, t Type) ([]byte, error) {
	n, b, err := readVarInt(b)
	if err != nil {
		return nil, fmt.Errorf("reading property length: %w", err)
	}
	if uint32(len(b)) < n {
		return nil, malformed("MQTT-2.2.2", "property length %d exceeds packet", n)
	}
	props, rest := b[:n], b[n:]
	for len(props) > 0 {
		var id32 uint32
		// The identifier is a Variable Byte Integer, but every defined one
		// fits one byte.
		id32, props, err = readVarInt(props)
		if err != nil {
			return nil, fmt.Errorf("reading property identifier: %w", err)
		}
		id := PropID(id32)
		s, ok := specOf(id)
		if !ok || id32 > 0xFF {
			return nil, malformed("MQTT-2.2.2", "unknown property identifier 0x%02X", id32)
		}
		if s.packets&(1<<t) == 0 {
			return nil, malformed("MQTT-2.2.2", "%v is not allowed in %v", id, t)
		}
		switch id {
		case PropUserProperty:
			var k, v string
			if k, props, err = readString(props); err != nil {
				return nil, err
			}
			if v, props, err = readString(props); err != nil {
				return nil, err
			}
			p.UserProperties = append(p.UserProperties, UserProperty{k, v})
			continue
		case PropSubscriptionIdentifier:
			var v uint32
			if v, props, err = readVarInt(props); err != nil {
				return nil, err
			}
			if v == 0 {
				// "It is a Protocol Error if the Subscription Identifier
				// has a value of 0" (3.3.2.3.8, 3.8.2.1.2).
				return nil, protocolErr("MQTT-3.8.2.1.2", "subscription identifier 0")
			}
			if t == SUBSCRIBE && len(p.SubscriptionIdentifiers) > 0 {
				return nil, protocolErr("MQTT-3.8.2.1.2", "more than one subscription identifier")
			}
			p.SubscriptionIdentifiers = append(p.SubscriptionIdentifiers, v)
			continue
		}
		if p.Has(id) {
			return nil, protocolErr("MQTT-2.2.2-2", "%v included more than once", id)
		}
		switch s.kind {
		case kindByte:
			if len(props) < 1 {
				return nil, malformed("", "%v truncated", id)
			}
			p.SetByte(id, props[0])
			props = props[1:]
		case kindUint16:
			if len(props) < 2 {
				return nil, malformed("", "%v truncated", id)
			}
			p.SetUint16(id, binary.BigEndian.Uint16(props))
			props = props[2:]
		case kindUint32:
			if len(props) < 4 {
				return nil, malformed("", "%v truncated", id)
			}
			p.SetUint32(id, binary.BigEndian.Uint32(props))
			props = props[4:]
		case kindString:
			var v string
			if v, props, err = readString(props); err != nil {
				return nil, err
			}
			p.SetString(id, v)
		case kindBinary:
			var v []byte
			if v, props, err = readBinary(props); err != nil {
				return nil, err
			}
			p.SetBinary(id, v)
		}
	}
	return rest, p.check(t)
}

// check applies the value rules of section 3 to decoded properties.
func (p *Properties) check(t Type) error {
	if p.Has(PropPayloadFormatIndicator) && p.PayloadFormatIndicator > 1 {
		return protocolErr("MQTT-3.3.2.3.2", "payload format indicator %d", p.PayloadFormatIndicator)
	}
	if p.Has(PropReceiveMaximum) && p.ReceiveMaximum == 0 {
		return protocolErr("MQTT-3.1.2.11.3", "receive maximum 0")
	}
	if p.Has(PropMaximumPacketSize) && p.MaximumPacketSize == 0 {
		return protocolErr("MQTT-3.1.2.11.4", "maximum packet size 0")
	}
	if p.Has(PropRequestProblemInformation) && p.RequestProblemInformation > 1 {
		return protocolErr("MQTT-3.1.2.11.7", "request problem information %d", p.RequestProblemInformation)
	}
	if p.Has(PropRequestResponseInformation) && p.RequestResponseInformation > 1 {
		return protocolErr("MQTT-3.1.2.11.6", "request response information %d", p.RequestResponseInformation)
	}
	if p.Has(PropMaximumQoS) && p.MaximumQoS > 1 {
		return protocolErr("MQTT-3.2.2.3.4", "maximum qos %d", p.MaximumQoS)
	}
	for _, id := range [...]PropID{PropRetainAvailable, PropWildcardSubscriptionAvailable, PropSubscriptionIdentifierAvailable, PropSharedSubscriptionAvailable} {
		if p.Has(id) && p.byteValue(id) > 1 {
			return protocolErr("MQTT-3.2.2.3", "%v %d", id, p.byteValue(id))
		}
	}
	if p.Has(PropTopicAlias) && p.TopicAlias == 0 {
		return protocolErr("MQTT-3.3.2-8", "topic alias 0")
	}
	if p.Has(PropAuthenticationData) && !p.Has(PropAuthenticationMethod) && t == CONNECT {
		return protocolErr("MQTT-3.1.2.11.10", "authentication data without method")
	}
	return nil
}

func varIntSize(v uint32) int {
	if v == 0 {
		return 1
	}
	return (bits.Len32(v) + 6) / 7
}
