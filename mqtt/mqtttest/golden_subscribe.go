// Golden SUBSCRIBE, UNSUBSCRIBE, PINGREQ/PINGRESP, DISCONNECT and AUTH
// packets.

package mqtttest

import "edgemq/mqtt"

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
