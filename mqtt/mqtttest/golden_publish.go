// Golden PUBLISH packets and their acknowledgements.

package mqtttest

import "edgemq/mqtt"

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
