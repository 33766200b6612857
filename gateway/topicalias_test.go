package gateway

import (
	"fmt"
	"testing"

	"edgemq/mqtt"

	"github.com/eclipse/paho.golang/paho"
)

// TestOutboundTopicAliases checks, on the wire of a real client, that the
// server assigns aliases within the client's Topic Alias Maximum and that
// resolving them gives back every topic in order.
func TestOutboundTopicAliases(t *testing.T) {
	cfg := testConfig(t)
	cfg.MQTT.MaxOutboundTopicAliases = 8
	ts := startServer(t, cfg)
	cp := v5Connect("alias-sub")
	cp.Properties = &paho.ConnectProperties{TopicAliasMaximum: refOf(uint16(2))}
	sub := connectV5(t, ts, cp)
	sub.subscribe(t, "alias/#", 1)
	pub := connectV5(t, ts, v5Connect("alias-pub"))
	var topics []string
	for i := range 12 {
		topic := fmt.Sprintf("alias/topic/%d", i%3)
		topics = append(topics, topic)
		pub.publish(t, &paho.Publish{Topic: topic, QoS: 1, Payload: []byte(topic)})
	}
	for range topics {
		sub.expectMessage(t)
	}
	known := map[uint16]string{}
	var got []string
	aliased := 0
	for _, p := range tapped[*mqtt.Publish](t, sub.tap) {
		topic := p.Topic
		if p.Properties.Has(mqtt.PropTopicAlias) {
			a := p.Properties.TopicAlias
			if a == 0 || a > 2 {
				t.Fatalf("alias %d outside 1..2 [MQTT-3.3.2-9]", a)
			}
			if topic == "" {
				aliased++
				topic = known[a]
			} else {
				known[a] = topic
			}
		}
		if topic != string(p.Payload) {
			t.Errorf("resolved topic %q, payload says %q", topic, p.Payload)
		}
		got = append(got, topic)
	}
	if fmt.Sprint(got) != fmt.Sprint(topics) {
		t.Errorf("resolved topics %v, want %v", got, topics)
	}
	if aliased == 0 {
		t.Error("no PUBLISH used an alias alone")
	}

	// A client that allows no alias never gets one.
	plain := connectV5(t, ts, v5Connect("alias-none"))
	plain.subscribe(t, "alias/#", 0)
	for range 3 {
		pub.publish(t, &paho.Publish{Topic: "alias/topic/x", QoS: 1, Payload: []byte("x")})
		plain.expectMessage(t)
	}
	for _, p := range tapped[*mqtt.Publish](t, plain.tap) {
		if p.Properties.Has(mqtt.PropTopicAlias) || p.Topic == "" {
			t.Errorf("alias sent to a client with Topic Alias Maximum 0: %+v", p)
		}
	}
}
