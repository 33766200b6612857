package gateway

import (
	"fmt"
	"testing"

	"edgemq/mqtt"

	"github.com/eclipse/paho.golang/paho"
)

// TestTopicAliasPolicy checks the outbound alias policy: an alias from the
// second send of a topic, topic left out once the alias is known, least
// recently used alias reassigned when all are taken.
func TestTopicAliasPolicy(t *testing.T) {
	type sent struct {
		topic string // the topic sent on the wire; "" when left out
		alias uint16 // 0: none
	}
	tests := []struct {
		name   string
		max    uint16
		topics []string
		want   []sent
	}{
		{"second send gets an alias", 4,
			[]string{"a/b/c", "a/b/c", "a/b/c"},
			[]sent{{"a/b/c", 0}, {"a/b/c", 1}, {"", 1}}},
		{"topics sent once take no alias", 1,
			[]string{"one/1", "two/2", "three/3", "one/1"},
			[]sent{{"one/1", 0}, {"two/2", 0}, {"three/3", 0}, {"one/1", 1}}},
		{"least recently used is reassigned", 2,
			[]string{"aaaa", "aaaa", "bbbb", "bbbb", "aaaa", "cccc", "cccc", "bbbb", "aaaa"},
			[]sent{{"aaaa", 0}, {"aaaa", 1}, {"bbbb", 0}, {"bbbb", 2}, {"", 1}, {"cccc", 0}, {"cccc", 2}, {"bbbb", 0}, {"", 1}}},
		{"short topics keep no alias", 4,
			[]string{"a/b", "a/b", "a/b"},
			[]sent{{"a/b", 0}, {"a/b", 0}, {"a/b", 0}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newTopicAliases(tt.max)
			for i, topic := range tt.topics {
				p := &mqtt.Publish{Topic: topic}
				a.apply(p)
				got := sent{p.Topic, p.Properties.TopicAlias}
				if !p.Properties.Has(mqtt.PropTopicAlias) {
					got.alias = 0
				}
				if got != tt.want[i] {
					t.Errorf("send %d of %q: got %+v, want %+v", i, topic, got, tt.want[i])
				}
				if got.alias > tt.max {
					t.Errorf("alias %d above the client's maximum %d [MQTT-3.3.2-9]", got.alias, tt.max)
				}
			}
		})
	}
	if newTopicAliases(0) != nil {
		t.Error("aliases assigned to a client that allows none")
	}
}

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
