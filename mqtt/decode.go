package mqtt

import (
	"encoding/binary"
	"strings"
	"unsafe"
)

// Decode decodes one packet from its first byte and its body (the
// Remaining Length bytes) for protocol version v. CONNECT carries its own
// version and ignores v. The packet never aliases body.
//
// Errors are *Error with the reason code that answers them. A CONNECT that
// fails after its protocol name and level were read is returned alongside
// the error, with ProtocolName and Version set, so the caller can answer in
// the client's version.
func Decode(first byte, body []byte, v Version) (Packet, error) {
	return decode(first, body, v, false)
}

// decode is Decode; owned says body is the caller's to keep, so PUBLISH
// need not copy it.
func decode(first byte, body []byte, v Version, owned bool) (Packet, error) {
	t := Type(first >> 4)
	flags := first & 0x0F
	if err := checkFlags(t, flags, v); err != nil {
		return nil, err
	}
	switch t {
	case CONNECT:
		return decodeConnect(body)
	case CONNACK:
		return decodeConnack(body, v)
	case PUBLISH:
		return decodePublish(flags, body, v, owned)
	case PUBACK:
		a, err := decodeAck(PUBACK, body, v)
		if err != nil {
			return nil, err // not a typed nil *Puback in a non-nil Packet
		}
		return (*Puback)(a), nil
	case PUBREC:
		a, err := decodeAck(PUBREC, body, v)
		if err != nil {
			return nil, err // not a typed nil *Pubrec in a non-nil Packet
		}
		return (*Pubrec)(a), nil
	case PUBREL:
		a, err := decodeAck(PUBREL, body, v)
		if err != nil {
			return nil, err // not a typed nil *Pubrel in a non-nil Packet
		}
		return (*Pubrel)(a), nil
	case PUBCOMP:
		a, err := decodeAck(PUBCOMP, body, v)
		if err != nil {
			return nil, err // not a typed nil *Pubcomp in a non-nil Packet
		}
		return (*Pubcomp)(a), nil
	case SUBSCRIBE:
		return decodeSubscribe(body, v)
	case SUBACK:
		return decodeSuback(body, v)
	case UNSUBSCRIBE:
		return decodeUnsubscribe(body, v)
	case UNSUBACK:
		return decodeUnsuback(body, v)
	case PINGREQ, PINGRESP:
		if len(body) != 0 {
			return nil, malformed("MQTT-3.12", "%v with remaining length %d", t, len(body))
		}
		if t == PINGREQ {
			return &Pingreq{}, nil
		}
		return &Pingresp{}, nil
	case DISCONNECT:
		return decodeDisconnect(body, v)
	case AUTH:
		return decodeAuth(body)
	}
	return nil, malformed("MQTT-2.1.2", "reserved packet type %d", byte(t))
}

// checkFlags applies the fixed header flag rules of table 2-2
// [MQTT-2.1.3-1]: bits marked reserved must hold their listed value.
func checkFlags(t Type, flags byte, v Version) error {
	switch t {
	case 0:
		return malformed("MQTT-2.1.2", "reserved packet type 0")
	case PUBLISH:
		qos := flags >> 1 & 3
		if qos == 3 {
			return malformed("MQTT-3.3.1-4", "publish qos 3")
		}
		if qos == 0 && flags&0x08 != 0 {
			return malformed("MQTT-3.3.1-2", "dup set on qos 0 publish")
		}
		return nil
	case PUBREL, SUBSCRIBE, UNSUBSCRIBE:
		// MQTT 3.1 sets DUP on a PUBREL, SUBSCRIBE or UNSUBSCRIBE it
		// re-delivers (3.1 section 2.1); 3.1.1 made the bit reserved.
		if v == V31 && flags == 0x0A {
			return nil
		}
		if flags != 0x02 {
			return malformed("MQTT-2.1.3-1", "%v flags 0x%X, want 0x2", t, flags)
		}
		return nil
	case AUTH:
		if v != V5 {
			return malformed("MQTT-2.1.2", "AUTH is not a packet of MQTT %v", v)
		}
	}
	if flags != 0 {
		return malformed("MQTT-2.1.3-1", "%v flags 0x%X, want 0", t, flags)
	}
	return nil
}

func decodeConnect(b []byte) (Packet, error) {
	p := &Connect{}
	name, b, err := readString(b)
	if err != nil {
		return nil, err
	}
	if name != "MQTT" && name != "MQIsdp" {
		// 5.0 names the answer: CONNACK 0x84 then close [MQTT-3.1.2-1].
		return nil, Errorf(UnsupportedProtocolVersion, "MQTT-3.1.2-1", "protocol name %q", name)
	}
	p.ProtocolName = name
	if len(b) < 1 {
		return nil, malformed("MQTT-3.1.2", "protocol level missing")
	}
	p.Version = Version(b[0])
	b = b[1:]
	switch {
	case name == "MQIsdp" && p.Version == V31, name == "MQTT" && (p.Version == V311 || p.Version == V5):
	default:
		return p, Errorf(UnsupportedProtocolVersion, "MQTT-3.1.2-2", "protocol %q level %d", name, byte(p.Version))
	}
	if len(b) < 3 {
		return p, malformed("MQTT-3.1.2", "connect flags and keep alive truncated")
	}
	flags := b[0]
	p.KeepAlive = binary.BigEndian.Uint16(b[1:])
	b = b[3:]
	if flags&0x01 != 0 {
		return p, malformed("MQTT-3.1.2-3", "reserved connect flag set")
	}
	p.CleanStart = flags&0x02 != 0
	willFlag := flags&0x04 != 0
	willQoS := flags >> 3 & 3
	willRetain := flags&0x20 != 0
	p.PasswordFlag = flags&0x40 != 0
	p.UsernameFlag = flags&0x80 != 0
	if !willFlag && willQoS != 0 {
		return p, malformed("MQTT-3.1.2-11", "will qos set without will flag")
	}
	if !willFlag && willRetain {
		return p, malformed("MQTT-3.1.2-13", "will retain set without will flag")
	}
	if willQoS == 3 {
		return p, malformed("MQTT-3.1.2-12", "will qos 3")
	}
	if p.Version != V5 && p.PasswordFlag && !p.UsernameFlag {
		return p, malformed("MQTT-3.1.2-22", "password flag set without user name flag")
	}
	if p.Version == V5 {
		if b, err = p.Properties.decodeProps(b, CONNECT); err != nil {
			return p, err
		}
	}
	if p.ClientID, b, err = readString(b); err != nil {
		return p, err
	}
	if willFlag {
		w := &Will{QoS: willQoS, Retain: willRetain}
		if p.Version == V5 {
			if b, err = w.Properties.decodeProps(b, willProps); err != nil {
				return p, err
			}
		}
		if w.Topic, b, err = readString(b); err != nil {
			return p, err
		}
		if err := ValidTopicName(w.Topic); err != nil {
			return p, Errorf(TopicNameInvalid, "MQTT-3.1.3-11", "will topic: %v", err)
		}
		if w.Payload, b, err = readBinary(b); err != nil {
			return p, err
		}
		p.Will = w
	}
	if p.UsernameFlag {
		if p.Username, b, err = readString(b); err != nil {
			return p, err
		}
	}
	if p.PasswordFlag {
		if p.Password, b, err = readBinary(b); err != nil {
			return p, err
		}
	}
	if len(b) != 0 {
		return p, malformed("MQTT-3.1.3", "%d bytes after connect payload", len(b))
	}
	return p, nil
}

func decodeConnack(b []byte, v Version) (Packet, error) {
	if len(b) < 2 {
		return nil, malformed("MQTT-3.2.2", "connack truncated")
	}
	if b[0]&0xFE != 0 {
		return nil, malformed("MQTT-3.2.2-1", "reserved connack flags set")
	}
	p := &Connack{SessionPresent: b[0]&1 != 0, ReasonCode: ReasonCode(b[1])}
	if v != V5 && b[1] > ConnRefusedNotAuthorized {
		// Return codes 6-255 are reserved (3.1.1 table 3.1).
		return nil, malformed("MQTT-3.2.2", "reserved connack return code %d", b[1])
	}
	b = b[2:]
	if v == V5 {
		var err error
		if b, err = p.Properties.decodeProps(b, CONNACK); err != nil {
			return nil, err
		}
	}
	if len(b) != 0 {
		return nil, malformed("MQTT-3.2", "%d bytes after connack", len(b))
	}
	return p, nil
}

func decodePublish(flags byte, body []byte, v Version, owned bool) (Packet, error) {
	p := &Publish{Dup: flags&0x08 != 0, QoS: flags >> 1 & 3, Retain: flags&0x01 != 0}
	// One copy of the body holds the topic and the payload, which is what
	// a routed message keeps.
	b := body
	if !owned {
		b = append(make([]byte, 0, len(body)), body...)
	}
	n, b, err := readUint16(b)
	if err != nil {
		return nil, err
	}
	if len(b) < int(n) {
		return nil, malformed("MQTT-3.3.2", "topic name truncated")
	}
	topic := b[:n]
	if err := checkUTF8(topic); err != nil {
		return nil, err
	}
	if n > 0 {
		p.Topic = unsafe.String(&topic[0], n)
	}
	b = b[n:]
	if p.QoS > 0 {
		if p.PacketID, b, err = readUint16(b); err != nil {
			return nil, err
		}
		if p.PacketID == 0 {
			return nil, protocolErr("MQTT-2.2.1-3", "publish qos %d with packet identifier 0", p.QoS)
		}
	}
	if v == V5 {
		if b, err = p.Properties.decodeProps(b, PUBLISH); err != nil {
			return nil, err
		}
	}
	if err := checkPublishTopic(p, v); err != nil {
		return nil, err
	}
	if len(b) > 0 {
		p.Payload = b
	}
	return p, nil
}

// checkPublishTopic applies the topic name rules to a decoded PUBLISH,
// whose topic passed checkUTF8 already: what ValidTopicName checks, with
// one pass for the wildcards instead of another UTF-8 pass.
func checkPublishTopic(p *Publish, v Version) error {
	if p.Topic == "" {
		if v == V5 && p.Properties.Has(PropTopicAlias) {
			return nil
		}
		return protocolErr("MQTT-4.7.3-1", "empty topic name")
	}
	for i := 0; i < len(p.Topic); i++ {
		if c := p.Topic[i]; c == '+' || c == '#' {
			// Same error as ValidTopicName's.
			return Errorf(TopicNameInvalid, "MQTT-3.3.2-2", "%v", ValidTopicName(p.Topic))
		}
	}
	return nil
}

func decodeAck(t Type, b []byte, v Version) (*Puback, error) {
	p := &Puback{}
	if err := decodeAckInto(p, t, b, v); err != nil {
		return nil, err
	}
	return p, nil
}

// decodeAckInto decodes an acknowledgement body into p, which is zero.
func decodeAckInto(p *Puback, t Type, b []byte, v Version) error {
	id, b, err := readUint16(b)
	if err != nil {
		return err
	}
	if id == 0 {
		return protocolErr("MQTT-2.2.1-3", "%v with packet identifier 0", t)
	}
	p.PacketID = id
	if v != V5 {
		if len(b) != 0 {
			return malformed("MQTT-3.4", "%v with remaining length %d", t, len(b)+2)
		}
		return nil
	}
	if len(b) == 0 {
		return nil
	}
	p.ReasonCode = ReasonCode(b[0])
	b = b[1:]
	if len(b) == 0 {
		return nil
	}
	if b, err = p.Properties.decodeProps(b, t); err != nil {
		return err
	}
	if len(b) != 0 {
		return malformed("MQTT-3.4", "%d bytes after %v", len(b), t)
	}
	return nil
}

func decodeSubscribe(b []byte, v Version) (Packet, error) {
	p := &Subscribe{}
	var err error
	if p.PacketID, b, err = readUint16(b); err != nil {
		return nil, err
	}
	if p.PacketID == 0 {
		return nil, protocolErr("MQTT-2.2.1-3", "subscribe with packet identifier 0")
	}
	if v == V5 {
		if b, err = p.Properties.decodeProps(b, SUBSCRIBE); err != nil {
			return nil, err
		}
	}
	for len(b) > 0 {
		var s Subscription
		if s.Filter, b, err = readString(b); err != nil {
			return nil, err
		}
		if len(b) < 1 {
			return nil, malformed("MQTT-3.8.3", "subscription options missing")
		}
		opts := b[0]
		b = b[1:]
		s.QoS = opts & 3
		if v == V5 {
			if opts&0xC0 != 0 {
				return nil, malformed("MQTT-3.8.3-5", "reserved subscription option bits set")
			}
			if s.QoS == 3 {
				// 3.8.3.1: "It is a Protocol Error if the Maximum QoS
				// field has the value 3."
				return nil, protocolErr("MQTT-3.8.3.1", "subscription qos 3")
			}
			s.NoLocal = opts&0x04 != 0
			s.RetainAsPublished = opts&0x08 != 0
			s.RetainHandling = opts >> 4 & 3
			if s.RetainHandling == 3 {
				return nil, protocolErr("MQTT-3.8.3.1", "retain handling 3")
			}
			if s.NoLocal && strings.HasPrefix(s.Filter, SharePrefix) {
				return nil, protocolErr("MQTT-3.8.3-4", "no local set on shared subscription %q", s.Filter)
			}
		} else if opts&0xFC != 0 || s.QoS == 3 {
			// 3.1.1 cites this rule as [MQTT-3-8.3-4].
			return nil, malformed("MQTT-3.8.3-4", "reserved subscription option bits set or qos 3")
		}
		p.Subscriptions = append(p.Subscriptions, s)
	}
	if len(p.Subscriptions) == 0 {
		return nil, protocolErr("MQTT-3.8.3-2", "subscribe without topic filter")
	}
	return p, nil
}

func decodeSuback(b []byte, v Version) (Packet, error) {
	p := &Suback{}
	var err error
	if p.PacketID, b, err = readUint16(b); err != nil {
		return nil, err
	}
	if p.PacketID == 0 {
		// It echoes a SUBSCRIBE's identifier, never 0 [MQTT-3.8.4-2].
		return nil, protocolErr("MQTT-2.2.1-3", "suback with packet identifier 0")
	}
	if v == V5 {
		if b, err = p.Properties.decodeProps(b, SUBACK); err != nil {
			return nil, err
		}
	}
	for _, c := range b {
		if v != V5 && c > 2 && c != SubackFailureV3 {
			return nil, malformed("MQTT-3.9.3-2", "reserved suback return code 0x%02X", c)
		}
		p.ReasonCodes = append(p.ReasonCodes, ReasonCode(c))
	}
	return p, nil
}

func decodeUnsubscribe(b []byte, v Version) (Packet, error) {
	p := &Unsubscribe{}
	var err error
	if p.PacketID, b, err = readUint16(b); err != nil {
		return nil, err
	}
	if p.PacketID == 0 {
		return nil, protocolErr("MQTT-2.2.1-3", "unsubscribe with packet identifier 0")
	}
	if v == V5 {
		if b, err = p.Properties.decodeProps(b, UNSUBSCRIBE); err != nil {
			return nil, err
		}
	}
	for len(b) > 0 {
		var f string
		if f, b, err = readString(b); err != nil {
			return nil, err
		}
		p.Filters = append(p.Filters, f)
	}
	if len(p.Filters) == 0 {
		return nil, protocolErr("MQTT-3.10.3-2", "unsubscribe without topic filter")
	}
	return p, nil
}

func decodeUnsuback(b []byte, v Version) (Packet, error) {
	p := &Unsuback{}
	var err error
	if p.PacketID, b, err = readUint16(b); err != nil {
		return nil, err
	}
	if p.PacketID == 0 {
		// It echoes an UNSUBSCRIBE's identifier, never 0 [MQTT-3.10.4-4].
		return nil, protocolErr("MQTT-2.2.1-3", "unsuback with packet identifier 0")
	}
	if v != V5 {
		if len(b) != 0 {
			return nil, malformed("MQTT-3.11", "unsuback with remaining length %d", len(b)+2)
		}
		return p, nil
	}
	if b, err = p.Properties.decodeProps(b, UNSUBACK); err != nil {
		return nil, err
	}
	for _, c := range b {
		p.ReasonCodes = append(p.ReasonCodes, ReasonCode(c))
	}
	return p, nil
}

func decodeDisconnect(b []byte, v Version) (Packet, error) {
	p := &Disconnect{}
	if v != V5 {
		if len(b) != 0 {
			return nil, malformed("MQTT-3.14", "disconnect with remaining length %d", len(b))
		}
		return p, nil
	}
	if len(b) == 0 {
		return p, nil
	}
	p.ReasonCode = ReasonCode(b[0])
	if len(b) == 1 {
		return p, nil
	}
	rest, err := p.Properties.decodeProps(b[1:], DISCONNECT)
	if err != nil {
		return nil, err
	}
	if len(rest) != 0 {
		return nil, malformed("MQTT-3.14", "%d bytes after disconnect", len(rest))
	}
	return p, nil
}

func decodeAuth(b []byte) (Packet, error) {
	p := &Auth{}
	if len(b) == 0 {
		return p, nil
	}
	p.ReasonCode = ReasonCode(b[0])
	switch p.ReasonCode {
	case Success, ContinueAuthentication, ReAuthenticate:
	default:
		return nil, malformed("MQTT-3.15.2-1", "auth reason code 0x%02X", byte(p.ReasonCode))
	}
	if len(b) == 1 {
		// No property length: no authentication method either.
		return nil, protocolErr("MQTT-3.15.2.2.2", "auth without authentication method")
	}
	rest, err := p.Properties.decodeProps(b[1:], AUTH)
	if err != nil {
		return nil, err
	}
	if len(rest) != 0 {
		return nil, malformed("MQTT-3.15", "%d bytes after auth", len(rest))
	}
	if !p.Properties.Has(PropAuthenticationMethod) {
		// 3.15.2.2.2: "It is a Protocol Error to omit the Authentication
		// Method"; only the zero-length form has no properties at all.
		return nil, protocolErr("MQTT-3.15.2.2.2", "auth without authentication method")
	}
	return p, nil
}
