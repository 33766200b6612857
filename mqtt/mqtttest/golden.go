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
