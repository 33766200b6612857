package mqtt_test

import (
	"testing"

	"edgemq/mqtt"
)

func TestPropertiesHasSet(t *testing.T) {
	var p mqtt.Properties
	if !p.Empty() {
		t.Fatal("zero Properties not empty")
	}
	all := []mqtt.PropID{
		mqtt.PropPayloadFormatIndicator, mqtt.PropMessageExpiryInterval, mqtt.PropContentType,
		mqtt.PropResponseTopic, mqtt.PropCorrelationData, mqtt.PropSessionExpiryInterval,
		mqtt.PropAssignedClientIdentifier, mqtt.PropServerKeepAlive, mqtt.PropAuthenticationMethod,
		mqtt.PropAuthenticationData, mqtt.PropRequestProblemInformation, mqtt.PropWillDelayInterval,
		mqtt.PropRequestResponseInformation, mqtt.PropResponseInformation, mqtt.PropServerReference,
		mqtt.PropReasonString, mqtt.PropReceiveMaximum, mqtt.PropTopicAliasMaximum, mqtt.PropTopicAlias,
		mqtt.PropMaximumQoS, mqtt.PropRetainAvailable, mqtt.PropMaximumPacketSize,
		mqtt.PropWildcardSubscriptionAvailable, mqtt.PropSubscriptionIdentifierAvailable,
		mqtt.PropSharedSubscriptionAvailable,
	}
	for _, id := range all {
		if p.Has(id) {
			t.Errorf("zero Properties has %v", id)
		}
	}
	// A zero value set is present: presence is not the value.
	p.SetByte(mqtt.PropMaximumQoS, 0)
	p.SetUint16(mqtt.PropTopicAliasMaximum, 0)
	p.SetUint32(mqtt.PropSessionExpiryInterval, 0)
	p.SetString(mqtt.PropReasonString, "")
	p.SetBinary(mqtt.PropCorrelationData, nil)
	for _, id := range []mqtt.PropID{mqtt.PropMaximumQoS, mqtt.PropTopicAliasMaximum, mqtt.PropSessionExpiryInterval, mqtt.PropReasonString, mqtt.PropCorrelationData} {
		if !p.Has(id) {
			t.Errorf("%v set to zero is not present", id)
		}
	}
	if p.Has(mqtt.PropMaximumPacketSize) || p.Empty() {
		t.Error("presence leaks")
	}
	p.SetUint32(mqtt.PropMaximumPacketSize, 1024)
	if !p.Has(mqtt.PropMaximumPacketSize) || p.MaximumPacketSize != 1024 {
		t.Error("SetUint32")
	}
	p.SetString(mqtt.PropContentType, "json")
	p.SetBinary(mqtt.PropAuthenticationData, []byte{1})
	p.SetUint16(mqtt.PropReceiveMaximum, 7)
	p.SetByte(mqtt.PropPayloadFormatIndicator, 1)
	if p.ContentType != "json" || p.AuthenticationData[0] != 1 || p.ReceiveMaximum != 7 || p.PayloadFormatIndicator != 1 {
		t.Error("setters do not set the field")
	}
	p.Clear(mqtt.PropMaximumPacketSize)
	if p.Has(mqtt.PropMaximumPacketSize) {
		t.Error("Clear")
	}
	for _, id := range all {
		p.Clear(id)
	}
	if !p.Empty() {
		t.Error("not empty after clearing everything")
	}
	p.UserProperties = []mqtt.UserProperty{{Key: "k"}}
	if p.Empty() {
		t.Error("user property not counted")
	}
	p.UserProperties = nil
	p.SubscriptionIdentifiers = []uint32{1}
	if p.Empty() {
		t.Error("subscription identifier not counted")
	}
	// Identifiers beyond the defined ones are never present and never
	// panic.
	for _, id := range []mqtt.PropID{0, 0x7F, 0xFF} {
		if p.Has(id) {
			t.Errorf("Has(%#x)", byte(id))
		}
	}
}

// TestPropertiesSetWrongKind: a setter given a property of another data
// type panics (a programming error, not input).
func TestPropertiesSetWrongKind(t *testing.T) {
	for name, f := range map[string]func(p *mqtt.Properties){
		"SetByte(topic alias)":        func(p *mqtt.Properties) { p.SetByte(mqtt.PropTopicAlias, 1) },
		"SetUint16(maximum qos)":      func(p *mqtt.Properties) { p.SetUint16(mqtt.PropMaximumQoS, 1) },
		"SetUint32(receive maximum)":  func(p *mqtt.Properties) { p.SetUint32(mqtt.PropReceiveMaximum, 1) },
		"SetString(correlation data)": func(p *mqtt.Properties) { p.SetString(mqtt.PropCorrelationData, "x") },
		"SetBinary(reason string)":    func(p *mqtt.Properties) { p.SetBinary(mqtt.PropReasonString, nil) },
		"SetUint32(subscription id)":  func(p *mqtt.Properties) { p.SetUint32(mqtt.PropSubscriptionIdentifier, 1) },
		"SetString(user property)":    func(p *mqtt.Properties) { p.SetString(mqtt.PropUserProperty, "x") },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s did not panic", name)
				}
			}()
			var p mqtt.Properties
			f(&p)
		}()
	}
}

// TestPropertiesEncodedOnce: every single-valued property set is encoded
// once and decodes back; presence survives a zero value.
func TestPropertiesZeroValueRoundTrip(t *testing.T) {
	p := &mqtt.Connack{}
	p.Properties.SetUint32(mqtt.PropSessionExpiryInterval, 0)
	p.Properties.SetString(mqtt.PropReasonString, "")
	p.Properties.SetByte(mqtt.PropRetainAvailable, 0)
	b := mustEncode(t, p, mqtt.V5)
	first, body := splitFrame(t, b)
	got, err := mqtt.Decode(first, body, mqtt.V5)
	if err != nil {
		t.Fatal(err)
	}
	checkPacket(t, "zero-valued properties", got, p)
}
