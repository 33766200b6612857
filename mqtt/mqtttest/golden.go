// Package mqtttest holds hand-written wire fixtures for the mqtt codec:
// golden packets (bytes and the packet they decode to, for every control
// packet type in every protocol version that has it) and malformed
// packets with the reason code that must answer them.
//
// The byte strings are written from the MQTT 3.1, 3.1.1 and 5.0
// specifications, field by field, never produced by the encoder. They are
// shared: the codec tests decode and encode them, and the engine tests
// send them over real connections. Names and order are stable; add new
// entries rather than changing old ones.
package mqtttest

import "edgemq/mqtt"

// Golden is a well-formed packet: Bytes (the whole packet, fixed header
// included) decode to Packet for Version, and Packet encodes to Bytes.
type Golden struct {
	Name    string
	Version mqtt.Version
	Bytes   []byte
	Packet  mqtt.Packet
}

// Bad is an illegal packet and the reason code (and normative statement)
// the codec answers it with. Bytes is the whole packet.
type Bad struct {
	Name    string
	Version mqtt.Version
	Bytes   []byte
	Code    mqtt.ReasonCode
	Rule    string
}

// props builds a Properties value through its setters, so that the
// presence bits are whatever the codec says they are.
func props(set func(p *mqtt.Properties)) mqtt.Properties {
	var p mqtt.Properties
	set(&p)
	return p
}

// Goldens returns the golden packets. Each call returns fresh values, so
// a test may modify what it gets.
func Goldens() []Golden {
	var g []Golden
	g = append(g, connects()...)
	g = append(g, connacks()...)
	g = append(g, publishes()...)
	g = append(g, acks()...)
	g = append(g, subscribes()...)
	g = append(g, unsubscribes()...)
	g = append(g, pings()...)
	g = append(g, disconnects()...)
	g = append(g, auths()...)
	return g
}

// v3s are the two versions without properties or reason codes.
var v3s = []struct {
	v    mqtt.Version
	name string
}{{mqtt.V31, "3.1"}, {mqtt.V311, "3.1.1"}}

func connects() []Golden {
	return []Golden{
		{
			Name: "CONNECT 3.1 clean session", Version: mqtt.V31,
			Bytes: []byte{
				0x10, 0x12, // CONNECT, remaining length 18
				0x00, 0x06, 'M', 'Q', 'I', 's', 'd', 'p', // protocol name "MQIsdp" (3.1)
				0x03,       // protocol level 3
				0x02,       // connect flags: clean session
				0x00, 0x3C, // keep alive 60 s
				0x00, 0x04, 'c', '3', '1', 'a', // client identifier "c31a"
			},
			Packet: &mqtt.Connect{ProtocolName: "MQIsdp", Version: mqtt.V31, CleanStart: true, KeepAlive: 60, ClientID: "c31a"},
		},
		{
			Name: "CONNECT 3.1 will, user name and password", Version: mqtt.V31,
			Bytes: []byte{
				0x10, 0x22, // CONNECT, remaining length 34
				0x00, 0x06, 'M', 'Q', 'I', 's', 'd', 'p', // protocol name
				0x03,       // protocol level 3
				0xEE,       // flags: user name 0x80, password 0x40, will retain 0x20, will qos 1 (0x08), will 0x04, clean 0x02
				0x00, 0x0A, // keep alive 10 s
				0x00, 0x03, 'c', '3', '1', // client identifier "c31"
				0x00, 0x03, 'w', '/', 't', // will topic "w/t"
				0x00, 0x02, 'b', 'y', // will message "by"
				0x00, 0x02, 'u', '1', // user name "u1"
				0x00, 0x02, 'p', '1', // password "p1"
			},
			Packet: &mqtt.Connect{
				ProtocolName: "MQIsdp", Version: mqtt.V31, CleanStart: true, KeepAlive: 10, ClientID: "c31",
				Will:         &mqtt.Will{QoS: 1, Retain: true, Topic: "w/t", Payload: []byte("by")},
				UsernameFlag: true, Username: "u1", PasswordFlag: true, Password: []byte("p1"),
			},
		},
		{
			Name: "CONNECT 3.1.1 minimal, persistent session", Version: mqtt.V311,
			Bytes: []byte{
				0x10, 0x0F, // CONNECT, remaining length 15
				0x00, 0x04, 'M', 'Q', 'T', 'T', // protocol name "MQTT"
				0x04,       // protocol level 4 (3.1.1)
				0x00,       // flags: none, clean session 0
				0x00, 0x00, // keep alive 0: off
				0x00, 0x03, 'c', 'i', 'd', // client identifier "cid"
			},
			Packet: &mqtt.Connect{ProtocolName: "MQTT", Version: mqtt.V311, ClientID: "cid"},
		},
		{
			// A zero-byte client identifier needs clean session [MQTT-3.1.3-7].
			Name: "CONNECT 3.1.1 empty client identifier, clean session", Version: mqtt.V311,
			Bytes: []byte{
				0x10, 0x0C, // CONNECT, remaining length 12
				0x00, 0x04, 'M', 'Q', 'T', 'T', // protocol name
				0x04,       // level 4
				0x02,       // flags: clean session
				0x00, 0x1E, // keep alive 30 s
				0x00, 0x00, // client identifier "" [MQTT-3.1.3-6]
			},
			Packet: &mqtt.Connect{ProtocolName: "MQTT", Version: mqtt.V311, CleanStart: true, KeepAlive: 30},
		},
		{
			Name: "CONNECT 3.1.1 will qos 2, user name and binary password", Version: mqtt.V311,
			Bytes: []byte{
				0x10, 0x24, // CONNECT, remaining length 36
				0x00, 0x04, 'M', 'Q', 'T', 'T', // protocol name
				0x04,       // level 4
				0xD6,       // flags: user name 0x80, password 0x40, will qos 2 (0x10), will 0x04, clean 0x02
				0x01, 0x2C, // keep alive 300 s
				0x00, 0x02, 'c', '4', // client identifier "c4"
				0x00, 0x05, 'a', '/', 'b', '/', 'c', // will topic "a/b/c"
				0x00, 0x03, 0x01, 0x02, 0x03, // will message, binary
				0x00, 0x04, 'u', 's', 'e', 'r', // user name "user"
				0x00, 0x02, 0x00, 0xFF, // password: binary data in 3.1.1 (3.1.3.5)
			},
			Packet: &mqtt.Connect{
				ProtocolName: "MQTT", Version: mqtt.V311, CleanStart: true, KeepAlive: 300, ClientID: "c4",
				Will:         &mqtt.Will{QoS: 2, Topic: "a/b/c", Payload: []byte{1, 2, 3}},
				UsernameFlag: true, Username: "user", PasswordFlag: true, Password: []byte{0x00, 0xFF},
			},
		},
		{
			Name: "CONNECT 3.1.1 user name only, retained will with empty message", Version: mqtt.V311,
			Bytes: []byte{
				0x10, 0x15, // CONNECT, remaining length 21
				0x00, 0x04, 'M', 'Q', 'T', 'T', // protocol name
				0x04,       // level 4
				0xA4,       // flags: user name 0x80, will retain 0x20, will (qos 0) 0x04
				0x00, 0x3C, // keep alive 60 s
				0x00, 0x01, 'x', // client identifier "x"
				0x00, 0x01, 't', // will topic "t"
				0x00, 0x00, // will message: zero bytes
				0x00, 0x01, 'u', // user name "u"
			},
			Packet: &mqtt.Connect{
				ProtocolName: "MQTT", Version: mqtt.V311, KeepAlive: 60, ClientID: "x",
				Will:         &mqtt.Will{Retain: true, Topic: "t", Payload: []byte{}},
				UsernameFlag: true, Username: "u",
			},
		},
		{
			Name: "CONNECT 5.0 minimal, clean start", Version: mqtt.V5,
			Bytes: []byte{
				0x10, 0x0F, // CONNECT, remaining length 15
				0x00, 0x04, 'M', 'Q', 'T', 'T', // protocol name
				0x05,       // level 5
				0x02,       // flags: clean start
				0x00, 0x3C, // keep alive 60 s
				0x00,                 // property length 0 [MQTT-2.2.2-1]
				0x00, 0x02, 'c', '5', // client identifier "c5"
			},
			Packet: &mqtt.Connect{ProtocolName: "MQTT", Version: mqtt.V5, CleanStart: true, KeepAlive: 60, ClientID: "c5"},
		},
		{
			Name: "CONNECT 5.0 every property, will with every will property, user name and password", Version: mqtt.V5,
			Bytes: []byte{
				0x10, 0x85, 0x01, // CONNECT, remaining length 133 (0x85 0x01)
				0x00, 0x04, 'M', 'Q', 'T', 'T', // protocol name
				0x05,       // level 5
				0xEE,       // flags: user name, password, will retain, will qos 1, will, clean start
				0x00, 0x3C, // keep alive 60 s
				0x31,                         // property length 49
				0x11, 0x00, 0x00, 0x0E, 0x10, // session expiry interval 3600
				0x15, 0x00, 0x05, 'P', 'L', 'A', 'I', 'N', // authentication method "PLAIN"
				0x16, 0x00, 0x03, 0x01, 0x02, 0x03, // authentication data
				0x17, 0x00, // request problem information 0
				0x19, 0x01, // request response information 1
				0x21, 0x00, 0x14, // receive maximum 20
				0x22, 0x00, 0x0A, // topic alias maximum 10
				0x27, 0x00, 0x00, 0x40, 0x00, // maximum packet size 16384
				0x26, 0x00, 0x01, 'k', 0x00, 0x01, 'v', // user property k=v
				0x26, 0x00, 0x01, 'k', 0x00, 0x02, 'v', '2', // user property k=v2: repeated name, order kept
				0x00, 0x03, 'c', 'i', 'd', // client identifier "cid"
				0x2B,       // will property length 43
				0x01, 0x01, // payload format indicator 1: UTF-8
				0x02, 0x00, 0x00, 0x00, 0x3C, // message expiry interval 60
				0x03, 0x00, 0x0A, 't', 'e', 'x', 't', '/', 'p', 'l', 'a', 'i', 'n', // content type "text/plain"
				0x08, 0x00, 0x03, 'r', '/', 't', // response topic "r/t"
				0x09, 0x00, 0x02, 0xCA, 0xFE, // correlation data
				0x18, 0x00, 0x00, 0x00, 0x05, // will delay interval 5
				0x26, 0x00, 0x01, 'a', 0x00, 0x01, 'b', // user property a=b
				0x00, 0x04, 'w', 'i', 'l', 'l', // will topic "will"
				0x00, 0x04, 'g', 'o', 'n', 'e', // will payload "gone"
				0x00, 0x04, 'u', 's', 'e', 'r', // user name "user"
				0x00, 0x04, 'p', 'a', 's', 's', // password "pass"
			},
			Packet: &mqtt.Connect{
				ProtocolName: "MQTT", Version: mqtt.V5, CleanStart: true, KeepAlive: 60,
				Properties: props(func(p *mqtt.Properties) {
					p.SetUint32(mqtt.PropSessionExpiryInterval, 3600)
					p.SetString(mqtt.PropAuthenticationMethod, "PLAIN")
					p.SetBinary(mqtt.PropAuthenticationData, []byte{1, 2, 3})
					p.SetByte(mqtt.PropRequestProblemInformation, 0)
					p.SetByte(mqtt.PropRequestResponseInformation, 1)
					p.SetUint16(mqtt.PropReceiveMaximum, 20)
					p.SetUint16(mqtt.PropTopicAliasMaximum, 10)
					p.SetUint32(mqtt.PropMaximumPacketSize, 16384)
					p.UserProperties = []mqtt.UserProperty{{Key: "k", Value: "v"}, {Key: "k", Value: "v2"}}
				}),
				ClientID: "cid",
				Will: &mqtt.Will{
					QoS: 1, Retain: true,
					Properties: props(func(p *mqtt.Properties) {
						p.SetByte(mqtt.PropPayloadFormatIndicator, 1)
						p.SetUint32(mqtt.PropMessageExpiryInterval, 60)
						p.SetString(mqtt.PropContentType, "text/plain")
						p.SetString(mqtt.PropResponseTopic, "r/t")
						p.SetBinary(mqtt.PropCorrelationData, []byte{0xCA, 0xFE})
						p.SetUint32(mqtt.PropWillDelayInterval, 5)
						p.UserProperties = []mqtt.UserProperty{{Key: "a", Value: "b"}}
					}),
					Topic: "will", Payload: []byte("gone"),
				},
				UsernameFlag: true, Username: "user", PasswordFlag: true, Password: []byte("pass"),
			},
		},
		{
			// 5.0 allows a password without a user name (3.1.2.9).
			Name: "CONNECT 5.0 password without user name, will qos 2 without properties", Version: mqtt.V5,
			Bytes: []byte{
				0x10, 0x1A, // CONNECT, remaining length 26
				0x00, 0x04, 'M', 'Q', 'T', 'T', // protocol name
				0x05,       // level 5
				0x54,       // flags: password 0x40, will qos 2 (0x10), will 0x04; clean start 0
				0x00, 0x00, // keep alive 0
				0x00,            // property length 0
				0x00, 0x01, 'p', // client identifier "p"
				0x00,            // will property length 0
				0x00, 0x01, 't', // will topic "t"
				0x00, 0x01, 'x', // will payload "x"
				0x00, 0x03, 's', 'e', 'c', // password "sec"
			},
			Packet: &mqtt.Connect{
				ProtocolName: "MQTT", Version: mqtt.V5, ClientID: "p",
				Will:         &mqtt.Will{QoS: 2, Topic: "t", Payload: []byte("x")},
				PasswordFlag: true, Password: []byte("sec"),
			},
		},
	}
}

func connacks() []Golden {
	return []Golden{
		{
			Name: "CONNACK 3.1 accepted", Version: mqtt.V31,
			Bytes:  []byte{0x20, 0x02, 0x00, 0x00}, // CONNACK, length 2, flags 0, return code 0 accepted
			Packet: &mqtt.Connack{},
		},
		{
			Name: "CONNACK 3.1 refused, not authorized", Version: mqtt.V31,
			Bytes:  []byte{0x20, 0x02, 0x00, 0x05}, // return code 5: not authorized
			Packet: &mqtt.Connack{ReasonCode: mqtt.ReasonCode(mqtt.ConnRefusedNotAuthorized)},
		},
		{
			Name: "CONNACK 3.1.1 session present", Version: mqtt.V311,
			Bytes:  []byte{0x20, 0x02, 0x01, 0x00}, // flags: session present; return code 0
			Packet: &mqtt.Connack{SessionPresent: true},
		},
		{
			Name: "CONNACK 3.1.1 identifier rejected", Version: mqtt.V311,
			Bytes:  []byte{0x20, 0x02, 0x00, 0x02}, // return code 2: identifier rejected (3.1.1 [MQTT-3.1.3-9])
			Packet: &mqtt.Connack{ReasonCode: mqtt.ReasonCode(mqtt.ConnRefusedIdentifierRejected)},
		},
		{
			Name: "CONNACK 5.0 success without properties", Version: mqtt.V5,
			Bytes: []byte{
				0x20, 0x03, // CONNACK, remaining length 3
				0x00, // acknowledge flags: session present 0
				0x00, // reason code success
				0x00, // property length 0
			},
			Packet: &mqtt.Connack{},
		},
		{
			Name: "CONNACK 5.0 every property", Version: mqtt.V5,
			Bytes: []byte{
				0x20, 0x54, // CONNACK, remaining length 84
				0x01,                         // session present
				0x00,                         // success
				0x51,                         // property length 81
				0x11, 0x00, 0x00, 0x00, 0x78, // session expiry interval 120
				0x12, 0x00, 0x04, 'a', 'u', 't', 'o', // assigned client identifier "auto"
				0x13, 0x00, 0x1E, // server keep alive 30
				0x15, 0x00, 0x05, 'P', 'L', 'A', 'I', 'N', // authentication method "PLAIN"
				0x16, 0x00, 0x02, 0x0A, 0x0B, // authentication data
				0x1A, 0x00, 0x04, 'i', 'n', 'f', 'o', // response information "info"
				0x1C, 0x00, 0x03, 's', 'r', 'v', // server reference "srv"
				0x1F, 0x00, 0x02, 'o', 'k', // reason string "ok"
				0x21, 0x00, 0x64, // receive maximum 100
				0x22, 0x00, 0x05, // topic alias maximum 5
				0x24, 0x01, // maximum qos 1
				0x25, 0x00, // retain available 0
				0x27, 0x00, 0x01, 0x00, 0x00, // maximum packet size 65536
				0x28, 0x00, // wildcard subscription available 0
				0x29, 0x01, // subscription identifier available 1
				0x2A, 0x00, // shared subscription available 0
				0x26, 0x00, 0x01, 'x', 0x00, 0x01, 'y', // user property x=y
				0x26, 0x00, 0x01, 'x', 0x00, 0x01, 'z', // user property x=z
			},
			Packet: &mqtt.Connack{
				SessionPresent: true,
				Properties: props(func(p *mqtt.Properties) {
					p.SetUint32(mqtt.PropSessionExpiryInterval, 120)
					p.SetString(mqtt.PropAssignedClientIdentifier, "auto")
					p.SetUint16(mqtt.PropServerKeepAlive, 30)
					p.SetString(mqtt.PropAuthenticationMethod, "PLAIN")
					p.SetBinary(mqtt.PropAuthenticationData, []byte{0x0A, 0x0B})
					p.SetString(mqtt.PropResponseInformation, "info")
					p.SetString(mqtt.PropServerReference, "srv")
					p.SetString(mqtt.PropReasonString, "ok")
					p.SetUint16(mqtt.PropReceiveMaximum, 100)
					p.SetUint16(mqtt.PropTopicAliasMaximum, 5)
					p.SetByte(mqtt.PropMaximumQoS, 1)
					p.SetByte(mqtt.PropRetainAvailable, 0)
					p.SetUint32(mqtt.PropMaximumPacketSize, 65536)
					p.SetByte(mqtt.PropWildcardSubscriptionAvailable, 0)
					p.SetByte(mqtt.PropSubscriptionIdentifierAvailable, 1)
					p.SetByte(mqtt.PropSharedSubscriptionAvailable, 0)
					p.UserProperties = []mqtt.UserProperty{{Key: "x", Value: "y"}, {Key: "x", Value: "z"}}
				}),
			},
		},
		{
			Name: "CONNACK 5.0 not authorized with reason string", Version: mqtt.V5,
			Bytes: []byte{
				0x20, 0x0C, // CONNACK, remaining length 12
				0x00,                                           // session present 0 [MQTT-3.2.2-6]
				0x87,                                           // not authorized
				0x09,                                           // property length 9
				0x1F, 0x00, 0x06, 'd', 'e', 'n', 'i', 'e', 'd', // reason string "denied"
			},
			Packet: &mqtt.Connack{
				ReasonCode: mqtt.NotAuthorized,
				Properties: props(func(p *mqtt.Properties) { p.SetString(mqtt.PropReasonString, "denied") }),
			},
		},
	}
}

func publishes() []Golden {
	var g []Golden
	for _, v := range v3s {
		g = append(g,
			Golden{
				Name: "PUBLISH " + v.name + " qos 0", Version: v.v,
				Bytes: []byte{
					0x30, 0x07, // PUBLISH qos 0, remaining length 7
					0x00, 0x03, 'a', '/', 'b', // topic name "a/b"
					'h', 'i', // payload "hi"
				},
				Packet: &mqtt.Publish{Topic: "a/b", Payload: []byte("hi")},
			},
			Golden{
				Name: "PUBLISH " + v.name + " qos 1 retain", Version: v.v,
				Bytes: []byte{
					0x33, 0x0A, // PUBLISH qos 1 (0x02) retain (0x01), remaining length 10
					0x00, 0x03, 'a', '/', 'b', // topic name "a/b"
					0x00, 0x0A, // packet identifier 10
					0x01, 0x02, 0x03, // payload
				},
				Packet: &mqtt.Publish{QoS: 1, Retain: true, Topic: "a/b", PacketID: 10, Payload: []byte{1, 2, 3}},
			},
			Golden{
				Name: "PUBLISH " + v.name + " qos 2 dup retain, empty payload", Version: v.v,
				Bytes: []byte{
					0x3D, 0x05, // PUBLISH dup (0x08) qos 2 (0x04) retain (0x01), remaining length 5
					0x00, 0x01, 't', // topic name "t"
					0xFF, 0xFF, // packet identifier 65535
				},
				Packet: &mqtt.Publish{Dup: true, QoS: 2, Retain: true, Topic: "t", PacketID: 65535},
			},
			Golden{
				Name: "PUBLISH " + v.name + " qos 1 dup", Version: v.v,
				Bytes: []byte{
					0x3A, 0x06, // PUBLISH dup (0x08) qos 1 (0x02), remaining length 6
					0x00, 0x01, 't', // topic name "t"
					0x00, 0x01, // packet identifier 1
					'x', // payload "x"
				},
				Packet: &mqtt.Publish{Dup: true, QoS: 1, Topic: "t", PacketID: 1, Payload: []byte("x")},
			},
		)
	}
	g = append(g,
		Golden{
			Name: "PUBLISH 3.1.1 qos 0 multi-byte UTF-8 topic", Version: mqtt.V311,
			Bytes: []byte{
				0x30, 0x08, // PUBLISH qos 0, remaining length 8
				0x00, 0x05, 0xC3, 0xA9, '/', 0xC3, 0xBC, // topic name "é/ü"
				0x00, // payload: one zero byte
			},
			Packet: &mqtt.Publish{Topic: "é/ü", Payload: []byte{0}},
		},
		Golden{
			Name: "PUBLISH 5.0 qos 0 without properties", Version: mqtt.V5,
			Bytes: []byte{
				0x30, 0x08, // PUBLISH qos 0, remaining length 8
				0x00, 0x03, 'a', '/', 'b', // topic name "a/b"
				0x00,     // property length 0
				'h', 'i', // payload "hi"
			},
			Packet: &mqtt.Publish{Topic: "a/b", Payload: []byte("hi")},
		},
		Golden{
			Name: "PUBLISH 5.0 qos 1 every property, several subscription identifiers and user properties", Version: mqtt.V5,
			Bytes: []byte{
				0x32, 0x4B, // PUBLISH qos 1, remaining length 75
				0x00, 0x03, 'a', '/', 'b', // topic name "a/b"
				0x00, 0x01, // packet identifier 1
				0x41,       // property length 65
				0x01, 0x01, // payload format indicator 1
				0x02, 0x00, 0x00, 0x01, 0x2C, // message expiry interval 300
				0x03, 0x00, 0x04, 'j', 's', 'o', 'n', // content type "json"
				0x08, 0x00, 0x05, 'r', 'e', 'p', 'l', 'y', // response topic "reply"
				0x09, 0x00, 0x04, 0xDE, 0xAD, 0xBE, 0xEF, // correlation data
				0x23, 0x00, 0x07, // topic alias 7
				0x0B, 0x01, // subscription identifier 1
				0x0B, 0x80, 0x01, // subscription identifier 128 (two byte varint)
				0x0B, 0xFF, 0xFF, 0xFF, 0x7F, // subscription identifier 268,435,455 (largest)
				0x26, 0x00, 0x01, 'k', 0x00, 0x02, 'v', '1', // user property k=v1
				0x26, 0x00, 0x01, 'k', 0x00, 0x02, 'v', '2', // user property k=v2 [MQTT-3.3.2-18]: order kept
				0x26, 0x00, 0x02, 'k', '2', 0x00, 0x00, // user property k2="" (empty value)
				'{', '}', // payload "{}"
			},
			Packet: &mqtt.Publish{
				QoS: 1, Topic: "a/b", PacketID: 1,
				Properties: props(func(p *mqtt.Properties) {
					p.SetByte(mqtt.PropPayloadFormatIndicator, 1)
					p.SetUint32(mqtt.PropMessageExpiryInterval, 300)
					p.SetString(mqtt.PropContentType, "json")
					p.SetString(mqtt.PropResponseTopic, "reply")
					p.SetBinary(mqtt.PropCorrelationData, []byte{0xDE, 0xAD, 0xBE, 0xEF})
					p.SetUint16(mqtt.PropTopicAlias, 7)
					p.SubscriptionIdentifiers = []uint32{1, 128, 268_435_455}
					p.UserProperties = []mqtt.UserProperty{{Key: "k", Value: "v1"}, {Key: "k", Value: "v2"}, {Key: "k2", Value: ""}}
				}),
				Payload: []byte("{}"),
			},
		},
		Golden{
			Name: "PUBLISH 5.0 qos 2 dup retain, empty payload", Version: mqtt.V5,
			Bytes: []byte{
				0x3D, 0x06, // PUBLISH dup qos 2 retain, remaining length 6
				0x00, 0x01, 't', // topic name "t"
				0x12, 0x34, // packet identifier 0x1234
				0x00, // property length 0
			},
			Packet: &mqtt.Publish{Dup: true, QoS: 2, Retain: true, Topic: "t", PacketID: 0x1234},
		},
		Golden{
			// A zero-length topic name with a topic alias (3.3.2.3.4).
			Name: "PUBLISH 5.0 empty topic name with topic alias", Version: mqtt.V5,
			Bytes: []byte{
				0x30, 0x07, // PUBLISH qos 0, remaining length 7
				0x00, 0x00, // topic name ""
				0x03,             // property length 3
				0x23, 0x00, 0x01, // topic alias 1
				'p', // payload "p"
			},
			Packet: &mqtt.Publish{
				Properties: props(func(p *mqtt.Properties) { p.SetUint16(mqtt.PropTopicAlias, 1) }),
				Payload:    []byte("p"),
			},
		},
		Golden{
			// A BOM is U+FEFF and is neither skipped nor stripped [MQTT-1.5.4-3].
			Name: "PUBLISH 5.0 qos 1 retain, topic starting with a BOM", Version: mqtt.V5,
			Bytes: []byte{
				0x33, 0x09, // PUBLISH qos 1 retain, remaining length 9
				0x00, 0x04, 0xEF, 0xBB, 0xBF, 'a', // topic name "\uFEFFa"
				0x00, 0x02, // packet identifier 2
				0x00, // property length 0
			},
			Packet: &mqtt.Publish{QoS: 1, Retain: true, Topic: "\uFEFFa", PacketID: 2},
		},
	)
	return g
}

func acks() []Golden {
	var g []Golden
	for _, v := range v3s {
		g = append(g,
			Golden{
				Name: "PUBACK " + v.name, Version: v.v,
				Bytes:  []byte{0x40, 0x02, 0x00, 0x01}, // PUBACK, length 2, packet identifier 1
				Packet: &mqtt.Puback{PacketID: 1},
			},
			Golden{
				Name: "PUBREC " + v.name, Version: v.v,
				Bytes:  []byte{0x50, 0x02, 0x00, 0x02}, // PUBREC, length 2, packet identifier 2
				Packet: &mqtt.Pubrec{PacketID: 2},
			},
			Golden{
				Name: "PUBREL " + v.name, Version: v.v,
				Bytes:  []byte{0x62, 0x02, 0x00, 0x03}, // PUBREL flags 0010 [MQTT-3.6.1-1], packet identifier 3
				Packet: &mqtt.Pubrel{PacketID: 3},
			},
			Golden{
				Name: "PUBCOMP " + v.name, Version: v.v,
				Bytes:  []byte{0x70, 0x02, 0x00, 0x04}, // PUBCOMP, length 2, packet identifier 4
				Packet: &mqtt.Pubcomp{PacketID: 4},
			},
		)
	}
	// 5.0: the reason code and property length may be left out when the
	// code is 0x00 and there are no properties (3.4.2.1), and the property
	// length when the remaining length is less than 4 (3.4.2.2.1).
	g = append(g,
		Golden{
			Name: "PUBACK 5.0 short form", Version: mqtt.V5,
			Bytes:  []byte{0x40, 0x02, 0x00, 0x01}, // packet identifier 1, success implied
			Packet: &mqtt.Puback{PacketID: 1},
		},
		Golden{
			Name: "PUBACK 5.0 reason code only", Version: mqtt.V5,
			Bytes: []byte{
				0x40, 0x03, // PUBACK, remaining length 3
				0x00, 0x02, // packet identifier 2
				0x10, // no matching subscribers
			},
			Packet: &mqtt.Puback{PacketID: 2, ReasonCode: mqtt.NoMatchingSubscribers},
		},
		Golden{
			Name: "PUBACK 5.0 reason code and properties", Version: mqtt.V5,
			Bytes: []byte{
				0x40, 0x12, // PUBACK, remaining length 18
				0x00, 0x03, // packet identifier 3
				0x87,                                 // not authorized
				0x0E,                                 // property length 14
				0x1F, 0x00, 0x04, 'd', 'e', 'n', 'y', // reason string "deny"
				0x26, 0x00, 0x01, 'a', 0x00, 0x01, 'b', // user property a=b
			},
			Packet: &mqtt.Puback{PacketID: 3, ReasonCode: mqtt.NotAuthorized, Properties: props(func(p *mqtt.Properties) {
				p.SetString(mqtt.PropReasonString, "deny")
				p.UserProperties = []mqtt.UserProperty{{Key: "a", Value: "b"}}
			})},
		},
		Golden{
			Name: "PUBACK 5.0 success with properties", Version: mqtt.V5,
			Bytes: []byte{
				0x40, 0x09, // PUBACK, remaining length 9
				0x00, 0x04, // packet identifier 4
				0x00,                       // success, present because properties follow
				0x05,                       // property length 5
				0x1F, 0x00, 0x02, 'o', 'k', // reason string "ok"
			},
			Packet: &mqtt.Puback{PacketID: 4, Properties: props(func(p *mqtt.Properties) { p.SetString(mqtt.PropReasonString, "ok") })},
		},
		Golden{
			Name: "PUBREC 5.0 short form", Version: mqtt.V5,
			Bytes:  []byte{0x50, 0x02, 0x00, 0x05}, // packet identifier 5
			Packet: &mqtt.Pubrec{PacketID: 5},
		},
		Golden{
			Name: "PUBREC 5.0 reason code only", Version: mqtt.V5,
			Bytes:  []byte{0x50, 0x03, 0x00, 0x06, 0x80}, // packet identifier 6, unspecified error
			Packet: &mqtt.Pubrec{PacketID: 6, ReasonCode: mqtt.UnspecifiedError},
		},
		Golden{
			Name: "PUBREC 5.0 reason code and properties", Version: mqtt.V5,
			Bytes: []byte{
				0x50, 0x0C, // PUBREC, remaining length 12
				0x00, 0x07, // packet identifier 7
				0x97,                                      // quota exceeded
				0x08,                                      // property length 8
				0x1F, 0x00, 0x05, 'q', 'u', 'o', 't', 'a', // reason string "quota"
			},
			Packet: &mqtt.Pubrec{PacketID: 7, ReasonCode: mqtt.QuotaExceeded, Properties: props(func(p *mqtt.Properties) { p.SetString(mqtt.PropReasonString, "quota") })},
		},
		Golden{
			Name: "PUBREL 5.0 short form", Version: mqtt.V5,
			Bytes:  []byte{0x62, 0x02, 0x00, 0x08}, // PUBREL flags 0010, packet identifier 8
			Packet: &mqtt.Pubrel{PacketID: 8},
		},
		Golden{
			Name: "PUBREL 5.0 reason code only", Version: mqtt.V5,
			Bytes:  []byte{0x62, 0x03, 0x00, 0x09, 0x92}, // packet identifier 9, packet identifier not found
			Packet: &mqtt.Pubrel{PacketID: 9, ReasonCode: mqtt.PacketIdentifierNotFound},
		},
		Golden{
			Name: "PUBREL 5.0 reason code and properties", Version: mqtt.V5,
			Bytes: []byte{
				0x62, 0x0B, // PUBREL, remaining length 11
				0x00, 0x0A, // packet identifier 10
				0x92,                                   // packet identifier not found
				0x07,                                   // property length 7
				0x26, 0x00, 0x01, 'k', 0x00, 0x01, 'v', // user property k=v
			},
			Packet: &mqtt.Pubrel{PacketID: 10, ReasonCode: mqtt.PacketIdentifierNotFound, Properties: props(func(p *mqtt.Properties) {
				p.UserProperties = []mqtt.UserProperty{{Key: "k", Value: "v"}}
			})},
		},
		Golden{
			Name: "PUBCOMP 5.0 short form", Version: mqtt.V5,
			Bytes:  []byte{0x70, 0x02, 0x00, 0x0B}, // packet identifier 11
			Packet: &mqtt.Pubcomp{PacketID: 11},
		},
		Golden{
			Name: "PUBCOMP 5.0 reason code only", Version: mqtt.V5,
			Bytes:  []byte{0x70, 0x03, 0x00, 0x0C, 0x92}, // packet identifier 12, packet identifier not found
			Packet: &mqtt.Pubcomp{PacketID: 12, ReasonCode: mqtt.PacketIdentifierNotFound},
		},
		Golden{
			Name: "PUBCOMP 5.0 reason code and properties", Version: mqtt.V5,
			Bytes: []byte{
				0x70, 0x0B, // PUBCOMP, remaining length 11
				0x00, 0x0D, // packet identifier 13
				0x92,                                 // packet identifier not found
				0x07,                                 // property length 7
				0x1F, 0x00, 0x04, 'l', 'o', 's', 't', // reason string "lost"
			},
			Packet: &mqtt.Pubcomp{PacketID: 13, ReasonCode: mqtt.PacketIdentifierNotFound, Properties: props(func(p *mqtt.Properties) { p.SetString(mqtt.PropReasonString, "lost") })},
		},
	)
	return g
}

func subscribes() []Golden {
	var g []Golden
	for _, v := range v3s {
		g = append(g,
			Golden{
				Name: "SUBSCRIBE " + v.name + " one filter", Version: v.v,
				Bytes: []byte{
					0x82, 0x08, // SUBSCRIBE flags 0010 [MQTT-3.8.1-1], remaining length 8
					0x00, 0x01, // packet identifier 1
					0x00, 0x03, 'a', '/', 'b', // topic filter "a/b"
					0x00, // requested qos 0
				},
				Packet: &mqtt.Subscribe{PacketID: 1, Subscriptions: []mqtt.Subscription{{Filter: "a/b"}}},
			},
			Golden{
				Name: "SUBSCRIBE " + v.name + " three filters", Version: v.v,
				Bytes: []byte{
					0x82, 0x15, // SUBSCRIBE, remaining length 21
					0x00, 0x02, // packet identifier 2
					0x00, 0x03, 'a', '/', '+', // topic filter "a/+"
					0x00,            // qos 0
					0x00, 0x01, '#', // topic filter "#"
					0x01,                                     // qos 1
					0x00, 0x06, '$', 'S', 'Y', 'S', '/', '#', // topic filter "$SYS/#"
					0x02, // qos 2
				},
				Packet: &mqtt.Subscribe{PacketID: 2, Subscriptions: []mqtt.Subscription{
					{Filter: "a/+"}, {Filter: "#", QoS: 1}, {Filter: "$SYS/#", QoS: 2},
				}},
			},
		)
		codes := []byte{0x00, 0x01, 0x02, 0x80} // granted qos 0, 1, 2, failure
		rc := []mqtt.ReasonCode{0x00, 0x01, 0x02, 0x80}
		if v.v == mqtt.V31 {
			codes, rc = codes[:3], rc[:3] // 3.1 has no failure code
		}
		g = append(g, Golden{
			Name: "SUBACK " + v.name, Version: v.v,
			Bytes: append([]byte{
				0x90, byte(2 + len(codes)), // SUBACK, remaining length
				0x00, 0x02, // packet identifier 2
			}, codes...), // one return code per filter [MQTT-3.9.3-1]
			Packet: &mqtt.Suback{PacketID: 2, ReasonCodes: rc},
		})
	}
	g = append(g,
		Golden{
			Name: "SUBSCRIBE 5.0 without properties", Version: mqtt.V5,
			Bytes: []byte{
				0x82, 0x09, // SUBSCRIBE, remaining length 9
				0x00, 0x01, // packet identifier 1
				0x00,                      // property length 0
				0x00, 0x03, 'a', '/', 'b', // topic filter "a/b"
				0x01, // options: qos 1
			},
			Packet: &mqtt.Subscribe{PacketID: 1, Subscriptions: []mqtt.Subscription{{Filter: "a/b", QoS: 1}}},
		},
		Golden{
			Name: "SUBSCRIBE 5.0 every option, subscription identifier and user property", Version: mqtt.V5,
			Bytes: []byte{
				0x82, 0x29, // SUBSCRIBE, remaining length 41
				0x00, 0x0A, // packet identifier 10
				0x09,       // property length 9
				0x0B, 0x05, // subscription identifier 5
				0x26, 0x00, 0x01, 'k', 0x00, 0x01, 'v', // user property k=v
				0x00, 0x01, 'a', // topic filter "a"
				0x2E,                      // options: retain handling 2 (0x20), retain as published 0x08, no local 0x04, qos 2
				0x00, 0x03, 'b', '/', '+', // topic filter "b/+"
				0x11,            // options: retain handling 1 (0x10), qos 1
				0x00, 0x01, '#', // topic filter "#"
				0x00,                                                                   // options: all zero
				0x00, 0x0C, '$', 's', 'h', 'a', 'r', 'e', '/', 'g', 'r', 'p', '/', 'x', // "$share/grp/x"
				0x09, // options: retain as published, qos 1 (no local is not allowed on shared [MQTT-3.8.3-4])
			},
			Packet: &mqtt.Subscribe{
				PacketID: 10,
				Properties: props(func(p *mqtt.Properties) {
					p.SubscriptionIdentifiers = []uint32{5}
					p.UserProperties = []mqtt.UserProperty{{Key: "k", Value: "v"}}
				}),
				Subscriptions: []mqtt.Subscription{
					{Filter: "a", QoS: 2, NoLocal: true, RetainAsPublished: true, RetainHandling: 2},
					{Filter: "b/+", QoS: 1, RetainHandling: 1},
					{Filter: "#"},
					{Filter: "$share/grp/x", QoS: 1, RetainAsPublished: true},
				},
			},
		},
		Golden{
			Name: "SUBACK 5.0 without properties", Version: mqtt.V5,
			Bytes: []byte{
				0x90, 0x04, // SUBACK, remaining length 4
				0x00, 0x01, // packet identifier 1
				0x00, // property length 0
				0x01, // granted qos 1
			},
			Packet: &mqtt.Suback{PacketID: 1, ReasonCodes: []mqtt.ReasonCode{mqtt.GrantedQoS1}},
		},
		Golden{
			Name: "SUBACK 5.0 every reason code, with properties", Version: mqtt.V5,
			Bytes: []byte{
				0x90, 0x1B, // SUBACK, remaining length 27
				0x00, 0x0A, // packet identifier 10
				0x0C,                       // property length 12
				0x1F, 0x00, 0x02, 'n', 'o', // reason string "no"
				0x26, 0x00, 0x01, 'k', 0x00, 0x01, 'v', // user property k=v
				// granted qos 0, 1, 2; unspecified error; implementation specific
				// error; not authorized; topic filter invalid; packet identifier in
				// use; quota exceeded; shared subscriptions not supported;
				// subscription identifiers not supported; wildcard subscriptions
				// not supported (3.9.3)
				0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2,
			},
			Packet: &mqtt.Suback{
				PacketID: 10,
				Properties: props(func(p *mqtt.Properties) {
					p.SetString(mqtt.PropReasonString, "no")
					p.UserProperties = []mqtt.UserProperty{{Key: "k", Value: "v"}}
				}),
				ReasonCodes: []mqtt.ReasonCode{
					mqtt.GrantedQoS0, mqtt.GrantedQoS1, mqtt.GrantedQoS2, mqtt.UnspecifiedError,
					mqtt.ImplementationSpecificError, mqtt.NotAuthorized, mqtt.TopicFilterInvalid,
					mqtt.PacketIdentifierInUse, mqtt.QuotaExceeded, mqtt.SharedSubscriptionsNotSupported,
					mqtt.SubscriptionIdentifiersNotSupported, mqtt.WildcardSubscriptionsNotSupported,
				},
			},
		},
	)
	return g
}

func unsubscribes() []Golden {
	var g []Golden
	for _, v := range v3s {
		g = append(g,
			Golden{
				Name: "UNSUBSCRIBE " + v.name, Version: v.v,
				Bytes: []byte{
					0xA2, 0x0A, // UNSUBSCRIBE flags 0010 [MQTT-3.10.1-1], remaining length 10
					0x00, 0x03, // packet identifier 3
					0x00, 0x03, 'a', '/', 'b', // topic filter "a/b"
					0x00, 0x01, '#', // topic filter "#"
				},
				Packet: &mqtt.Unsubscribe{PacketID: 3, Filters: []string{"a/b", "#"}},
			},
			Golden{
				Name: "UNSUBACK " + v.name, Version: v.v,
				Bytes:  []byte{0xB0, 0x02, 0x00, 0x03}, // UNSUBACK, length 2, packet identifier 3
				Packet: &mqtt.Unsuback{PacketID: 3},
			},
		)
	}
	g = append(g,
		Golden{
			Name: "UNSUBSCRIBE 5.0 without properties", Version: mqtt.V5,
			Bytes: []byte{
				0xA2, 0x08, // UNSUBSCRIBE, remaining length 8
				0x00, 0x04, // packet identifier 4
				0x00,                      // property length 0
				0x00, 0x03, 'a', '/', '+', // topic filter "a/+"
			},
			Packet: &mqtt.Unsubscribe{PacketID: 4, Filters: []string{"a/+"}},
		},
		Golden{
			Name: "UNSUBSCRIBE 5.0 user property, shared filter", Version: mqtt.V5,
			Bytes: []byte{
				0xA2, 0x1B, // UNSUBSCRIBE, remaining length 27
				0x00, 0x05, // packet identifier 5
				0x07,                                   // property length 7
				0x26, 0x00, 0x01, 'k', 0x00, 0x01, 'v', // user property k=v
				0x00, 0x01, 'x', // topic filter "x"
				0x00, 0x0C, '$', 's', 'h', 'a', 'r', 'e', '/', 'g', 'r', 'p', '/', 'x', // "$share/grp/x"
			},
			Packet: &mqtt.Unsubscribe{
				PacketID:   5,
				Properties: props(func(p *mqtt.Properties) { p.UserProperties = []mqtt.UserProperty{{Key: "k", Value: "v"}} }),
				Filters:    []string{"x", "$share/grp/x"},
			},
		},
		Golden{
			Name: "UNSUBACK 5.0 without properties", Version: mqtt.V5,
			Bytes: []byte{
				0xB0, 0x04, // UNSUBACK, remaining length 4
				0x00, 0x04, // packet identifier 4
				0x00, // property length 0
				0x00, // success
			},
			Packet: &mqtt.Unsuback{PacketID: 4, ReasonCodes: []mqtt.ReasonCode{mqtt.Success}},
		},
		Golden{
			Name: "UNSUBACK 5.0 every reason code, with properties", Version: mqtt.V5,
			Bytes: []byte{
				0xB0, 0x0E, // UNSUBACK, remaining length 14
				0x00, 0x05, // packet identifier 5
				0x04,                  // property length 4
				0x1F, 0x00, 0x01, 'r', // reason string "r"
				// success, no subscription existed, unspecified error,
				// implementation specific error, not authorized, topic filter
				// invalid, packet identifier in use (3.11.3)
				0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91,
			},
			Packet: &mqtt.Unsuback{
				PacketID:   5,
				Properties: props(func(p *mqtt.Properties) { p.SetString(mqtt.PropReasonString, "r") }),
				ReasonCodes: []mqtt.ReasonCode{
					mqtt.Success, mqtt.NoSubscriptionExisted, mqtt.UnspecifiedError, mqtt.ImplementationSpecificError,
					mqtt.NotAuthorized, mqtt.TopicFilterInvalid, mqtt.PacketIdentifierInUse,
				},
			},
		},
	)
	return g
}

func pings() []Golden {
	var g []Golden
	for _, v := range append(v3s, struct {
		v    mqtt.Version
		name string
	}{mqtt.V5, "5.0"}) {
		g = append(g,
			Golden{Name: "PINGREQ " + v.name, Version: v.v, Bytes: []byte{0xC0, 0x00}, Packet: &mqtt.Pingreq{}},   // PINGREQ, length 0
			Golden{Name: "PINGRESP " + v.name, Version: v.v, Bytes: []byte{0xD0, 0x00}, Packet: &mqtt.Pingresp{}}, // PINGRESP, length 0
		)
	}
	return g
}

func disconnects() []Golden {
	var g []Golden
	for _, v := range v3s {
		g = append(g, Golden{
			Name: "DISCONNECT " + v.name, Version: v.v,
			Bytes:  []byte{0xE0, 0x00}, // DISCONNECT, length 0
			Packet: &mqtt.Disconnect{},
		})
	}
	g = append(g,
		Golden{
			// Code 0x00 and no properties: remaining length 0 (3.14.2.1).
			Name: "DISCONNECT 5.0 short form", Version: mqtt.V5,
			Bytes:  []byte{0xE0, 0x00},
			Packet: &mqtt.Disconnect{},
		},
		Golden{
			Name: "DISCONNECT 5.0 reason code without properties", Version: mqtt.V5,
			Bytes: []byte{
				0xE0, 0x02, // DISCONNECT, remaining length 2
				0x04, // disconnect with will message
				0x00, // property length 0
			},
			Packet: &mqtt.Disconnect{ReasonCode: mqtt.DisconnectWithWillMessage},
		},
		Golden{
			Name: "DISCONNECT 5.0 client, session expiry, reason string, user property", Version: mqtt.V5,
			Bytes: []byte{
				0xE0, 0x14, // DISCONNECT, remaining length 20
				0x04,                         // disconnect with will message
				0x12,                         // property length 18
				0x11, 0x00, 0x00, 0x00, 0x3C, // session expiry interval 60
				0x1F, 0x00, 0x03, 'b', 'y', 'e', // reason string "bye"
				0x26, 0x00, 0x01, 'k', 0x00, 0x01, 'v', // user property k=v
			},
			Packet: &mqtt.Disconnect{ReasonCode: mqtt.DisconnectWithWillMessage, Properties: props(func(p *mqtt.Properties) {
				p.SetUint32(mqtt.PropSessionExpiryInterval, 60)
				p.SetString(mqtt.PropReasonString, "bye")
				p.UserProperties = []mqtt.UserProperty{{Key: "k", Value: "v"}}
			})},
		},
		Golden{
			Name: "DISCONNECT 5.0 server, use another server", Version: mqtt.V5,
			Bytes: []byte{
				0xE0, 0x0C, // DISCONNECT, remaining length 12
				0x9C,                                                // use another server
				0x0A,                                                // property length 10
				0x1C, 0x00, 0x07, 'h', 'o', 's', 't', ':', '8', '8', // server reference "host:88"
			},
			Packet: &mqtt.Disconnect{ReasonCode: mqtt.UseAnotherServer, Properties: props(func(p *mqtt.Properties) {
				p.SetString(mqtt.PropServerReference, "host:88")
			})},
		},
	)
	return g
}

func auths() []Golden {
	return []Golden{
		{
			// Code 0x00 and no properties: remaining length 0 (3.15.2.1).
			Name: "AUTH 5.0 short form", Version: mqtt.V5,
			Bytes:  []byte{0xF0, 0x00},
			Packet: &mqtt.Auth{},
		},
		{
			Name: "AUTH 5.0 continue authentication, method and data", Version: mqtt.V5,
			Bytes: []byte{
				0xF0, 0x11, // AUTH, remaining length 17
				0x18,                                      // continue authentication
				0x0F,                                      // property length 15
				0x15, 0x00, 0x05, 'S', 'C', 'R', 'A', 'M', // authentication method "SCRAM"
				0x16, 0x00, 0x04, 0x01, 0x02, 0x03, 0x04, // authentication data
			},
			Packet: &mqtt.Auth{ReasonCode: mqtt.ContinueAuthentication, Properties: props(func(p *mqtt.Properties) {
				p.SetString(mqtt.PropAuthenticationMethod, "SCRAM")
				p.SetBinary(mqtt.PropAuthenticationData, []byte{1, 2, 3, 4})
			})},
		},
		{
			Name: "AUTH 5.0 re-authenticate, reason string and user property", Version: mqtt.V5,
			Bytes: []byte{
				0xF0, 0x16, // AUTH, remaining length 22
				0x19,                                      // re-authenticate
				0x14,                                      // property length 20
				0x15, 0x00, 0x05, 'S', 'C', 'R', 'A', 'M', // authentication method "SCRAM"
				0x1F, 0x00, 0x02, 'r', 'a', // reason string "ra"
				0x26, 0x00, 0x01, 'k', 0x00, 0x01, 'v', // user property k=v
			},
			Packet: &mqtt.Auth{ReasonCode: mqtt.ReAuthenticate, Properties: props(func(p *mqtt.Properties) {
				p.SetString(mqtt.PropAuthenticationMethod, "SCRAM")
				p.SetString(mqtt.PropReasonString, "ra")
				p.UserProperties = []mqtt.UserProperty{{Key: "k", Value: "v"}}
			})},
		},
	}
}
