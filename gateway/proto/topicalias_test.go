package proto

import (
	"testing"

	"edgemq/mqtt"
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
			a := NewTopicAliases(tt.max)
			for i, topic := range tt.topics {
				p := &mqtt.Publish{Topic: topic}
				a.Apply(p)
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
	if NewTopicAliases(0) != nil {
		t.Error("aliases assigned to a client that allows none")
	}
}
