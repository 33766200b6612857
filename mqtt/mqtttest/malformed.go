package mqtttest

import "edgemq/mqtt"

// Codes used below.
const (
	malformed = mqtt.MalformedPacket            // 0x81
	protocol  = mqtt.ProtocolError              // 0x82
	version   = mqtt.UnsupportedProtocolVersion // 0x84
	topicName = mqtt.TopicNameInvalid           // 0x90
)

// Malformed returns illegal packets, each with the reason code the codec
// must answer it with and the normative statement (or section) it breaks.
// The Remaining Length of each is right unless the case is about it, so
// the fault is the one the name says. Each call returns fresh values.
func Malformed() []Bad {
	return []Bad{
		// Fixed header: reserved bits hold their listed value or the packet
		// is malformed [MQTT-2.1.3-1].
		{"reserved packet type 0", mqtt.V311, []byte{0x00, 0x00}, malformed, "MQTT-2.1.2"},
		{"CONNECT fixed header flags 0001", mqtt.V311, []byte{
			0x11, 0x0F, // CONNECT with flags 0001
			0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02, 0x00, 0x3C, // name, level 4, clean, keep alive 60
			0x00, 0x03, 'c', 'i', 'd', // client identifier
		}, malformed, "MQTT-2.1.3-1"},
		{"CONNACK fixed header flags 0001", mqtt.V311, []byte{0x21, 0x02, 0x00, 0x00}, malformed, "MQTT-2.1.3-1"},
		{"PUBACK fixed header flags 0001", mqtt.V311, []byte{0x41, 0x02, 0x00, 0x01}, malformed, "MQTT-2.1.3-1"},
		{"PUBREC fixed header flags 1000", mqtt.V5, []byte{0x58, 0x02, 0x00, 0x01}, malformed, "MQTT-2.1.3-1"},
		{"PUBREL fixed header flags 0000 [MQTT-3.6.1-1]", mqtt.V311, []byte{0x60, 0x02, 0x00, 0x01}, malformed, "MQTT-2.1.3-1"},
		{"PUBREL fixed header flags 0011", mqtt.V5, []byte{0x63, 0x02, 0x00, 0x01}, malformed, "MQTT-2.1.3-1"},
		{"PUBREL 3.1.1 dup flag", mqtt.V311, []byte{0x6A, 0x02, 0x00, 0x01}, malformed, "MQTT-2.1.3-1"},
		{"PUBCOMP fixed header flags 0010", mqtt.V5, []byte{0x72, 0x02, 0x00, 0x01}, malformed, "MQTT-2.1.3-1"},
		{"SUBSCRIBE fixed header flags 0000 [MQTT-3.8.1-1]", mqtt.V311, []byte{
			0x80, 0x06, // SUBSCRIBE with flags 0000
			0x00, 0x01, // packet identifier 1
			0x00, 0x01, 'a', 0x00, // filter "a", qos 0
		}, malformed, "MQTT-2.1.3-1"},
		{"SUBACK fixed header flags 0001", mqtt.V5, []byte{0x91, 0x04, 0x00, 0x01, 0x00, 0x00}, malformed, "MQTT-2.1.3-1"},
		{"UNSUBSCRIBE fixed header flags 0000 [MQTT-3.10.1-1]", mqtt.V5, []byte{
			0xA0, 0x06, // UNSUBSCRIBE with flags 0000
			0x00, 0x01, // packet identifier 1
			0x00,            // property length 0
			0x00, 0x01, 'a', // filter "a"
		}, malformed, "MQTT-2.1.3-1"},
		{"UNSUBACK fixed header flags 1000", mqtt.V311, []byte{0xB8, 0x02, 0x00, 0x01}, malformed, "MQTT-2.1.3-1"},
		{"PINGREQ fixed header flags 0001", mqtt.V311, []byte{0xC1, 0x00}, malformed, "MQTT-2.1.3-1"},
		{"PINGRESP fixed header flags 0010", mqtt.V5, []byte{0xD2, 0x00}, malformed, "MQTT-2.1.3-1"},
		{"DISCONNECT fixed header flags 0100 [MQTT-3.14.1-1]", mqtt.V5, []byte{0xE4, 0x00}, malformed, "MQTT-2.1.3-1"},
		{"AUTH fixed header flags 0001 [MQTT-3.15.1-1]", mqtt.V5, []byte{0xF1, 0x00}, malformed, "MQTT-2.1.3-1"},
		{"AUTH in 3.1.1 (type 15 reserved)", mqtt.V311, []byte{0xF0, 0x00}, malformed, "MQTT-2.1.2"},
		{"AUTH in 3.1 (type 15 reserved)", mqtt.V31, []byte{0xF0, 0x00}, malformed, "MQTT-2.1.2"},
		{"PUBLISH qos 3", mqtt.V311, []byte{
			0x36, 0x05, // PUBLISH with both qos bits set
			0x00, 0x01, 't', 0x00, 0x01, // topic "t", packet identifier 1
		}, malformed, "MQTT-3.3.1-4"},
		{"PUBLISH dup on qos 0", mqtt.V5, []byte{
			0x38, 0x04, // PUBLISH dup, qos 0
			0x00, 0x01, 't', 0x00, // topic "t", property length 0
		}, malformed, "MQTT-3.3.1-2"},

		// Remaining Length: at most four bytes [MQTT-1.5.5-1].
		{"remaining length of 5 bytes", mqtt.V311, []byte{0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01}, malformed, "MQTT-1.5.5-1"},
		{"remaining length of 5 bytes, value 0", mqtt.V5, []byte{0xC0, 0x80, 0x80, 0x80, 0x80, 0x00}, malformed, "MQTT-1.5.5-1"},

		// Bodies shorter than their fields.
		{"CONNECT protocol name truncated", mqtt.V311, []byte{0x10, 0x03, 0x00, 0x04, 'M'}, malformed, "MQTT-1.5.4"},
		{"CONNECT flags missing", mqtt.V311, []byte{
			0x10, 0x07, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, // name, level, then nothing
		}, malformed, "MQTT-3.1.2"},
		{"CONNECT client identifier missing", mqtt.V311, []byte{
			0x10, 0x0A, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02, 0x00, 0x3C,
		}, malformed, ""},
		{"CONNECT will flag without will topic [MQTT-3.1.2-9]", mqtt.V311, []byte{
			0x10, 0x0F, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04,
			0x06,       // flags: will, clean session
			0x00, 0x3C, // keep alive
			0x00, 0x03, 'c', 'i', 'd', // client identifier, then no will
		}, malformed, ""},
		{"CONNECT password flag without password [MQTT-3.1.2-19]", mqtt.V5, []byte{
			0x10, 0x10, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05,
			0x42,       // flags: password, clean start
			0x00, 0x3C, // keep alive
			0x00,                      // property length 0
			0x00, 0x03, 'c', 'i', 'd', // client identifier, then no password
		}, malformed, ""},
		{"CONNECT bytes after the payload", mqtt.V311, []byte{
			0x10, 0x10, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02, 0x00, 0x3C,
			0x00, 0x03, 'c', 'i', 'd',
			0xFF, // nothing may follow
		}, malformed, "MQTT-3.1.3"},
		{"CONNECT password truncated", mqtt.V311, []byte{
			0x10, 0x14, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04,
			0xC2, 0x00, 0x3C, // flags: user name, password, clean session
			0x00, 0x01, 'c', // client identifier
			0x00, 0x01, 'u', // user name
			0x00, 0x05, 'p', 'w', // password of 5 bytes with 2
		}, malformed, "MQTT-1.5.6"},
		{"correlation data truncated", mqtt.V5, []byte{
			0x30, 0x09, 0x00, 0x01, 't',
			0x05, 0x09, 0x00, 0x04, 0xAA, 0xBB, // correlation data of 4 bytes with 2
		}, malformed, "MQTT-1.5.6"},
		{"CONNACK 3.1.1 bytes after the return code", mqtt.V311, []byte{0x20, 0x03, 0x00, 0x00, 0x00}, malformed, "MQTT-3.2"},
		{"PUBACK 5.0 bytes after the properties", mqtt.V5, []byte{
			0x40, 0x06, 0x00, 0x01, 0x00,
			0x00,       // property length 0
			0xFF, 0xFF, // nothing may follow
		}, malformed, "MQTT-3.4"},
		{"DISCONNECT 5.0 bytes after the properties", mqtt.V5, []byte{0xE0, 0x03, 0x00, 0x00, 0xFF}, malformed, "MQTT-3.14"},
		{"AUTH bytes after the properties", mqtt.V5, []byte{
			0xF0, 0x07, 0x18,
			0x04, 0x15, 0x00, 0x01, 'a', // authentication method "a"
			0xFF, // nothing may follow
		}, malformed, "MQTT-3.15"},
		{"CONNACK truncated", mqtt.V311, []byte{0x20, 0x01, 0x00}, malformed, "MQTT-3.2.2"},
		{"CONNACK 5.0 property length missing", mqtt.V5, []byte{0x20, 0x02, 0x00, 0x00}, malformed, "MQTT-1.5.5"},
		{"PUBLISH topic truncated", mqtt.V311, []byte{0x30, 0x03, 0x00, 0x05, 'a'}, malformed, "MQTT-3.3.2"},
		{"PUBLISH qos 1 packet identifier missing", mqtt.V311, []byte{0x32, 0x03, 0x00, 0x01, 't'}, malformed, ""},
		{"PUBLISH 5.0 property length beyond the packet", mqtt.V5, []byte{
			0x30, 0x05, 0x00, 0x01, 't',
			0x05, 0x01, // property length 5, one byte follows
		}, malformed, "MQTT-2.2.2"},
		{"PUBLISH 5.0 property value truncated", mqtt.V5, []byte{
			0x30, 0x06, 0x00, 0x01, 't',
			0x02, 0x02, 0x00, // message expiry interval with one of its four bytes
		}, malformed, ""},
		{"PUBACK truncated", mqtt.V311, []byte{0x40, 0x01, 0x00}, malformed, ""},
		{"PUBACK 3.1.1 with a reason code", mqtt.V311, []byte{0x40, 0x03, 0x00, 0x01, 0x00}, malformed, "MQTT-3.4"},
		{"SUBSCRIBE options missing", mqtt.V311, []byte{
			0x82, 0x05, 0x00, 0x01, 0x00, 0x01, 'a', // filter "a" and no options byte
		}, malformed, "MQTT-3.8.3"},
		{"SUBSCRIBE filter truncated", mqtt.V5, []byte{
			0x82, 0x06, 0x00, 0x01, 0x00,
			0x00, 0x05, 'a', // a filter of 5 bytes with 1
		}, malformed, "MQTT-1.5.4"},
		{"UNSUBACK 5.0 property length missing", mqtt.V5, []byte{0xB0, 0x02, 0x00, 0x01}, malformed, "MQTT-1.5.5"},
		{"UNSUBACK 3.1.1 with reason codes", mqtt.V311, []byte{0xB0, 0x03, 0x00, 0x01, 0x00}, malformed, "MQTT-3.11"},
		{"PINGREQ with a body", mqtt.V311, []byte{0xC0, 0x01, 0x00}, malformed, "MQTT-3.12"},
		{"DISCONNECT 3.1.1 with a body", mqtt.V311, []byte{0xE0, 0x01, 0x00}, malformed, "MQTT-3.14"},
		{"DISCONNECT 5.0 property length beyond the packet", mqtt.V5, []byte{
			0xE0, 0x03, 0x00, 0x05, 0x11, // code 0, property length 5, one byte follows
		}, malformed, "MQTT-2.2.2"},

		// UTF-8 Encoded Strings: well formed [MQTT-1.5.4-1], no U+0000
		// [MQTT-1.5.4-2].
		{"PUBLISH topic is not UTF-8", mqtt.V311, []byte{0x30, 0x04, 0x00, 0x02, 0xC3, 0x28}, malformed, "MQTT-1.5.4-1"},
		{"PUBLISH topic with a UTF-16 surrogate", mqtt.V5, []byte{
			0x30, 0x06, 0x00, 0x03, 0xED, 0xA0, 0x80, // U+D800 encoded as UTF-8
			0x00,
		}, malformed, "MQTT-1.5.4-1"},
		{"CONNECT client identifier with an overlong encoding", mqtt.V311, []byte{
			0x10, 0x0E, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02, 0x00, 0x3C,
			0x00, 0x02, 0xC0, 0xAF, // '/' in two bytes
		}, malformed, "MQTT-1.5.4-1"},
		{"CONNECT user name is not UTF-8 [MQTT-3.1.3-12]", mqtt.V5, []byte{
			0x10, 0x12, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05,
			0x82, 0x00, 0x3C, // flags: user name, clean start
			0x00,       // property length 0
			0x00, 0x00, // client identifier ""
			0x00, 0x03, 'u', 0xFF, 'x', // user name with 0xFF
		}, malformed, "MQTT-1.5.4-1"},
		{"PUBLISH topic with U+0000 [MQTT-4.7.3-2]", mqtt.V311, []byte{0x30, 0x05, 0x00, 0x03, 'a', 0x00, 'b'}, malformed, "MQTT-1.5.4-2"},
		{"CONNECT client identifier with U+0000", mqtt.V5, []byte{
			0x10, 0x10, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x02, 0x00, 0x3C, 0x00,
			0x00, 0x03, 'a', 0x00, 'b',
		}, malformed, "MQTT-1.5.4-2"},
		{"SUBSCRIBE filter with U+0000", mqtt.V311, []byte{
			0x82, 0x07, 0x00, 0x01,
			0x00, 0x02, 'a', 0x00, 0x00, // filter "a\x00", qos 0
		}, malformed, "MQTT-1.5.4-2"},
		{"user property name with U+0000", mqtt.V5, []byte{
			0x40, 0x0B, 0x00, 0x01, 0x00,
			0x07, 0x26, 0x00, 0x01, 0x00, 0x00, 0x01, 'v', // user property "\x00"="v"
		}, malformed, "MQTT-1.5.4-2"},
		{"reason string is not UTF-8", mqtt.V5, []byte{
			0xE0, 0x06, 0x00,
			0x04, 0x1F, 0x00, 0x01, 0x80, // reason string: a lone continuation byte
		}, malformed, "MQTT-1.5.4-1"},

		// A property other than a user property (or a subscription
		// identifier in PUBLISH) appears at most once: Protocol Error.
		{"PUBLISH payload format indicator twice", mqtt.V5, []byte{
			0x30, 0x08, 0x00, 0x01, 't',
			0x04, 0x01, 0x00, 0x01, 0x01,
		}, protocol, "MQTT-2.2.2-2"},
		{"CONNECT session expiry interval twice", mqtt.V5, []byte{
			0x10, 0x18, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x02, 0x00, 0x3C,
			0x0A, 0x11, 0x00, 0x00, 0x00, 0x01, 0x11, 0x00, 0x00, 0x00, 0x02,
			0x00, 0x01, 'c',
		}, protocol, "MQTT-2.2.2-2"},
		{"CONNACK reason string twice", mqtt.V5, []byte{
			0x20, 0x0B, 0x00, 0x00,
			0x08, 0x1F, 0x00, 0x01, 'a', 0x1F, 0x00, 0x01, 'b',
		}, protocol, "MQTT-2.2.2-2"},
		{"PUBLISH topic alias twice", mqtt.V5, []byte{
			0x30, 0x09, 0x00, 0x00,
			0x06, 0x23, 0x00, 0x01, 0x23, 0x00, 0x02,
		}, protocol, "MQTT-2.2.2-2"},
		{"will delay interval twice", mqtt.V5, []byte{
			0x10, 0x1E, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05,
			0x06, 0x00, 0x3C, // flags: will, clean start
			0x00,            // property length 0
			0x00, 0x01, 'c', // client identifier
			0x0A, 0x18, 0x00, 0x00, 0x00, 0x01, 0x18, 0x00, 0x00, 0x00, 0x02, // will properties
			0x00, 0x01, 't', 0x00, 0x00, // will topic, will payload
		}, protocol, "MQTT-2.2.2-2"},
		{"SUBSCRIBE two subscription identifiers", mqtt.V5, []byte{
			0x82, 0x0B, 0x00, 0x01,
			0x04, 0x0B, 0x01, 0x0B, 0x02,
			0x00, 0x01, 'a', 0x00,
		}, protocol, "MQTT-3.8.2.1.2"},
		{"AUTH authentication method twice", mqtt.V5, []byte{
			0xF0, 0x0A, 0x18,
			0x08, 0x15, 0x00, 0x01, 'a', 0x15, 0x00, 0x01, 'b',
		}, protocol, "MQTT-2.2.2-2"},

		// A property not allowed in the packet, or unknown: Malformed
		// Packet (2.2.2.2).
		{"PUBLISH with session expiry interval", mqtt.V5, []byte{
			0x30, 0x09, 0x00, 0x01, 't',
			0x05, 0x11, 0x00, 0x00, 0x00, 0x01,
		}, malformed, "MQTT-2.2.2"},
		{"CONNECT with topic alias", mqtt.V5, []byte{
			0x10, 0x11, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x02, 0x00, 0x3C,
			0x03, 0x23, 0x00, 0x01,
			0x00, 0x01, 'c',
		}, malformed, "MQTT-2.2.2"},
		{"will properties with session expiry interval", mqtt.V5, []byte{
			0x10, 0x19, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x06, 0x00, 0x3C, 0x00,
			0x00, 0x01, 'c',
			0x05, 0x11, 0x00, 0x00, 0x00, 0x01, // will properties
			0x00, 0x01, 't', 0x00, 0x00,
		}, malformed, "MQTT-2.2.2"},
		{"PUBACK with subscription identifier", mqtt.V5, []byte{
			0x40, 0x06, 0x00, 0x01, 0x00,
			0x02, 0x0B, 0x01,
		}, malformed, "MQTT-2.2.2"},
		{"SUBSCRIBE with reason string", mqtt.V5, []byte{
			0x82, 0x0B, 0x00, 0x01,
			0x04, 0x1F, 0x00, 0x01, 'r',
			0x00, 0x01, 'a', 0x00,
		}, malformed, "MQTT-2.2.2"},
		{"DISCONNECT with assigned client identifier", mqtt.V5, []byte{
			0xE0, 0x06, 0x00,
			0x04, 0x12, 0x00, 0x01, 'a',
		}, malformed, "MQTT-2.2.2"},
		{"unknown property identifier 0x7F", mqtt.V5, []byte{
			0x30, 0x06, 0x00, 0x01, 't',
			0x02, 0x7F, 0x00,
		}, malformed, "MQTT-2.2.2"},
		{"property identifier longer than 4 bytes", mqtt.V5, []byte{
			0x30, 0x09, 0x00, 0x01, 't',
			0x05, 0x80, 0x80, 0x80, 0x80, 0x01,
		}, malformed, "MQTT-1.5.5-1"},

		// Property values out of range: Protocol Error.
		{"CONNECT receive maximum 0", mqtt.V5, []byte{
			0x10, 0x11, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x02, 0x00, 0x3C,
			0x03, 0x21, 0x00, 0x00,
			0x00, 0x01, 'c',
		}, protocol, "MQTT-3.1.2.11.3"},
		{"CONNECT maximum packet size 0", mqtt.V5, []byte{
			0x10, 0x13, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x02, 0x00, 0x3C,
			0x05, 0x27, 0x00, 0x00, 0x00, 0x00,
			0x00, 0x01, 'c',
		}, protocol, "MQTT-3.1.2.11.4"},
		{"CONNACK receive maximum 0", mqtt.V5, []byte{0x20, 0x06, 0x00, 0x00, 0x03, 0x21, 0x00, 0x00}, protocol, "MQTT-3.1.2.11.3"},
		{"CONNACK maximum qos 2", mqtt.V5, []byte{0x20, 0x05, 0x00, 0x00, 0x02, 0x24, 0x02}, protocol, "MQTT-3.2.2.3.4"},
		{"CONNACK retain available 2", mqtt.V5, []byte{0x20, 0x05, 0x00, 0x00, 0x02, 0x25, 0x02}, protocol, "MQTT-3.2.2.3"},
		{"CONNECT request problem information 2", mqtt.V5, []byte{
			0x10, 0x10, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x02, 0x00, 0x3C,
			0x02, 0x17, 0x02,
			0x00, 0x01, 'c',
		}, protocol, "MQTT-3.1.2.11.7"},
		{"CONNECT authentication data without method", mqtt.V5, []byte{
			0x10, 0x12, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x02, 0x00, 0x3C,
			0x04, 0x16, 0x00, 0x01, 0xAA,
			0x00, 0x01, 'c',
		}, protocol, "MQTT-3.1.2.11.10"},
		{"PUBLISH topic alias 0", mqtt.V5, []byte{
			0x30, 0x07, 0x00, 0x01, 't',
			0x03, 0x23, 0x00, 0x00,
		}, protocol, "MQTT-3.3.2-8"},
		{"PUBLISH subscription identifier 0", mqtt.V5, []byte{
			0x30, 0x06, 0x00, 0x01, 't',
			0x02, 0x0B, 0x00,
		}, protocol, "MQTT-3.8.2.1.2"},
		{"PUBLISH payload format indicator 2", mqtt.V5, []byte{
			0x30, 0x06, 0x00, 0x01, 't',
			0x02, 0x01, 0x02,
		}, protocol, "MQTT-3.3.2.3.2"},

		// Packet identifiers are non-zero [MQTT-2.2.1-3].
		{"PUBLISH qos 1 packet identifier 0", mqtt.V311, []byte{0x32, 0x05, 0x00, 0x01, 't', 0x00, 0x00}, protocol, "MQTT-2.2.1-3"},
		{"PUBACK packet identifier 0", mqtt.V5, []byte{0x40, 0x02, 0x00, 0x00}, protocol, "MQTT-2.2.1-3"},
		{"PUBREL packet identifier 0", mqtt.V311, []byte{0x62, 0x02, 0x00, 0x00}, protocol, "MQTT-2.2.1-3"},
		{"SUBSCRIBE packet identifier 0", mqtt.V311, []byte{0x82, 0x06, 0x00, 0x00, 0x00, 0x01, 'a', 0x00}, protocol, "MQTT-2.2.1-3"},
		{"UNSUBSCRIBE packet identifier 0", mqtt.V5, []byte{0xA2, 0x06, 0x00, 0x00, 0x00, 0x00, 0x01, 'a'}, protocol, "MQTT-2.2.1-3"},
		{"SUBACK packet identifier 0", mqtt.V311, []byte{0x90, 0x03, 0x00, 0x00, 0x00}, protocol, "MQTT-2.2.1-3"},
		{"UNSUBACK packet identifier 0", mqtt.V311, []byte{0xB0, 0x02, 0x00, 0x00}, protocol, "MQTT-2.2.1-3"},

		// At least one topic filter [MQTT-3.8.3-2, MQTT-3.10.3-2].
		{"SUBSCRIBE 3.1.1 without topic filter", mqtt.V311, []byte{0x82, 0x02, 0x00, 0x01}, protocol, "MQTT-3.8.3-2"},
		{"SUBSCRIBE 5.0 without topic filter", mqtt.V5, []byte{0x82, 0x03, 0x00, 0x01, 0x00}, protocol, "MQTT-3.8.3-2"},
		{"UNSUBSCRIBE 3.1.1 without topic filter", mqtt.V311, []byte{0xA2, 0x02, 0x00, 0x01}, protocol, "MQTT-3.10.3-2"},
		{"UNSUBSCRIBE 5.0 without topic filter", mqtt.V5, []byte{0xA2, 0x03, 0x00, 0x01, 0x00}, protocol, "MQTT-3.10.3-2"},

		// Subscription options.
		{"SUBSCRIBE 5.0 reserved option bits", mqtt.V5, []byte{
			0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, 'a',
			0x40, // bit 6 is reserved
		}, malformed, "MQTT-3.8.3-5"},
		{"SUBSCRIBE 3.1.1 reserved option bits", mqtt.V311, []byte{
			0x82, 0x06, 0x00, 0x01, 0x00, 0x01, 'a',
			0x04, // no local does not exist in 3.1.1
		}, malformed, "MQTT-3.8.3-4"},
		{"SUBSCRIBE 3.1.1 qos 3", mqtt.V311, []byte{0x82, 0x06, 0x00, 0x01, 0x00, 0x01, 'a', 0x03}, malformed, "MQTT-3.8.3-4"},
		{"SUBSCRIBE 5.0 qos 3", mqtt.V5, []byte{0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, 'a', 0x03}, protocol, "MQTT-3.8.3.1"},
		{"SUBSCRIBE 5.0 retain handling 3", mqtt.V5, []byte{0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, 'a', 0x30}, protocol, "MQTT-3.8.3.1"},
		{"SUBSCRIBE 5.0 no local on a shared subscription", mqtt.V5, []byte{
			0x82, 0x10, 0x00, 0x01, 0x00,
			0x00, 0x0A, '$', 's', 'h', 'a', 'r', 'e', '/', 'g', '/', 'a',
			0x04, // no local
		}, protocol, "MQTT-3.8.3-4"},

		// CONNECT flags and protocol.
		{"CONNECT reserved flag", mqtt.V311, []byte{
			0x10, 0x0F, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04,
			0x03, // clean session and the reserved bit 0
			0x00, 0x3C, 0x00, 0x03, 'c', 'i', 'd',
		}, malformed, "MQTT-3.1.2-3"},
		{"CONNECT 5.0 reserved flag", mqtt.V5, []byte{
			0x10, 0x10, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05,
			0x01, // reserved bit 0
			0x00, 0x3C, 0x00, 0x00, 0x03, 'c', 'i', 'd',
		}, malformed, "MQTT-3.1.2-3"},
		{"CONNECT will qos 3", mqtt.V311, []byte{
			0x10, 0x14, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04,
			0x1E, // will qos 3, will, clean session
			0x00, 0x3C, 0x00, 0x03, 'c', 'i', 'd',
			0x00, 0x01, 't', 0x00, 0x00,
		}, malformed, "MQTT-3.1.2-12"},
		{"CONNECT will qos without will flag", mqtt.V311, []byte{
			0x10, 0x0F, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04,
			0x0A, // will qos 1, clean session, no will
			0x00, 0x3C, 0x00, 0x03, 'c', 'i', 'd',
		}, malformed, "MQTT-3.1.2-11"},
		{"CONNECT will retain without will flag", mqtt.V5, []byte{
			0x10, 0x10, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05,
			0x22, // will retain, clean start, no will
			0x00, 0x3C, 0x00, 0x00, 0x03, 'c', 'i', 'd',
		}, malformed, "MQTT-3.1.2-13"},
		{"CONNECT 3.1.1 password without user name", mqtt.V311, []byte{
			0x10, 0x13, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04,
			0x42, // password, clean session, no user name
			0x00, 0x3C, 0x00, 0x03, 'c', 'i', 'd',
			0x00, 0x02, 'p', 'w',
		}, malformed, "MQTT-3.1.2-22"},
		{"CONNECT 3.1 password without user name", mqtt.V31, []byte{
			0x10, 0x15, 0x00, 0x06, 'M', 'Q', 'I', 's', 'd', 'p', 0x03,
			0x42, // password, clean session, no user name
			0x00, 0x3C, 0x00, 0x03, 'c', 'i', 'd',
			0x00, 0x02, 'p', 'w',
		}, malformed, "MQTT-3.1.2-22"},
		{"CONNECT wrong protocol name", mqtt.V311, []byte{
			0x10, 0x0F, 0x00, 0x04, 'M', 'Q', 'T', 'X', 0x04, 0x02, 0x00, 0x3C,
			0x00, 0x03, 'c', 'i', 'd',
		}, version, "MQTT-3.1.2-1"},
		{"CONNECT lower-case protocol name", mqtt.V5, []byte{
			0x10, 0x10, 0x00, 0x04, 'm', 'q', 't', 't', 0x05, 0x02, 0x00, 0x3C, 0x00,
			0x00, 0x03, 'c', 'i', 'd',
		}, version, "MQTT-3.1.2-1"},
		{"CONNECT unsupported level 6", mqtt.V5, []byte{
			0x10, 0x10, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x06, 0x02, 0x00, 0x3C, 0x00,
			0x00, 0x03, 'c', 'i', 'd',
		}, version, "MQTT-3.1.2-2"},
		{"CONNECT unsupported level 0", mqtt.V311, []byte{
			0x10, 0x0F, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x00, 0x02, 0x00, 0x3C,
			0x00, 0x03, 'c', 'i', 'd',
		}, version, "MQTT-3.1.2-2"},
		{"CONNECT name MQTT with level 3", mqtt.V311, []byte{
			0x10, 0x0F, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x03, 0x02, 0x00, 0x3C,
			0x00, 0x03, 'c', 'i', 'd',
		}, version, "MQTT-3.1.2-2"},
		{"CONNECT name MQIsdp with level 4", mqtt.V31, []byte{
			0x10, 0x11, 0x00, 0x06, 'M', 'Q', 'I', 's', 'd', 'p', 0x04, 0x02, 0x00, 0x3C,
			0x00, 0x03, 'c', 'i', 'd',
		}, version, "MQTT-3.1.2-2"},
		{"CONNECT will topic with a wildcard", mqtt.V311, []byte{
			0x10, 0x14, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04,
			0x06, // will, clean session
			0x00, 0x3C, 0x00, 0x03, 'c', 'i', 'd',
			0x00, 0x01, '#', 0x00, 0x00, // will topic "#", empty will message
		}, topicName, "MQTT-3.1.3-11"},
		{"CONNECT empty will topic", mqtt.V5, []byte{
			0x10, 0x15, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05,
			0x06, 0x00, 0x3C, 0x00, // will, clean start; no properties
			0x00, 0x03, 'c', 'i', 'd',
			0x00,       // will property length 0
			0x00, 0x00, // will topic ""
			0x00, 0x00, // will payload
		}, topicName, "MQTT-3.1.3-11"},

		// PUBLISH topic names: no wildcards [MQTT-3.3.2-2], not empty
		// without a topic alias (3.3.2.3.4, [MQTT-4.7.3-1]).
		{"PUBLISH topic with +", mqtt.V311, []byte{0x30, 0x05, 0x00, 0x03, 'a', '/', '+'}, topicName, "MQTT-3.3.2-2"},
		{"PUBLISH topic with #", mqtt.V5, []byte{0x30, 0x06, 0x00, 0x03, 'a', '/', '#', 0x00}, topicName, "MQTT-3.3.2-2"},
		{"PUBLISH 5.0 empty topic without topic alias", mqtt.V5, []byte{0x30, 0x04, 0x00, 0x00, 0x00, 'p'}, protocol, "MQTT-4.7.3-1"},
		{"PUBLISH 3.1.1 empty topic", mqtt.V311, []byte{0x30, 0x03, 0x00, 0x00, 'p'}, protocol, "MQTT-4.7.3-1"},

		// AUTH (3.15).
		{"AUTH reason code 0x01", mqtt.V5, []byte{0xF0, 0x01, 0x01}, malformed, "MQTT-3.15.2-1"},
		{"AUTH without authentication method", mqtt.V5, []byte{0xF0, 0x02, 0x18, 0x00}, protocol, "MQTT-3.15.2.2.2"},
		{"AUTH reason code without properties", mqtt.V5, []byte{0xF0, 0x01, 0x18}, protocol, "MQTT-3.15.2.2.2"},

		// Reserved values in acknowledgements.
		{"CONNACK reserved acknowledge flags", mqtt.V5, []byte{0x20, 0x03, 0x02, 0x00, 0x00}, malformed, "MQTT-3.2.2-1"},
		{"CONNACK 3.1.1 reserved return code 6", mqtt.V311, []byte{0x20, 0x02, 0x00, 0x06}, malformed, "MQTT-3.2.2"},
		{"SUBACK 3.1.1 reserved return code 3", mqtt.V311, []byte{0x90, 0x03, 0x00, 0x01, 0x03}, malformed, "MQTT-3.9.3-2"},
	}
}
