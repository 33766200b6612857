package proto

import "edgemq/mqtt"

// TopicAliases assigns outbound Topic Aliases to one v5 client that
// allows them (3.3.2.3.4). Policy: a topic gets an alias the second time it
// is sent, so that topics sent once do not push out useful aliases; when
// every alias is taken, the least recently used one is reassigned. The
// first PUBLISH with a new alias carries the topic too; later ones carry
// only the alias. Aliases live as long as the connection [MQTT-3.3.2-7].
// It is used by the connection's writer only.
type TopicAliases struct {
	max     uint16
	byTopic map[string]*aliasSlot
	slots   []*aliasSlot // by alias-1
	// seen holds topics sent once without an alias; it is bounded and
	// cleared when full.
	seen  map[string]struct{}
	clock uint64
}

type aliasSlot struct {
	topic string
	alias uint16
	used  uint64
}

// minAliasedTopic is the shortest topic worth an alias: the property
// itself takes three bytes.
const minAliasedTopic = 4

// NewTopicAliases returns the aliases of a client that allows max of
// them; nil (no aliases) when max is 0.
func NewTopicAliases(max uint16) *TopicAliases {
	if max == 0 {
		return nil
	}
	return &TopicAliases{max: max}
}

// Apply sets p's Topic Alias, and clears its topic when the client
// already knows the alias.
func (a *TopicAliases) Apply(p *mqtt.Publish) {
	if len(p.Topic) < minAliasedTopic {
		return
	}
	a.clock++
	if s, ok := a.byTopic[p.Topic]; ok {
		s.used = a.clock
		p.Properties.SetUint16(mqtt.PropTopicAlias, s.alias)
		p.Topic = ""
		return
	}
	if _, again := a.seen[p.Topic]; !again {
		if a.seen == nil {
			a.seen = make(map[string]struct{})
		}
		if len(a.seen) >= 4*int(a.max) {
			clear(a.seen)
		}
		a.seen[p.Topic] = struct{}{}
		return
	}
	delete(a.seen, p.Topic)
	var s *aliasSlot
	if len(a.slots) < int(a.max) {
		s = &aliasSlot{alias: uint16(len(a.slots) + 1)}
		a.slots = append(a.slots, s)
		if a.byTopic == nil {
			a.byTopic = make(map[string]*aliasSlot)
		}
	} else {
		s = a.slots[0]
		for _, c := range a.slots[1:] {
			if c.used < s.used {
				s = c
			}
		}
		delete(a.byTopic, s.topic)
	}
	s.topic, s.used = p.Topic, a.clock
	a.byTopic[p.Topic] = s
	// The topic goes with the new alias, which sets the mapping
	// [MQTT-3.3.2-12 for the receiver].
	p.Properties.SetUint16(mqtt.PropTopicAlias, s.alias)
}
