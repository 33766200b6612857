package mqtt

import (
	"encoding/binary"
	"fmt"
	"io"
	"strings"
)

// Append appends the encoding of p for protocol version v to dst. Fields
// that v does not have (reason codes and properties before 5.0) are left
// out. It checks what the sender must get right: packet identifiers, QoS,
// and the Remaining Length limit.
func Append(dst []byte, p Packet, v Version) ([]byte, error) {
	if pub, ok := p.(*Publish); ok {
		return appendPublish(dst, pub, v)
	}
	start := len(dst)
	first, err := firstByte(p)
	if err != nil {
		return dst, err
	}
	// Reserve the longest Remaining Length, then close the gap.
	dst = append(dst, first, 0, 0, 0, 0)
	body := len(dst)
	if dst, err = appendBody(dst, p, v); err != nil {
		return dst[:start], err
	}
	n := len(dst) - body
	if n > MaxRemainingLength {
		return dst[:start], fmt.Errorf("encoding %v: remaining length %d exceeds %d", p.Type(), n, MaxRemainingLength)
	}
	var hdr [4]byte
	rl := appendVarInt(hdr[:0], uint32(n))
	copy(dst[start+1:], rl)
	if len(rl) < 4 {
		copy(dst[start+1+len(rl):], dst[body:])
		dst = dst[:len(dst)-(4-len(rl))]
	}
	return dst, nil
}

// WritePacket encodes p for version v and writes it to w in one Write.
func WritePacket(w io.Writer, p Packet, v Version) error {
	b, err := Append(nil, p, v)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// Size returns the encoded length of p for version v.
func Size(p Packet, v Version) (int, error) {
	if pub, ok := p.(*Publish); ok {
		n := publishBodySize(pub, v)
		return 1 + varIntSize(uint32(n)) + n, nil
	}
	b, err := Append(nil, p, v)
	return len(b), err
}

func firstByte(p Packet) (byte, error) {
	t := p.Type()
	switch t {
	case PUBREL, SUBSCRIBE, UNSUBSCRIBE:
		// [MQTT-3.6.1-1, MQTT-3.8.1-1, MQTT-3.10.1-1]
		return byte(t)<<4 | 0x02, nil
	}
	return byte(t) << 4, nil
}

func publishBodySize(p *Publish, v Version) int {
	n := 2 + len(p.Topic) + len(p.Payload)
	if p.QoS > 0 {
		n += 2
	}
	if v == V5 {
		ps := p.Properties.size()
		n += varIntSize(uint32(ps)) + ps
	}
	return n
}

// AppendPublish is Append for a PUBLISH; p does not escape, so a caller
// can build it on the stack.
func AppendPublish(dst []byte, p *Publish, v Version) ([]byte, error) {
	return appendPublish(dst, p, v)
}

// PublishSize is Size for a PUBLISH.
func PublishSize(p *Publish, v Version) int {
	n := publishBodySize(p, v)
	return 1 + varIntSize(uint32(n)) + n
}

func appendPublish(dst []byte, p *Publish, v Version) ([]byte, error) {
	dst, err := appendPublishHeader(dst, p, v)
	if err != nil {
		return dst, err
	}
	return append(dst, p.Payload...), nil
}

// AppendPublishHeader appends all of a PUBLISH but its payload: the fixed
// header (whose Remaining Length counts the payload) and the variable
// header. The caller sends p.Payload right after it, e.g. with writev, so
// a payload shared by many subscribers is never copied per subscriber.
func AppendPublishHeader(dst []byte, p *Publish, v Version) ([]byte, error) {
	return appendPublishHeader(dst, p, v)
}

func appendPublishHeader(dst []byte, p *Publish, v Version) ([]byte, error) {
	if p.QoS > 2 {
		return dst, fmt.Errorf("encoding PUBLISH: qos %d", p.QoS)
	}
	if p.QoS == 0 && p.Dup {
		return dst, fmt.Errorf("encoding PUBLISH: dup set on qos 0 [MQTT-3.3.1-2]")
	}
	if err := checkLen(PUBLISH, "topic name", len(p.Topic)); err != nil {
		return dst, err
	}
	if p.QoS > 0 && p.PacketID == 0 {
		return dst, fmt.Errorf("encoding PUBLISH: qos %d needs a packet identifier [MQTT-2.2.1-3]", p.QoS)
	}
	n := publishBodySize(p, v)
	if n > MaxRemainingLength {
		return dst, fmt.Errorf("encoding PUBLISH: remaining length %d exceeds %d", n, MaxRemainingLength)
	}
	first := byte(PUBLISH)<<4 | p.QoS<<1
	if p.Dup {
		first |= 0x08
	}
	if p.Retain {
		first |= 0x01
	}
	start := len(dst)
	dst = append(dst, first)
	dst = appendVarInt(dst, uint32(n))
	dst = appendString(dst, p.Topic)
	if p.QoS > 0 {
		dst = binary.BigEndian.AppendUint16(dst, p.PacketID)
	}
	if v == V5 {
		var err error
		if dst, err = p.Properties.appendProps(dst, PUBLISH); err != nil {
			return dst[:start], err
		}
	}
	return dst, nil
}

func appendBody(dst []byte, p Packet, v Version) ([]byte, error) {
	var err error
	switch p := p.(type) {
	case *Connect:
		return appendConnect(dst, p)
	case *Connack:
		flags := byte(0)
		if p.SessionPresent {
			flags = 1
		}
		if v != V5 {
			return append(dst, flags, p.ReasonCode.V3(CONNACK)), nil
		}
		dst = append(dst, flags, byte(p.ReasonCode))
		return p.Properties.appendProps(dst, CONNACK)
	case *Puback:
		return appendAck(dst, PUBACK, p.PacketID, p.ReasonCode, &p.Properties, v)
	case *Pubrec:
		return appendAck(dst, PUBREC, p.PacketID, p.ReasonCode, &p.Properties, v)
	case *Pubrel:
		return appendAck(dst, PUBREL, p.PacketID, p.ReasonCode, &p.Properties, v)
	case *Pubcomp:
		return appendAck(dst, PUBCOMP, p.PacketID, p.ReasonCode, &p.Properties, v)
	case *Subscribe:
		if p.PacketID == 0 {
			return dst, fmt.Errorf("encoding SUBSCRIBE: packet identifier 0 [MQTT-2.2.1-3]")
		}
		if len(p.Subscriptions) == 0 {
			return dst, fmt.Errorf("encoding SUBSCRIBE: no topic filter [MQTT-3.8.3-2]")
		}
		dst = binary.BigEndian.AppendUint16(dst, p.PacketID)
		if v == V5 {
			if dst, err = p.Properties.appendProps(dst, SUBSCRIBE); err != nil {
				return dst, err
			}
		}
		for _, s := range p.Subscriptions {
			if err := checkLen(SUBSCRIBE, "topic filter", len(s.Filter)); err != nil {
				return dst, err
			}
			if s.QoS > 2 || s.RetainHandling > 2 {
				return dst, fmt.Errorf("encoding SUBSCRIBE: qos %d, retain handling %d", s.QoS, s.RetainHandling)
			}
			if v == V5 && s.NoLocal && strings.HasPrefix(s.Filter, SharePrefix) {
				return dst, fmt.Errorf("encoding SUBSCRIBE: no local on shared subscription %q [MQTT-3.8.3-4]", s.Filter)
			}
			dst = appendString(dst, s.Filter)
			opts := s.QoS
			if v == V5 {
				if s.NoLocal {
					opts |= 0x04
				}
				if s.RetainAsPublished {
					opts |= 0x08
				}
				opts |= s.RetainHandling << 4
			}
			dst = append(dst, opts)
		}
		return dst, nil
	case *Suback:
		if p.PacketID == 0 {
			return dst, fmt.Errorf("encoding SUBACK: packet identifier 0 [MQTT-3.8.4-2]")
		}
		dst = binary.BigEndian.AppendUint16(dst, p.PacketID)
		if v == V5 {
			if dst, err = p.Properties.appendProps(dst, SUBACK); err != nil {
				return dst, err
			}
			for _, c := range p.ReasonCodes {
				dst = append(dst, byte(c))
			}
			return dst, nil
		}
		for _, c := range p.ReasonCodes {
			dst = append(dst, c.V3(SUBACK))
		}
		return dst, nil
	case *Unsubscribe:
		if p.PacketID == 0 {
			return dst, fmt.Errorf("encoding UNSUBSCRIBE: packet identifier 0 [MQTT-2.2.1-3]")
		}
		if len(p.Filters) == 0 {
			return dst, fmt.Errorf("encoding UNSUBSCRIBE: no topic filter [MQTT-3.10.3-2]")
		}
		dst = binary.BigEndian.AppendUint16(dst, p.PacketID)
		if v == V5 {
			if dst, err = p.Properties.appendProps(dst, UNSUBSCRIBE); err != nil {
				return dst, err
			}
		}
		for _, f := range p.Filters {
			if err := checkLen(UNSUBSCRIBE, "topic filter", len(f)); err != nil {
				return dst, err
			}
			dst = appendString(dst, f)
		}
		return dst, nil
	case *Unsuback:
		if p.PacketID == 0 {
			return dst, fmt.Errorf("encoding UNSUBACK: packet identifier 0 [MQTT-3.10.4-4]")
		}
		dst = binary.BigEndian.AppendUint16(dst, p.PacketID)
		if v == V5 {
			if dst, err = p.Properties.appendProps(dst, UNSUBACK); err != nil {
				return dst, err
			}
			for _, c := range p.ReasonCodes {
				dst = append(dst, byte(c))
			}
		}
		return dst, nil
	case *Pingreq, *Pingresp:
		return dst, nil
	case *Disconnect:
		if v != V5 {
			return dst, nil
		}
		// The reason code and properties may be left out when the code is
		// 0x00 and there are no properties (3.14.2.1).
		if p.ReasonCode == NormalDisconnection && p.Properties.Empty() {
			return dst, nil
		}
		dst = append(dst, byte(p.ReasonCode))
		return p.Properties.appendProps(dst, DISCONNECT)
	case *Auth:
		if v != V5 {
			return dst, fmt.Errorf("encoding AUTH: not in MQTT %v", v)
		}
		if p.ReasonCode == Success && p.Properties.Empty() {
			return dst, nil
		}
		if !p.Properties.Has(PropAuthenticationMethod) {
			return dst, fmt.Errorf("encoding AUTH: no authentication method (3.15.2.2.2)")
		}
		dst = append(dst, byte(p.ReasonCode))
		return p.Properties.appendProps(dst, AUTH)
	}
	return dst, fmt.Errorf("encoding: unknown packet %T", p)
}

// AppendAck appends a PUBACK, PUBREC, PUBREL or PUBCOMP without
// properties, exactly as Append encodes the same packet, without making
// one: the acknowledgements a server sends per message.
func AppendAck(dst []byte, t Type, id uint16, code ReasonCode, v Version) ([]byte, error) {
	first := byte(t) << 4
	switch t {
	case PUBACK, PUBREC, PUBCOMP:
	case PUBREL:
		first |= 0x02 // [MQTT-3.6.1-1]
	default:
		return dst, fmt.Errorf("encoding %v: not an acknowledgement", t)
	}
	start := len(dst)
	dst = append(dst, first, 0)
	var none Properties
	dst, err := appendAck(dst, t, id, code, &none, v)
	if err != nil {
		return dst[:start], err
	}
	dst[start+1] = byte(len(dst) - start - 2) // at most 3: one byte
	return dst, nil
}

func appendAck(dst []byte, t Type, id uint16, code ReasonCode, props *Properties, v Version) ([]byte, error) {
	if id == 0 {
		return dst, fmt.Errorf("encoding %v: packet identifier 0 [MQTT-2.2.1-3]", t)
	}
	dst = binary.BigEndian.AppendUint16(dst, id)
	if v != V5 {
		return dst, nil
	}
	// The reason code may be left out when it is 0x00 and there are no
	// properties [MQTT-3.4.2-1 and 3.4.2.1].
	if code == Success && props.Empty() {
		return dst, nil
	}
	dst = append(dst, byte(code))
	if props.Empty() {
		return dst, nil
	}
	return props.appendProps(dst, t)
}

func appendConnect(dst []byte, p *Connect) ([]byte, error) {
	name := p.ProtocolName
	if name == "" {
		name = "MQTT"
		if p.Version == V31 {
			name = "MQIsdp"
		}
	}
	if p.Version != V5 && p.PasswordFlag && !p.UsernameFlag {
		return dst, fmt.Errorf("encoding CONNECT: password without user name [MQTT-3.1.2-22]")
	}
	for _, f := range [...]struct {
		what string
		n    int
	}{{"protocol name", len(name)}, {"client identifier", len(p.ClientID)}, {"user name", len(p.Username)}, {"password", len(p.Password)}} {
		if err := checkLen(CONNECT, f.what, f.n); err != nil {
			return dst, err
		}
	}
	if p.Will != nil {
		if err := checkLen(CONNECT, "will topic", len(p.Will.Topic)); err != nil {
			return dst, err
		}
		if err := checkLen(CONNECT, "will payload", len(p.Will.Payload)); err != nil {
			return dst, err
		}
	}
	dst = appendString(dst, name)
	dst = append(dst, byte(p.Version))
	var flags byte
	if p.UsernameFlag {
		flags |= 0x80
	}
	if p.PasswordFlag {
		flags |= 0x40
	}
	if p.Will != nil {
		if p.Will.QoS > 2 {
			return dst, fmt.Errorf("encoding CONNECT: will qos %d", p.Will.QoS)
		}
		flags |= 0x04 | p.Will.QoS<<3
		if p.Will.Retain {
			flags |= 0x20
		}
	}
	if p.CleanStart {
		flags |= 0x02
	}
	dst = append(dst, flags)
	dst = binary.BigEndian.AppendUint16(dst, p.KeepAlive)
	var err error
	if p.Version == V5 {
		if dst, err = p.Properties.appendProps(dst, CONNECT); err != nil {
			return dst, err
		}
	}
	dst = appendString(dst, p.ClientID)
	if p.Will != nil {
		if p.Version == V5 {
			if dst, err = p.Will.Properties.appendProps(dst, willProps); err != nil {
				return dst, err
			}
		}
		dst = appendString(dst, p.Will.Topic)
		dst = appendBinary(dst, p.Will.Payload)
	}
	if p.UsernameFlag {
		dst = appendString(dst, p.Username)
	}
	if p.PasswordFlag {
		dst = appendBinary(dst, p.Password)
	}
	return dst, nil
}

// maxString is the most bytes a UTF-8 Encoded String or Binary Data can
// hold: its length prefix is a Two Byte Integer (1.5.4, 1.5.6).
const maxString = 65535

// checkLen refuses a string or binary field too long for its length
// prefix, which would otherwise be written truncated and desynchronise the
// stream.
func checkLen(t Type, what string, n int) error {
	if n > maxString {
		return fmt.Errorf("encoding %v: %s of %d bytes exceeds %d", t, what, n, maxString)
	}
	return nil
}
