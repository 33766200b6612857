package gateway

// Raw-socket tests of what the gateway does with illegal input: malformed
// and refused CONNECTs, packets before CONNECT, bad framing, and protocol
// violations right after CONNECT. Every row sends bytes written here (not
// produced by the encoder, except where a valid packet is encoded and then
// mutated) and checks the exact answer.

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"testing"
	"time"

	"edgemq/configs"
	"edgemq/mqtt"
	"edgemq/mqtt/mqtttest"
)

// illReadTimeout bounds every read of these tests. It is generous: it only
// matters when a connection the test expects to be closed stays open.
const illReadTimeout = 5 * time.Second

// illShortTimeout is the connect_timeout of the "short" listener.
const illShortTimeout = 200 * time.Millisecond

// Byte-string builders. They write fields as the specification lays them
// out and check nothing, so that they can write illegal packets.

// illHex decodes hex written with optional spaces: illHex("C0 00").
func illHex(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// illVBI encodes a Variable Byte Integer (minimal form).
func illVBI(n int) []byte {
	var out []byte
	for {
		d := byte(n & 0x7F)
		n >>= 7
		if n == 0 {
			return append(out, d)
		}
		out = append(out, d|0x80)
	}
}

// illFrame puts the fixed header (first byte, Remaining Length) before
// the body parts.
func illFrame(first byte, body ...[]byte) []byte {
	b := bytes.Join(body, nil)
	return append(append([]byte{first}, illVBI(len(b))...), b...)
}

// illStr is a UTF-8 Encoded String (or Binary Data) field: a two byte
// length, then s as it is, valid or not.
func illStr(s string) []byte {
	return append([]byte{byte(len(s) >> 8), byte(len(s))}, s...)
}

// illProps is a v5 property block: its length, then the properties.
func illProps(ps ...[]byte) []byte {
	b := bytes.Join(ps, nil)
	return append(illVBI(len(b)), b...)
}

// illConnect is a CONNECT of protocol name and level with the connect
// flags, keep alive 60 s, and the rest of the variable header and the
// payload as given (for level 5 the first part is the property block).
func illConnect(name string, level, flags byte, rest ...[]byte) []byte {
	hdr := append(illStr(name), level, flags, 0x00, 0x3C)
	return illFrame(0x10, append([][]byte{hdr}, rest...)...)
}

// Shorthands for the three versions. flags 0x02 is clean session/start.
func illC31(flags byte, payload ...[]byte) []byte {
	return illConnect("MQIsdp", 3, flags, payload...)
}

func illC311(flags byte, payload ...[]byte) []byte {
	return illConnect("MQTT", 4, flags, payload...)
}

func illC5(flags byte, props []byte, payload ...[]byte) []byte {
	return illConnect("MQTT", 5, flags, append([][]byte{props}, payload...)...)
}

// illEncode encodes a valid packet with the codec, for rows that mutate
// one.
func illEncode(p mqtt.Packet, v mqtt.Version) []byte {
	b, err := mqtt.Append(nil, p, v)
	if err != nil {
		panic(err)
	}
	return b
}

// illGoodConnect is a valid CONNECT with clean session/start.
func illGoodConnect(v mqtt.Version, clientID string) []byte {
	return illEncode(&mqtt.Connect{Version: v, CleanStart: true, KeepAlive: 60, ClientID: clientID}, v)
}

// illSplit returns a packet's first byte and body; it handles only
// packets it built, with a minimal Remaining Length.
func illSplit(pkt []byte) (byte, []byte) {
	i := 1
	for pkt[i]&0x80 != 0 {
		i++
	}
	return pkt[0], pkt[i+1:]
}

// illAppendBody re-frames pkt with extra bytes at the end of its body.
func illAppendBody(pkt []byte, extra ...byte) []byte {
	first, body := illSplit(pkt)
	return illFrame(first, body, extra)
}

// illSetConnectFlags sets bits in the connect flags of an encoded CONNECT.
func illSetConnectFlags(pkt []byte, bits byte) []byte {
	first, body := illSplit(pkt)
	body = bytes.Clone(body)
	nameLen := int(body[0])<<8 | int(body[1])
	body[2+nameLen+1] |= bits
	return illFrame(first, body)
}

// illHeaderOnly is a fixed header declaring a Remaining Length of rl,
// without the body.
func illHeaderOnly(first byte, rl int) []byte {
	return append([]byte{first}, illVBI(rl)...)
}

// answerKind is what the server does with a row's bytes.
type answerKind int

const (
	// closedSilently: the connection is closed and nothing is sent.
	closedSilently answerKind = iota
	// connackV3: exactly 20 02 00 rc, then the close.
	connackV3
	// connackV5: a v5 CONNACK with the reason code, then the close.
	connackV5
	// disconnectV5: a v5 DISCONNECT with the reason code, then the close.
	disconnectV5
	// accepted: CONNACK success in the row's version; the connection stays
	// open (the test then disconnects cleanly).
	accepted
)

type illAnswer struct {
	kind answerKind
	code mqtt.ReasonCode // v5 reason code, or the 3.x return code
	v    mqtt.Version    // for accepted
	// maxSize, when set, bounds the v5 answer's size: the Maximum Packet
	// Size the row's CONNECT asked for [MQTT-3.1.2-24, MQTT-3.2.2-19].
	maxSize int
}

// within bounds a v5 answer's size.
func (a illAnswer) within(n int) illAnswer { a.maxSize = n; return a }

func silentClose() illAnswer                   { return illAnswer{kind: closedSilently} }
func v3Refusal(rc byte) illAnswer              { return illAnswer{kind: connackV3, code: mqtt.ReasonCode(rc)} }
func v5Refusal(c mqtt.ReasonCode) illAnswer    { return illAnswer{kind: connackV5, code: c} }
func v5Disconnect(c mqtt.ReasonCode) illAnswer { return illAnswer{kind: disconnectV5, code: c} }
func acceptedAs(v mqtt.Version) illAnswer      { return illAnswer{kind: accepted, v: v} }

func (a illAnswer) String() string {
	switch a.kind {
	case closedSilently:
		return "closed without answer"
	case connackV3:
		return fmt.Sprintf("3.x CONNACK return code 0x%02X then close", byte(a.code))
	case connackV5:
		return fmt.Sprintf("v5 CONNACK %v then close", a.code)
	case disconnectV5:
		return fmt.Sprintf("v5 DISCONNECT %v then close", a.code)
	}
	return fmt.Sprintf("accepted as %v", a.v)
}

// illRow is one illegal input.
type illRow struct {
	name string
	// rule is the normative statement (or section) the input breaks.
	rule string
	// listener is "tcp" unless set; "short" has connect_timeout 200ms.
	listener string
	// after, when set, connects first with a valid CONNECT of that version
	// and sends send once CONNACK is in.
	after mqtt.Version
	send  []byte
	want  illAnswer
}

// illegalRows is the table. Client identifiers are unique per row so no
// row takes over another's session.
func illegalRows(maxPacketSize int) []illRow {
	id := func(s string) []byte { return illStr("ill-" + s) }
	const (
		clean    = 0x02
		will     = 0x04
		willQoS1 = 0x08
		willQoS2 = 0x10
		willRet  = 0x20
		pass     = 0x40
		user     = 0x80
	)
	// The largest packet accepted, plus one, with a 4-byte header.
	tooLarge := maxPacketSize - 4 + 1
	return []illRow{
		// Protocol name and level.
		{name: "3.1.1 protocol name MQTX", rule: "MQTT-3.1.2-1",
			send: illConnect("MQTX", 4, clean, id("name1")), want: silentClose()},
		{name: "5.0 protocol name MQTX", rule: "MQTT-3.1.2-1",
			send: illConnect("MQTX", 5, clean, illProps(), id("name2")), want: silentClose()},
		{name: "protocol name lower case mqtt", rule: "MQTT-3.1.2-1",
			send: illConnect("mqtt", 4, clean, id("name3")), want: silentClose()},
		{name: "protocol name not UTF-8", rule: "MQTT-1.5.4-1",
			send: illConnect("MQ\xffT", 4, clean, id("name4")), want: silentClose()},
		{name: "MQTT level 3", rule: "MQTT-3.1.2-2",
			send: illConnect("MQTT", 3, clean, id("lvl3")), want: v3Refusal(mqtt.ConnRefusedProtocolVersion)},
		{name: "MQTT level 2", rule: "MQTT-3.1.2-2",
			send: illConnect("MQTT", 2, clean, id("lvl2")), want: v3Refusal(mqtt.ConnRefusedProtocolVersion)},
		{name: "MQTT level 0", rule: "MQTT-3.1.2-2",
			send: illConnect("MQTT", 0, clean, id("lvl0")), want: v3Refusal(mqtt.ConnRefusedProtocolVersion)},
		{name: "MQIsdp level 4", rule: "MQTT-3.1.2-2",
			send: illConnect("MQIsdp", 4, clean, id("lvl4")), want: v3Refusal(mqtt.ConnRefusedProtocolVersion)},
		{name: "MQTT level 6", rule: "MQTT-3.1.2-2 (5.0)",
			send: illConnect("MQTT", 6, clean, illProps(), id("lvl6")), want: v5Refusal(mqtt.UnsupportedProtocolVersion)},
		{name: "MQTT level 255", rule: "MQTT-3.1.2-2 (5.0)",
			send: illConnect("MQTT", 255, clean, id("lvl255")), want: v5Refusal(mqtt.UnsupportedProtocolVersion)},

		// Connect flags.
		{name: "3.1.1 reserved connect flag", rule: "MQTT-3.1.2-3",
			send: illSetConnectFlags(illGoodConnect(mqtt.V311, "ill-res311"), 0x01), want: silentClose()},
		{name: "3.1 reserved connect flag", rule: "MQTT-3.1.2-3",
			send: illSetConnectFlags(illGoodConnect(mqtt.V31, "ill-res31"), 0x01), want: silentClose()},
		{name: "5.0 reserved connect flag", rule: "MQTT-3.1.2-3",
			send: illSetConnectFlags(illGoodConnect(mqtt.V5, "ill-res5"), 0x01), want: v5Refusal(mqtt.MalformedPacket)},
		{name: "3.1.1 will qos 3", rule: "MQTT-3.1.2-14 (3.1.1), MQTT-3.1.2-12 (5.0)",
			send: illC311(clean|will|willQoS1|willQoS2, id("wq3"), illStr("w/t"), illStr("x")), want: silentClose()},
		{name: "5.0 will qos 3", rule: "MQTT-3.1.2-12",
			send: illC5(clean|will|willQoS1|willQoS2, illProps(), id("wq3v5"), illProps(), illStr("w/t"), illStr("x")), want: v5Refusal(mqtt.MalformedPacket)},
		{name: "3.1.1 will qos without will flag", rule: "MQTT-3.1.2-13 (3.1.1), MQTT-3.1.2-11 (5.0)",
			send: illC311(clean|willQoS1, id("wqnf")), want: silentClose()},
		{name: "5.0 will qos without will flag", rule: "MQTT-3.1.2-11",
			send: illC5(clean|willQoS2, illProps(), id("wqnf5")), want: v5Refusal(mqtt.MalformedPacket)},
		{name: "3.1.1 will retain without will flag", rule: "MQTT-3.1.2-15 (3.1.1), MQTT-3.1.2-13 (5.0)",
			send: illC311(clean|willRet, id("wrnf")), want: silentClose()},
		{name: "5.0 will retain without will flag", rule: "MQTT-3.1.2-13",
			send: illC5(clean|willRet, illProps(), id("wrnf5")), want: v5Refusal(mqtt.MalformedPacket)},
		{name: "3.1 will qos without will flag", rule: "MQTT-3.1.2-13 (3.1.1)",
			send: illC31(clean|willQoS1, id("wqnf31")), want: silentClose()},
		{name: "3.1.1 password without user name", rule: "MQTT-3.1.2-22",
			send: illC311(clean|pass, id("pnu"), illStr("secret")), want: silentClose()},
		{name: "3.1 password without user name", rule: "MQTT-3.1.2-22 (3.1.1)",
			send: illC31(clean|pass, id("pnu31"), illStr("secret")), want: silentClose()},
		// 5.0 allows a password without a user name (3.1.2.9): not
		// malformed, refused by authentication.
		{name: "5.0 password without user name is not malformed", rule: "3.1.2.9 (5.0)",
			send: illC5(clean|pass, illProps(), id("pnu5"), illStr("secret")), want: v5Refusal(mqtt.BadUserNameOrPassword)},

		// 5.0 CONNECT properties.
		{name: "5.0 receive maximum 0", rule: "3.1.2.11.3",
			send: illC5(clean, illProps([]byte{0x21, 0, 0}), id("rm0")), want: v5Refusal(mqtt.ProtocolError)},
		{name: "5.0 maximum packet size 0", rule: "3.1.2.11.4",
			send: illC5(clean, illProps([]byte{0x27, 0, 0, 0, 0}), id("mps0")), want: v5Refusal(mqtt.ProtocolError)},
		{name: "5.0 session expiry twice", rule: "3.1.2.11.2, MQTT-2.2.2-2",
			send: illC5(clean, illProps([]byte{0x11, 0, 0, 0, 10}, []byte{0x11, 0, 0, 0, 10}), id("dup")), want: v5Refusal(mqtt.ProtocolError)},
		{name: "5.0 receive maximum twice", rule: "3.1.2.11.3",
			send: illC5(clean, illProps([]byte{0x21, 0, 5}, []byte{0x21, 0, 6}), id("dup2")), want: v5Refusal(mqtt.ProtocolError)},
		{name: "5.0 topic alias in CONNECT", rule: "2.2.2.2",
			send: illC5(clean, illProps([]byte{0x23, 0, 1}), id("ta")), want: v5Refusal(mqtt.MalformedPacket)},
		{name: "5.0 subscription identifier in CONNECT", rule: "2.2.2.2",
			send: illC5(clean, illProps([]byte{0x0B, 1}), id("sid")), want: v5Refusal(mqtt.MalformedPacket)},
		{name: "5.0 unknown property 0x7F", rule: "2.2.2.2",
			send: illC5(clean, illProps([]byte{0x7F, 0}), id("unk")), want: v5Refusal(mqtt.MalformedPacket)},
		{name: "5.0 authentication data without method", rule: "3.1.2.11.10",
			send: illC5(clean, illProps(append([]byte{0x16}, illStr("xyz")...)), id("adnm")), want: v5Refusal(mqtt.ProtocolError)},
		{name: "5.0 request problem information 2", rule: "3.1.2.11.7",
			send: illC5(clean, illProps([]byte{0x17, 2}), id("rpi2")), want: v5Refusal(mqtt.ProtocolError)},
		{name: "5.0 request response information 2", rule: "3.1.2.11.6",
			send: illC5(clean, illProps([]byte{0x19, 2}), id("rri2")), want: v5Refusal(mqtt.ProtocolError)},
		{name: "5.0 property length beyond the packet", rule: "2.2.2.1",
			send: illConnect("MQTT", 5, clean, []byte{0x40}, id("plen")), want: v5Refusal(mqtt.MalformedPacket)},
		{name: "5.0 property value truncated", rule: "2.2.2",
			send: illC5(clean, illProps([]byte{0x11, 0, 0}), id("ptrunc")), want: v5Refusal(mqtt.MalformedPacket)},
		{name: "5.0 session expiry in will properties", rule: "3.1.3.2",
			send: illC5(clean|will, illProps(), id("wprop"), illProps([]byte{0x11, 0, 0, 0, 1}), illStr("w/t"), illStr("x")), want: v5Refusal(mqtt.MalformedPacket)},
		// A refusal's CONNACK keeps the client's Maximum Packet Size: the
		// Reason String goes when it does not fit [MQTT-3.2.2-19].
		{name: "5.0 refusal within the client's maximum packet size", rule: "MQTT-3.2.2-19, MQTT-3.1.2-24",
			send: illC5(clean, illProps([]byte{0x27, 0, 0, 0, 8}), illStr(strings.Repeat("d", 300))), want: v5Refusal(mqtt.ClientIdentifierNotValid).within(8)},
		{name: "5.0 authentication refusal within the client's maximum packet size", rule: "MQTT-3.2.2-19, MQTT-3.1.2-24",
			send: illC5(clean|pass, illProps([]byte{0x27, 0, 0, 0, 8}), id("pnu5mps"), illStr("secret")), want: v5Refusal(mqtt.BadUserNameOrPassword).within(8)},
		{name: "5.0 refusal without problem information", rule: "MQTT-3.1.2-29",
			send: illC5(clean, illProps([]byte{0x17, 0}), illStr(strings.Repeat("e", 300))), want: v5Refusal(mqtt.ClientIdentifierNotValid).within(5)},
		{name: "5.0 authentication method not supported", rule: "MQTT-4.12.0-1",
			send: illC5(clean, illProps(append([]byte{0x15}, illStr("SCRAM-SHA-1")...)), id("am")), want: v5Refusal(mqtt.BadAuthenticationMethod)},

		// UTF-8 and topic names.
		{name: "3.1.1 client id not UTF-8", rule: "MQTT-1.5.4-1 (3.1.1 MQTT-1.5.3-1)",
			send: illC311(clean, illStr("ill-\xc3\x28")), want: silentClose()},
		{name: "5.0 client id not UTF-8", rule: "MQTT-1.5.4-1",
			send: illC5(clean, illProps(), illStr("ill-\xc3\x28")), want: v5Refusal(mqtt.MalformedPacket)},
		{name: "3.1.1 client id with U+0000", rule: "MQTT-1.5.4-2 (3.1.1 MQTT-1.5.3-2)",
			send: illC311(clean, illStr("ill-a\x00b")), want: silentClose()},
		{name: "5.0 client id with U+0000", rule: "MQTT-1.5.4-2",
			send: illC5(clean, illProps(), illStr("ill-a\x00b")), want: v5Refusal(mqtt.MalformedPacket)},
		{name: "5.0 client id with a surrogate", rule: "MQTT-1.5.4-1",
			send: illC5(clean, illProps(), illStr("ill-\xed\xa0\x80")), want: v5Refusal(mqtt.MalformedPacket)},
		{name: "3.1.1 client id overlong encoding", rule: "MQTT-1.5.4-1",
			send: illC311(clean, illStr("ill-\xc0\xaf")), want: silentClose()},
		{name: "5.0 user name not UTF-8", rule: "MQTT-1.5.4-1, MQTT-3.1.3-11",
			send: illC5(clean|user, illProps(), id("unutf"), illStr("\xff")), want: v5Refusal(mqtt.MalformedPacket)},
		{name: "3.1.1 will topic not UTF-8", rule: "MQTT-1.5.4-1",
			send: illC311(clean|will, id("wtutf"), illStr("w/\xff"), illStr("x")), want: silentClose()},
		{name: "5.0 will topic with wildcard", rule: "MQTT-3.1.3-11, MQTT-4.7.0-1",
			send: illC5(clean|will, illProps(), id("wtw5"), illProps(), illStr("w/#"), illStr("x")), want: v5Refusal(mqtt.TopicNameInvalid)},
		{name: "5.0 will topic empty", rule: "MQTT-4.7.3-1",
			send: illC5(clean|will, illProps(), id("wte5"), illProps(), illStr(""), illStr("x")), want: v5Refusal(mqtt.TopicNameInvalid)},
		{name: "3.1.1 will topic with wildcard", rule: "MQTT-4.7.0-1",
			send: illC311(clean|will, id("wtw"), illStr("w/+"), illStr("x")), want: silentClose()},

		// Client identifiers.
		{name: "3.1 empty client id", rule: "3.1 section 3.1 (1 to 23 characters)",
			send: illC31(clean, illStr("")), want: v3Refusal(mqtt.ConnRefusedIdentifierRejected)},
		{name: "3.1 client id of 24 characters", rule: "client_id.max_length_v31 23",
			send: illC31(clean, illStr(strings.Repeat("a", 24))), want: v3Refusal(mqtt.ConnRefusedIdentifierRejected)},
		{name: "3.1 client id of 23 characters is accepted", rule: "client_id.max_length_v31 23",
			send: illC31(clean, illStr(strings.Repeat("b", 23))), want: acceptedAs(mqtt.V31)},
		{name: "3.1.1 empty client id without clean session", rule: "MQTT-3.1.3-8",
			send: illC311(0, illStr("")), want: v3Refusal(mqtt.ConnRefusedIdentifierRejected)},
		{name: "3.1.1 empty client id with clean session is accepted", rule: "MQTT-3.1.3-6",
			send: illC311(clean, illStr("")), want: acceptedAs(mqtt.V311)},
		{name: "5.0 empty client id without clean start is accepted", rule: "MQTT-3.1.3-6 (5.0)",
			send: illC5(0, illProps(), illStr("")), want: acceptedAs(mqtt.V5)},
		{name: "3.1.1 client id longer than client_id.max_length", rule: "MQTT-3.1.3-5",
			send: illC311(clean, illStr(strings.Repeat("c", 257))), want: v3Refusal(mqtt.ConnRefusedIdentifierRejected)},
		{name: "5.0 client id longer than client_id.max_length", rule: "MQTT-3.1.3-5",
			send: illC5(clean, illProps(), illStr(strings.Repeat("c", 257))), want: v5Refusal(mqtt.ClientIdentifierNotValid)},

		// Length and truncation.
		{name: "3.1.1 byte after the payload", rule: "MQTT-3.1.4-1 (3.1.1)",
			send: illAppendBody(illGoodConnect(mqtt.V311, "ill-trail"), 0x00), want: silentClose()},
		{name: "3.1 byte after the payload", rule: "3.1 section 3.1",
			send: illAppendBody(illGoodConnect(mqtt.V31, "ill-trail31"), 0xFF), want: silentClose()},
		{name: "5.0 byte after the payload", rule: "MQTT-4.13.1-1 (malformed)",
			send: illAppendBody(illGoodConnect(mqtt.V5, "ill-trail5"), 0x00), want: v5Refusal(mqtt.MalformedPacket)},
		{name: "3.1.1 client id longer than the packet", rule: "MQTT-3.1.4-1 (3.1.1)",
			send: illC311(clean, []byte{0x00, 0x0A}, []byte("abc")), want: silentClose()},
		{name: "5.0 client id longer than the packet", rule: "1.5.4",
			send: illC5(clean, illProps(), []byte{0x00, 0x0A}, []byte("abc")), want: v5Refusal(mqtt.MalformedPacket)},
		{name: "5.0 body ends after the protocol level", rule: "3.1.2",
			send: illFrame(0x10, illStr("MQTT"), []byte{5}), want: v5Refusal(mqtt.MalformedPacket)},
		{name: "3.1.1 user name flag without user name", rule: "MQTT-3.1.2-18 (3.1.1)",
			send: illC311(clean|user, id("unmiss")), want: silentClose()},
		{name: "5.0 will flag without will payload", rule: "MQTT-3.1.2-9",
			send: illC5(clean|will, illProps(), id("wmiss"), illProps(), illStr("w/t")), want: v5Refusal(mqtt.MalformedPacket)},
		{name: "CONNECT with fixed header flags", rule: "MQTT-2.1.3-1",
			send: func() []byte { b := illGoodConnect(mqtt.V311, "ill-hflags"); b[0] |= 0x01; return b }(), want: silentClose()},
		{name: "remaining length of 5 bytes", rule: "MQTT-1.5.5-1 (2.1.4)",
			send: illHex("10 FF FF FF FF 01"), want: silentClose()},
		{name: "remaining length 268435455, header only", rule: "max_packet_size, MQTT-3.1.2-24",
			send: illHex("10 FF FF FF 7F"), want: silentClose()},
		{name: "max_packet_size plus one, header only", rule: "max_packet_size",
			send: illHeaderOnly(0x10, tooLarge), want: silentClose()},

		// The first packet is not CONNECT [MQTT-3.1.0-1].
		{name: "PINGREQ first", rule: "MQTT-3.1.0-1", send: illHex("C0 00"), want: silentClose()},
		{name: "PUBLISH qos 0 first", rule: "MQTT-3.1.0-1", send: illFrame(0x30, illStr("a/b"), []byte("hi")), want: silentClose()},
		{name: "PUBLISH qos 1 first", rule: "MQTT-3.1.0-1", send: illFrame(0x32, illStr("a/b"), []byte{0, 1}, []byte("hi")), want: silentClose()},
		{name: "SUBSCRIBE first", rule: "MQTT-3.1.0-1", send: illFrame(0x82, []byte{0, 1}, illStr("a/#"), []byte{0}), want: silentClose()},
		{name: "UNSUBSCRIBE first", rule: "MQTT-3.1.0-1", send: illFrame(0xA2, []byte{0, 1}, illStr("a/#")), want: silentClose()},
		{name: "DISCONNECT first", rule: "MQTT-3.1.0-1", send: illHex("E0 00"), want: silentClose()},
		{name: "AUTH first", rule: "MQTT-3.1.0-1", send: illHex("F0 00"), want: silentClose()},
		{name: "CONNACK first", rule: "MQTT-3.1.0-1", send: illHex("20 02 00 00"), want: silentClose()},
		{name: "reserved packet type 0 first", rule: "MQTT-2.1.2", send: illHex("00 00"), want: silentClose()},

		// connect_timeout (200ms on the "short" listener).
		{name: "nothing sent within connect_timeout", rule: "mqtt.connect_timeout", listener: "short",
			send: nil, want: silentClose()},
		{name: "CONNECT first byte only within connect_timeout", rule: "mqtt.connect_timeout", listener: "short",
			send: illHex("10"), want: silentClose()},
		{name: "half a CONNECT within connect_timeout", rule: "mqtt.connect_timeout", listener: "short",
			send: illGoodConnect(mqtt.V5, "ill-half")[:8], want: silentClose()},

		// After a successful CONNECT.
		{name: "5.0 second CONNECT", rule: "MQTT-3.1.0-2", after: mqtt.V5,
			send: illGoodConnect(mqtt.V5, "ill-second5"), want: v5Disconnect(mqtt.ProtocolError)},
		{name: "3.1.1 second CONNECT", rule: "MQTT-3.1.0-2", after: mqtt.V311,
			send: illGoodConnect(mqtt.V311, "ill-second311"), want: silentClose()},
		{name: "3.1 second CONNECT", rule: "MQTT-3.1.0-2 (3.1.1)", after: mqtt.V31,
			send: illGoodConnect(mqtt.V31, "ill-second31"), want: silentClose()},
		{name: "5.0 malformed second CONNECT", rule: "MQTT-3.1.2-3", after: mqtt.V5,
			send: illSetConnectFlags(illGoodConnect(mqtt.V5, "ill-second5m"), 0x01), want: v5Disconnect(mqtt.MalformedPacket)},
		{name: "5.0 SUBSCRIBE flags 0", rule: "MQTT-3.8.1-1", after: mqtt.V5,
			send: illFrame(0x80, []byte{0, 1}, illProps(), illStr("a/b"), []byte{0}), want: v5Disconnect(mqtt.MalformedPacket)},
		{name: "3.1.1 SUBSCRIBE flags 0", rule: "MQTT-3.8.1-1", after: mqtt.V311,
			send: illFrame(0x80, []byte{0, 1}, illStr("a/b"), []byte{0}), want: silentClose()},
		{name: "3.1 SUBSCRIBE flags 0", rule: "3.1 section 3.8", after: mqtt.V31,
			send: illFrame(0x80, []byte{0, 1}, illStr("a/b"), []byte{0}), want: silentClose()},
		{name: "5.0 UNSUBSCRIBE flags 0", rule: "MQTT-3.10.1-1", after: mqtt.V5,
			send: illFrame(0xA0, []byte{0, 1}, illProps(), illStr("a/b")), want: v5Disconnect(mqtt.MalformedPacket)},
		{name: "5.0 PUBREL flags 0", rule: "MQTT-3.6.1-1", after: mqtt.V5,
			send: illHex("60 02 00 01"), want: v5Disconnect(mqtt.MalformedPacket)},
		{name: "3.1.1 PUBREL flags 0", rule: "MQTT-3.6.1-1", after: mqtt.V311,
			send: illHex("60 02 00 01"), want: silentClose()},
		{name: "5.0 PINGREQ flags 1", rule: "MQTT-2.1.3-1", after: mqtt.V5,
			send: illHex("C1 00"), want: v5Disconnect(mqtt.MalformedPacket)},
		{name: "3.1.1 PINGREQ flags 1", rule: "MQTT-2.1.3-1", after: mqtt.V311,
			send: illHex("C1 00"), want: silentClose()},
		{name: "5.0 PINGREQ with a body", rule: "3.12", after: mqtt.V5,
			send: illHex("C0 01 00"), want: v5Disconnect(mqtt.MalformedPacket)},
		{name: "5.0 DISCONNECT flags 1", rule: "MQTT-3.14.1-1", after: mqtt.V5,
			send: illHex("E1 00"), want: v5Disconnect(mqtt.MalformedPacket)},
		{name: "5.0 PUBLISH qos 3", rule: "MQTT-3.3.1-4", after: mqtt.V5,
			send: illFrame(0x36, illStr("a/b"), []byte{0, 1}, illProps(), []byte("x")), want: v5Disconnect(mqtt.MalformedPacket)},
		{name: "3.1.1 PUBLISH qos 3", rule: "MQTT-3.3.1-4", after: mqtt.V311,
			send: illFrame(0x36, illStr("a/b"), []byte{0, 1}, []byte("x")), want: silentClose()},
		{name: "5.0 PUBLISH dup on qos 0", rule: "MQTT-3.3.1-2", after: mqtt.V5,
			send: illFrame(0x38, illStr("a/b"), illProps(), []byte("x")), want: v5Disconnect(mqtt.MalformedPacket)},
		{name: "3.1.1 PUBLISH dup on qos 0", rule: "MQTT-3.3.1-2", after: mqtt.V311,
			send: illFrame(0x38, illStr("a/b"), []byte("x")), want: silentClose()},
		{name: "5.0 PUBLISH qos 1 packet id 0", rule: "MQTT-2.2.1-3", after: mqtt.V5,
			send: illFrame(0x32, illStr("a/b"), []byte{0, 0}, illProps(), []byte("x")), want: v5Disconnect(mqtt.ProtocolError)},
		{name: "3.1.1 PUBLISH qos 2 packet id 0", rule: "MQTT-2.3.1-1 (3.1.1)", after: mqtt.V311,
			send: illFrame(0x34, illStr("a/b"), []byte{0, 0}, []byte("x")), want: silentClose()},
		{name: "5.0 PUBACK packet id 0", rule: "MQTT-2.2.1-3", after: mqtt.V5,
			send: illHex("40 02 00 00"), want: v5Disconnect(mqtt.ProtocolError)},
		{name: "5.0 SUBSCRIBE packet id 0", rule: "MQTT-2.2.1-3", after: mqtt.V5,
			send: illFrame(0x82, []byte{0, 0}, illProps(), illStr("a/b"), []byte{0}), want: v5Disconnect(mqtt.ProtocolError)},
		{name: "5.0 SUBSCRIBE without filter", rule: "MQTT-3.8.3-2", after: mqtt.V5,
			send: illFrame(0x82, []byte{0, 1}, illProps()), want: v5Disconnect(mqtt.ProtocolError)},
		{name: "3.1.1 SUBSCRIBE without filter", rule: "MQTT-3.8.3-3 (3.1.1)", after: mqtt.V311,
			send: illFrame(0x82, []byte{0, 1}), want: silentClose()},
		{name: "5.0 UNSUBSCRIBE without filter", rule: "MQTT-3.10.3-2", after: mqtt.V5,
			send: illFrame(0xA2, []byte{0, 1}, illProps()), want: v5Disconnect(mqtt.ProtocolError)},
		{name: "5.0 SUBSCRIBE reserved option bits", rule: "MQTT-3.8.3-5", after: mqtt.V5,
			send: illFrame(0x82, []byte{0, 1}, illProps(), illStr("a/b"), []byte{0xC0}), want: v5Disconnect(mqtt.MalformedPacket)},
		{name: "5.0 SUBSCRIBE qos 3", rule: "3.8.3.1", after: mqtt.V5,
			send: illFrame(0x82, []byte{0, 1}, illProps(), illStr("a/b"), []byte{0x03}), want: v5Disconnect(mqtt.ProtocolError)},
		{name: "3.1.1 SUBSCRIBE qos 3", rule: "MQTT-3.8.3-4 (3.1.1)", after: mqtt.V311,
			send: illFrame(0x82, []byte{0, 1}, illStr("a/b"), []byte{0x03}), want: silentClose()},
		{name: "5.0 PUBLISH topic with wildcard", rule: "MQTT-3.3.2-2", after: mqtt.V5,
			send: illFrame(0x30, illStr("a/+"), illProps(), []byte("x")), want: v5Disconnect(mqtt.TopicNameInvalid)},
		{name: "5.0 PUBLISH topic not UTF-8", rule: "MQTT-1.5.4-1", after: mqtt.V5,
			send: illFrame(0x30, illStr("a/\xff"), illProps(), []byte("x")), want: v5Disconnect(mqtt.MalformedPacket)},
		{name: "5.0 PUBLISH empty topic without alias", rule: "3.3.2.1, MQTT-4.7.3-1", after: mqtt.V5,
			send: illFrame(0x30, illStr(""), illProps(), []byte("x")), want: v5Disconnect(mqtt.ProtocolError)},
		{name: "5.0 PUBLISH with subscription identifier", rule: "MQTT-3.3.4-6", after: mqtt.V5,
			send: illFrame(0x30, illStr("a/b"), illProps([]byte{0x0B, 1}), []byte("x")), want: v5Disconnect(mqtt.ProtocolError)},
		{name: "5.0 AUTH without enhanced authentication", rule: "MQTT-4.12.0-2 (3.15)", after: mqtt.V5,
			send: illFrame(0xF0, []byte{0x18}, illProps(append([]byte{0x15}, illStr("x")...))), want: v5Disconnect(mqtt.ProtocolError)},
		{name: "3.1.1 AUTH", rule: "2.1.2 (3.1.1 reserved type 15)", after: mqtt.V311,
			send: illHex("F0 00"), want: silentClose()},
		{name: "5.0 CONNACK from a client", rule: "2.1.2 (direction)", after: mqtt.V5,
			send: illHex("20 03 00 00 00"), want: v5Disconnect(mqtt.ProtocolError)},
		{name: "5.0 reserved packet type 0", rule: "2.1.2", after: mqtt.V5,
			send: illHex("00 00"), want: v5Disconnect(mqtt.MalformedPacket)},
		{name: "5.0 DISCONNECT session expiry after 0", rule: "MQTT-3.14.2-2", after: mqtt.V5,
			send: illFrame(0xE0, []byte{0x00}, illProps([]byte{0x11, 0, 0, 0, 10})), want: v5Disconnect(mqtt.ProtocolError)},
		{name: "5.0 remaining length of 5 bytes", rule: "MQTT-1.5.5-1", after: mqtt.V5,
			send: illHex("30 FF FF FF FF 01"), want: v5Disconnect(mqtt.MalformedPacket)},
		{name: "5.0 packet over max_packet_size, header only", rule: "3.1.2.11.4 / 4.13 (0x95)", after: mqtt.V5,
			send: illHeaderOnly(0x30, tooLarge), want: v5Disconnect(mqtt.PacketTooLarge)},
		{name: "3.1.1 packet over max_packet_size, header only", rule: "max_packet_size", after: mqtt.V311,
			send: illHeaderOnly(0x30, tooLarge), want: silentClose()},
	}
}

// TestIllegalConnect sends every row's bytes on a fresh connection and
// checks the exact answer. Then it checks that a client connected all
// along, and new clients, still work, and that every goroutine of those
// connections ended.
//
// TODO: add the rows of mqtttest.Malformed() (the CONNECT ones, with
// their codes) once mqtt/mqtttest exports it.
func TestIllegalConnect(t *testing.T) {
	cfg := testConfig(t)
	cfg.Profiles = map[string]configs.Profile{"short": {ConnectTimeout: illRef(illShortTimeout)}}
	cfg.Listeners = append(cfg.Listeners, configs.Listener{Name: "short", Type: "tcp", Address: "127.0.0.1:0", Profile: "short"})
	ts := startServer(t, cfg)

	// Let every listener reach its accept loop, and a first connection
	// come and go, before taking the goroutine baseline.
	for _, l := range []string{"tcp", "short"} {
		c := illDial(t, ts, l)
		illWrite(t, c, illGoodConnect(mqtt.V311, "ill-warmup-"+l))
		illExpect(t, c, acceptedAs(mqtt.V311))
	}
	illWaitIdle(t, ts, 0)
	baseline := runtime.NumGoroutine()

	// A bystander, connected through everything below.
	bystander := illDial(t, ts, "tcp")
	illWrite(t, bystander, illGoodConnect(mqtt.V5, "ill-bystander"))
	illConnack(t, bystander, mqtt.V5)
	illWrite(t, bystander, illEncode(&mqtt.Subscribe{PacketID: 1, Subscriptions: []mqtt.Subscription{{Filter: "ill/after/#", QoS: 1}}}, mqtt.V5))
	if sa, ok := illRead(t, bystander, mqtt.V5).(*mqtt.Suback); !ok || len(sa.ReasonCodes) != 1 || sa.ReasonCodes[0] != mqtt.GrantedQoS1 {
		t.Fatalf("bystander SUBACK: %+v", sa)
	}

	rows := illegalRows(int(cfg.MQTT.MaxPacketSize))
	for i, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			t.Logf("[%s] want %v", r.rule, r.want)
			l := r.listener
			if l == "" {
				l = "tcp"
			}
			c := illDial(t, ts, l)
			if r.after != 0 {
				illWrite(t, c, illGoodConnect(r.after, fmt.Sprintf("ill-after-%d", i)))
				illConnack(t, c, r.after)
			}
			if len(r.send) > 0 {
				illWrite(t, c, r.send)
			}
			illExpect(t, c, r.want)
		})
	}

	// Every golden CONNECT is well formed: it gets a CONNACK (never a
	// silent close, never 0x81/0x82), though its credentials may be
	// refused.
	goldens := 0
	for _, g := range mqtttest.Goldens() {
		if _, ok := g.Packet.(*mqtt.Connect); !ok {
			continue
		}
		goldens++
		t.Run("golden "+g.Name, func(t *testing.T) {
			c := illDial(t, ts, "tcp")
			illWrite(t, c, g.Bytes)
			illExpectWellFormed(t, c, g.Version)
		})
	}
	if goldens == 0 {
		t.Errorf("mqtttest.Goldens() has no CONNECT")
	}
	t.Logf("%d illegal rows, %d golden CONNECTs", len(rows), goldens)

	// Other clients are unaffected: the bystander still answers, and a new
	// client's publish reaches it.
	illWrite(t, bystander, illHex("C0 00"))
	if _, ok := illRead(t, bystander, mqtt.V5).(*mqtt.Pingresp); !ok {
		t.Fatalf("bystander: no PINGRESP")
	}
	pub := illDial(t, ts, "tcp")
	illWrite(t, pub, illGoodConnect(mqtt.V311, "ill-publisher"))
	illConnack(t, pub, mqtt.V311)
	illWrite(t, pub, illEncode(&mqtt.Publish{QoS: 1, PacketID: 7, Topic: "ill/after/check", Payload: []byte("still here")}, mqtt.V311))
	if pa, ok := illRead(t, pub, mqtt.V311).(*mqtt.Puback); !ok || pa.PacketID != 7 {
		t.Fatalf("publisher: want PUBACK 7, got %+v", pa)
	}
	got, ok := illRead(t, bystander, mqtt.V5).(*mqtt.Publish)
	if !ok || got.Topic != "ill/after/check" || string(got.Payload) != "still here" || got.QoS != 1 {
		t.Fatalf("bystander: want the publish, got %+v", got)
	}
	illWrite(t, bystander, illEncode(&mqtt.Puback{PacketID: got.PacketID}, mqtt.V5))
	for _, c := range []net.Conn{bystander, pub} {
		illWrite(t, c, illHex("E0 00"))
		illExpect(t, c, silentClose())
	}

	// Every connection of the test is gone, and so are its goroutines.
	illWaitIdle(t, ts, 0)
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > baseline {
		if time.Now().After(deadline) {
			var b strings.Builder
			pprof.Lookup("goroutine").WriteTo(&b, 1)
			t.Fatalf("%d goroutines, baseline %d:\n%s", runtime.NumGoroutine(), baseline, b.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func illRef[T any](v T) *T { return &v }

// illWaitIdle waits until the server tracks n connections.
func illWaitIdle(t *testing.T, ts *testServer, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ts.mu.Lock()
		open := len(ts.conns)
		ts.mu.Unlock()
		if open == n && ts.Stats().Connections == int64(n) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("server still tracks %d connections, want %d", open, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func illDial(t *testing.T, ts *testServer, listener string) net.Conn {
	t.Helper()
	c := dial(t, ts, listener)
	c.SetDeadline(time.Now().Add(illReadTimeout))
	return c
}

// illWrite writes b. A write the server already closed on is fine: the
// answer check says what happened.
func illWrite(t *testing.T, c net.Conn, b []byte) {
	t.Helper()
	if _, err := c.Write(b); err != nil && !illClosedErr(err) {
		t.Fatalf("writing: %v", err)
	}
}

func illClosedErr(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// illRead reads one packet of version v.
func illRead(t *testing.T, c net.Conn, v mqtt.Version) mqtt.Packet {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(illReadTimeout))
	p, err := mqtt.ReadPacket(c, v, 0)
	if err != nil {
		t.Fatalf("reading a %v packet: %v", v, err)
	}
	return p
}

// illConnack reads a successful CONNACK of version v.
func illConnack(t *testing.T, c net.Conn, v mqtt.Version) {
	t.Helper()
	ack, ok := illRead(t, c, v).(*mqtt.Connack)
	if !ok || ack.ReasonCode != mqtt.Success {
		t.Fatalf("want CONNACK success, got %+v", ack)
	}
}

// illRest reads until the server closes the connection and returns what
// it read. A read that times out fails the test: the connection stayed
// open.
func illRest(t *testing.T, c net.Conn) []byte {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(illReadTimeout))
	var got []byte
	buf := make([]byte, 512)
	for {
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if err == nil {
			continue
		}
		if illClosedErr(err) {
			return got
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("connection not closed after %v (read % X)", illReadTimeout, got)
		}
		t.Fatalf("reading: %v (read % X)", err, got)
	}
}

// illExpect checks the server's answer on c.
func illExpect(t *testing.T, c net.Conn, want illAnswer) {
	t.Helper()
	switch want.kind {
	case closedSilently:
		if rest := illRest(t, c); len(rest) != 0 {
			t.Fatalf("want %v, got % X", want, rest)
		}
	case connackV3:
		wantBytes := []byte{0x20, 0x02, 0x00, byte(want.code)}
		if got := illRest(t, c); !bytes.Equal(got, wantBytes) {
			t.Fatalf("want %v (% X), got % X", want, wantBytes, got)
		}
	case connackV5, disconnectV5:
		cr := &illCounter{r: c}
		c.SetReadDeadline(time.Now().Add(illReadTimeout))
		p, err := mqtt.ReadPacket(cr, mqtt.V5, 0)
		if err != nil {
			t.Fatalf("want %v, got %v (read % X)", want, err, cr.got)
		}
		if want.maxSize > 0 && len(cr.got) > want.maxSize {
			t.Errorf("%v: %d bytes exceed the client's maximum packet size %d: % X", p.Type(), len(cr.got), want.maxSize, cr.got)
		}
		var code mqtt.ReasonCode
		switch p := p.(type) {
		case *mqtt.Connack:
			if want.kind != connackV5 || p.SessionPresent {
				t.Fatalf("want %v, got %+v", want, p)
			}
			code = p.ReasonCode
		case *mqtt.Disconnect:
			if want.kind != disconnectV5 {
				t.Fatalf("want %v, got %+v", want, p)
			}
			code = p.ReasonCode
		default:
			t.Fatalf("want %v, got %v %+v", want, p.Type(), p)
		}
		if code != want.code {
			t.Fatalf("want %v, got %v (%+v)", want, code, p)
		}
		if rest := illRest(t, c); len(rest) != 0 {
			t.Fatalf("after %v: unexpected bytes % X", want, rest)
		}
	case accepted:
		illConnack(t, c, want.v)
		illWrite(t, c, illHex("E0 00"))
		if rest := illRest(t, c); len(rest) != 0 {
			t.Fatalf("after DISCONNECT: unexpected bytes % X", rest)
		}
	}
}

// illCounter keeps what is read through it.
type illCounter struct {
	r   io.Reader
	got []byte
}

func (c *illCounter) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.got = append(c.got, b[:n]...)
	return n, err
}

// illExpectWellFormed checks that a well-formed CONNECT of version v got a
// CONNACK that is not a malformed/protocol error refusal.
func illExpectWellFormed(t *testing.T, c net.Conn, v mqtt.Version) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(illReadTimeout))
	p, err := mqtt.ReadPacket(c, v, 0)
	if err != nil {
		t.Fatalf("want a CONNACK, got %v", err)
	}
	ack, ok := p.(*mqtt.Connack)
	if !ok {
		t.Fatalf("want a CONNACK, got %+v", p)
	}
	switch ack.ReasonCode {
	case mqtt.MalformedPacket, mqtt.ProtocolError:
		t.Fatalf("well-formed CONNECT refused with %v", ack.ReasonCode)
	case mqtt.Success:
		illWrite(t, c, illHex("E0 00"))
	}
	if rest := illRest(t, c); len(rest) != 0 {
		t.Fatalf("after CONNACK %v: unexpected bytes % X", ack.ReasonCode, rest)
	}
}
