package mqtt_test

import (
	"strings"
	"testing"

	"edgemq/mqtt"
)

func TestValidTopicName(t *testing.T) {
	for _, c := range []struct {
		name string
		rule string // "" when valid
	}{
		{"a", ""},
		{"a/b/c", ""},
		{"/", ""},                 // two empty levels
		{"/finance", ""},          // a leading empty level (4.7.1.1)
		{"a//b", ""},              // empty level in the middle
		{"$SYS/broker", ""},       // '$' is an ordinary character to the syntax
		{"sport tennis", ""},      // spaces are allowed (4.7.3)
		{"é/ü/\uFEFF", ""},        // any valid UTF-8 [MQTT-1.5.4-3]
		{"ACCOUNTS/accounts", ""}, // case sensitive, both fine
		{strings.Repeat("x", 65535), ""},
		{"", "MQTT-4.7.3-1"},
		{strings.Repeat("x", 65536), "MQTT-4.7.3-3"},
		{"a/+", "MQTT-4.7.0-1"},
		{"#", "MQTT-4.7.0-1"},
		{"a/b#", "MQTT-4.7.0-1"},
		{"a\x00b", "MQTT-4.7.3-2"},
		{"a\xffb", "MQTT-4.7.3-2"},
		{"\xed\xa0\x80", "MQTT-4.7.3-2"}, // surrogate
	} {
		err := mqtt.ValidTopicName(c.name)
		if c.rule == "" {
			if err != nil {
				t.Errorf("ValidTopicName(%.20q): %v", c.name, err)
			}
			continue
		}
		checkCode(t, "ValidTopicName("+c.name[:min(len(c.name), 20)]+")", err, mqtt.TopicNameInvalid, c.rule)
	}
}

func TestValidTopicFilter(t *testing.T) {
	for _, c := range []struct {
		filter string
		rule   string
	}{
		{"#", ""},
		{"+", ""},
		{"a/#", ""},
		{"a/+/b", ""},
		{"+/+", ""},
		{"/+", ""},
		{"+/tennis/#", ""},
		{"a//#", ""},
		{"$SYS/#", ""},
		{"$share/g/a", ""}, // the share prefix is just levels to this check
		{"", "MQTT-4.7.3-1"},
		{"a#", "MQTT-4.7.1-2"},
		{"a/#/b", "MQTT-4.7.1-2"},
		{"#/", "MQTT-4.7.1-2"},
		{"##", "MQTT-4.7.1-2"},
		{"a+", "MQTT-4.7.1-3"},
		{"+a", "MQTT-4.7.1-3"},
		{"a/+b/c", "MQTT-4.7.1-3"},
		{"++", "MQTT-4.7.1-3"},
		{"a/\x00", "MQTT-4.7.3-2"},
		{strings.Repeat("x", 65536), "MQTT-4.7.3-3"},
	} {
		err := mqtt.ValidTopicFilter(c.filter)
		if c.rule == "" {
			if err != nil {
				t.Errorf("ValidTopicFilter(%q): %v", c.filter, err)
			}
			continue
		}
		checkCode(t, "ValidTopicFilter("+c.filter[:min(len(c.filter), 20)]+")", err, mqtt.TopicFilterInvalid, c.rule)
	}
}

// TestMatch follows the examples of 4.7.1 and 4.7.2.
func TestMatch(t *testing.T) {
	for _, c := range []struct {
		filter, topic string
		want          bool
	}{
		// 4.7.1.2 multi-level wildcard.
		{"sport/tennis/player1/#", "sport/tennis/player1", true}, // '#' includes the parent
		{"sport/tennis/player1/#", "sport/tennis/player1/ranking", true},
		{"sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true},
		{"sport/#", "sport", true},
		{"a/#", "a", true},
		{"a/#", "a/", true},
		{"a/#", "ab", false},
		{"a/b/#", "a", false},
		{"#", "a/b/c", true},
		{"#", "/", true},
		// 4.7.1.3 single-level wildcard.
		{"sport/tennis/+", "sport/tennis/player1", true},
		{"sport/tennis/+", "sport/tennis/player1/ranking", false},
		{"sport/+", "sport", false},
		{"sport/+", "sport/", true}, // '+' matches an empty level
		{"+", "a", true},
		{"+", "a/b", false},
		{"+/+", "/finance", true},
		{"/+", "/finance", true},
		{"+", "/finance", false},
		{"a/+/c", "a//c", true},
		{"+/+/+", "a/b", false},
		{"+/#", "a", true},
		// [MQTT-4.7.2-1]: no leading wildcard matches a '$' topic.
		{"#", "$SYS", false},
		{"#", "$SYS/monitor/Clients", false},
		{"+/monitor/Clients", "$SYS/monitor/Clients", false},
		{"$SYS/#", "$SYS/monitor/Clients", true},
		{"$SYS/monitor/+", "$SYS/monitor/Clients", true},
		{"$SYS/#", "$SYS", true},
		{"a/$x", "a/$x", true},
		{"a/+", "a/$x", true}, // only the first character of the topic counts
		// Exact and case sensitive (4.7.3) [MQTT-4.7.3-4].
		{"a/b", "a/b", true},
		{"ACCOUNTS", "Accounts", false},
		{"a/b", "a/b/", false},
		{"a/b/", "a/b", false},
		{"/", "/", true},
		{"é", "é", true},
	} {
		if got := mqtt.Match(c.filter, c.topic); got != c.want {
			t.Errorf("Match(%q, %q) = %v, want %v", c.filter, c.topic, got, c.want)
		}
		if got := refMatch(c.filter, c.topic); got != c.want {
			t.Errorf("refMatch(%q, %q) = %v, want %v (the fuzz oracle is wrong)", c.filter, c.topic, got, c.want)
		}
	}
}

func TestHasWildcard(t *testing.T) {
	for s, want := range map[string]bool{"a/b": false, "a/+": true, "#": true, "$share/g/a": false, "": false} {
		if got := mqtt.HasWildcard(s); got != want {
			t.Errorf("HasWildcard(%q) = %v", s, got)
		}
	}
}

// TestParseShared covers 4.8.2: "$share/{ShareName}/{filter}".
func TestParseShared(t *testing.T) {
	for _, c := range []struct {
		in            string
		group, filter string
		ok            bool
		rule          string
	}{
		{"a/b", "", "", false, ""},
		{"$share", "", "", false, ""},
		{"$SHARE/g/a", "", "", false, ""}, // case sensitive
		{"$sharex/g/a", "", "", false, ""},
		{"$share/g/a/b", "g", "a/b", true, ""},
		{"$share/consumer1/sport/tennis/+", "consumer1", "sport/tennis/+", true, ""},
		{"$share/g/#", "g", "#", true, ""},
		{"$share/g//", "g", "/", true, ""},
		{"$share/g/$SYS/#", "g", "$SYS/#", true, ""},
		{"$share/", "", "", true, "MQTT-4.8.2-2"},
		{"$share/g", "", "", true, "MQTT-4.8.2-2"},
		{"$share//a", "", "", true, "MQTT-4.8.2-1"},
		{"$share/+/a", "", "", true, "MQTT-4.8.2-1"},
		{"$share/g#/a", "", "", true, "MQTT-4.8.2-1"},
		{"$share/g/", "", "", true, "MQTT-4.7.3-1"},
		{"$share/g/a#", "", "", true, "MQTT-4.7.1-2"},
	} {
		group, filter, ok, err := mqtt.ParseShared(c.in)
		if ok != c.ok {
			t.Errorf("ParseShared(%q) ok = %v", c.in, ok)
		}
		if c.rule != "" {
			checkCode(t, "ParseShared("+c.in+")", err, mqtt.TopicFilterInvalid, c.rule)
			continue
		}
		if err != nil || group != c.group || filter != c.filter {
			t.Errorf("ParseShared(%q) = %q, %q, %v; want %q, %q", c.in, group, filter, err, c.group, c.filter)
		}
	}
}
