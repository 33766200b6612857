package mqtt_test

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"edgemq/mqtt"
)

// TestReasonCodeV3 pins the one v5-to-v3 mapping: CONNACK return codes of
// 3.1.1 table 3.1 and the SUBACK failure 0x80 [MQTT-3.9.3-2 in 3.1.1].
func TestReasonCodeV3(t *testing.T) {
	for _, c := range []struct {
		code mqtt.ReasonCode
		t    mqtt.Type
		want byte
	}{
		{mqtt.Success, mqtt.CONNACK, mqtt.ConnAccepted},
		{mqtt.UnsupportedProtocolVersion, mqtt.CONNACK, mqtt.ConnRefusedProtocolVersion},
		{mqtt.ClientIdentifierNotValid, mqtt.CONNACK, mqtt.ConnRefusedIdentifierRejected},
		{mqtt.BadUserNameOrPassword, mqtt.CONNACK, mqtt.ConnRefusedBadCredentials},
		{mqtt.BadAuthenticationMethod, mqtt.CONNACK, mqtt.ConnRefusedBadCredentials},
		{mqtt.NotAuthorized, mqtt.CONNACK, mqtt.ConnRefusedNotAuthorized},
		{mqtt.Banned, mqtt.CONNACK, mqtt.ConnRefusedNotAuthorized},
		{mqtt.ServerUnavailable, mqtt.CONNACK, mqtt.ConnRefusedServerUnavailable},
		{mqtt.ServerBusy, mqtt.CONNACK, mqtt.ConnRefusedServerUnavailable},
		{mqtt.UnspecifiedError, mqtt.CONNACK, mqtt.ConnRefusedServerUnavailable},
		{mqtt.MalformedPacket, mqtt.CONNACK, mqtt.ConnRefusedServerUnavailable},
		{mqtt.QuotaExceeded, mqtt.CONNACK, mqtt.ConnRefusedServerUnavailable},
		{mqtt.ReasonCode(mqtt.ConnRefusedBadCredentials), mqtt.CONNACK, mqtt.ConnRefusedBadCredentials}, // already v3
		{mqtt.GrantedQoS0, mqtt.SUBACK, 0x00},
		{mqtt.GrantedQoS1, mqtt.SUBACK, 0x01},
		{mqtt.GrantedQoS2, mqtt.SUBACK, 0x02},
		{mqtt.UnspecifiedError, mqtt.SUBACK, mqtt.SubackFailureV3},
		{mqtt.NotAuthorized, mqtt.SUBACK, mqtt.SubackFailureV3},
		{mqtt.TopicFilterInvalid, mqtt.SUBACK, mqtt.SubackFailureV3},
		{mqtt.WildcardSubscriptionsNotSupported, mqtt.SUBACK, mqtt.SubackFailureV3},
		{mqtt.NotAuthorized, mqtt.PUBACK, 0},
		{mqtt.NormalDisconnection, mqtt.DISCONNECT, 0},
	} {
		if got := c.code.V3(c.t); got != c.want {
			t.Errorf("%v.V3(%v) = %#x, want %#x", c.code, c.t, got, c.want)
		}
	}
}

// TestEncodeV3Mapping: encoding for 3.x applies V3 and drops what 3.x
// lacks, and the result is what 3.1.1 expects on the wire.
func TestEncodeV3Mapping(t *testing.T) {
	for _, c := range []struct {
		name string
		p    mqtt.Packet
		v    mqtt.Version
		want []byte
	}{
		{"CONNACK not authorized", &mqtt.Connack{ReasonCode: mqtt.NotAuthorized, Properties: func() (p mqtt.Properties) {
			p.SetString(mqtt.PropReasonString, "no")
			return
		}()}, mqtt.V311, []byte{0x20, 0x02, 0x00, 0x05}},
		{"CONNACK bad user name", &mqtt.Connack{ReasonCode: mqtt.BadUserNameOrPassword}, mqtt.V31, []byte{0x20, 0x02, 0x00, 0x04}},
		{"CONNACK server busy", &mqtt.Connack{ReasonCode: mqtt.ServerBusy}, mqtt.V311, []byte{0x20, 0x02, 0x00, 0x03}},
		{"SUBACK failures", &mqtt.Suback{PacketID: 1, ReasonCodes: []mqtt.ReasonCode{mqtt.GrantedQoS1, mqtt.NotAuthorized, mqtt.TopicFilterInvalid}},
			mqtt.V311, []byte{0x90, 0x05, 0x00, 0x01, 0x01, 0x80, 0x80}},
		{"PUBACK reason code dropped", &mqtt.Puback{PacketID: 1, ReasonCode: mqtt.NoMatchingSubscribers}, mqtt.V311, []byte{0x40, 0x02, 0x00, 0x01}},
		{"UNSUBACK reason codes dropped", &mqtt.Unsuback{PacketID: 1, ReasonCodes: []mqtt.ReasonCode{mqtt.Success}}, mqtt.V311, []byte{0xB0, 0x02, 0x00, 0x01}},
		{"DISCONNECT reason code dropped", &mqtt.Disconnect{ReasonCode: mqtt.ServerShuttingDown}, mqtt.V311, []byte{0xE0, 0x00}},
		{"PUBLISH properties dropped", &mqtt.Publish{Topic: "t", Properties: func() (p mqtt.Properties) {
			p.SetUint16(mqtt.PropTopicAlias, 1)
			return
		}()}, mqtt.V311, []byte{0x30, 0x03, 0x00, 0x01, 't'}},
		{"SUBSCRIBE 5.0 options dropped", &mqtt.Subscribe{PacketID: 1, Subscriptions: []mqtt.Subscription{{Filter: "a", QoS: 1, NoLocal: true, RetainAsPublished: true, RetainHandling: 2}}},
			mqtt.V311, []byte{0x82, 0x06, 0x00, 0x01, 0x00, 0x01, 'a', 0x01}},
		{"CONNECT default protocol name 3.1", &mqtt.Connect{Version: mqtt.V31, ClientID: "c"}, mqtt.V31,
			[]byte{0x10, 0x0F, 0x00, 0x06, 'M', 'Q', 'I', 's', 'd', 'p', 0x03, 0x00, 0x00, 0x00, 0x00, 0x01, 'c'}},
		{"CONNECT default protocol name 3.1.1", &mqtt.Connect{Version: mqtt.V311, ClientID: "c"}, mqtt.V311,
			[]byte{0x10, 0x0D, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x00, 0x00, 0x00, 0x00, 0x01, 'c'}},
	} {
		got := mustEncode(t, c.p, c.v)
		if string(got) != string(c.want) {
			t.Errorf("%s:\n got % X\nwant % X", c.name, got, c.want)
		}
	}
}

func TestCodeOf(t *testing.T) {
	e := mqtt.Errorf(mqtt.TopicNameInvalid, "MQTT-3.3.2-2", "topic %q", "a/+")
	for _, c := range []struct {
		err  error
		want mqtt.ReasonCode
	}{
		{e, mqtt.TopicNameInvalid},
		{fmt.Errorf("wrapped: %w", e), mqtt.TopicNameInvalid},
		{mqtt.QuotaExceeded, mqtt.QuotaExceeded},
		{fmt.Errorf("wrapped: %w", mqtt.ServerBusy), mqtt.ServerBusy},
		{io.EOF, mqtt.UnspecifiedError},
		{errors.New("x"), mqtt.UnspecifiedError},
	} {
		if got := mqtt.CodeOf(c.err); got != c.want {
			t.Errorf("CodeOf(%v) = %v, want %v", c.err, got, c.want)
		}
	}
	if !errors.Is(e, mqtt.TopicNameInvalid) || errors.Is(e, mqtt.TopicFilterInvalid) {
		t.Error("errors.Is does not match the reason code")
	}
	if s := e.Error(); !strings.Contains(s, "topic name invalid") || !strings.Contains(s, "[MQTT-3.3.2-2]") || !strings.Contains(s, `"a/+"`) {
		t.Errorf("Error() = %q", s)
	}
	if s := mqtt.Errorf(mqtt.ProtocolError, "", "x").Error(); strings.Contains(s, "[") {
		t.Errorf("Error() without a rule = %q", s)
	}
}

func TestReasonCodeStrings(t *testing.T) {
	if s := mqtt.PacketTooLarge.Error(); s != "packet too large (0x95)" {
		t.Errorf("Error() = %q", s)
	}
	if s := mqtt.ReasonCode(0x42).String(); s != "reason code 0x42" {
		t.Errorf("String() = %q", s)
	}
	if mqtt.GrantedQoS2.IsError() || !mqtt.UnspecifiedError.IsError() {
		t.Error("IsError")
	}
	if mqtt.CONNECT.String() != "CONNECT" || mqtt.AUTH.String() != "AUTH" || mqtt.Type(16).String() != "type 16" {
		t.Error("Type.String")
	}
	if mqtt.V31.String() != "3.1" || mqtt.V311.String() != "3.1.1" || mqtt.V5.String() != "5.0" || mqtt.Version(9).String() != "level 9" {
		t.Error("Version.String")
	}
	if mqtt.PropTopicAlias.String() != "topic alias" || mqtt.PropID(0x7F).String() != "property 0x7F" {
		t.Error("PropID.String")
	}
}
