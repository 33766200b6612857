package cluster

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"edgemq/mqtt"
)

// topicCases are topics MQTT allows that NATS subjects cannot carry as
// they are, with the tail each maps to.
var topicCases = []struct {
	topic, tail string
}{
	{"a", "t.a"},
	{"a/b/c", "t.a.b.c"},
	{"a//b", "t.a.%.b"},
	{"/a", "t.%.a"},
	{"a/", "t.a.%"},
	{"/", "t.%.%"},
	{"//", "t.%.%.%"},
	{"a.b", "t.a%2Eb"},
	{".", "t.%2E"},
	{"*", "t.%2A"},
	{">", "t.%3E"},
	{"a/*/>", "t.a.%2A.%3E"},
	{"x*y>z", "t.x%2Ay%3Ez"},
	{"a b", "t.a%20b"},
	{" ", "t.%20"},
	{"tab\there", "t.tab%09here"},
	{"line\r\nbreak", "t.line%0D%0Abreak"},
	{"del\x7f", "t.del%7F"},
	{"%", "t.%25"},
	{"%25", "t.%2525"},
	{"100%/done", "t.100%25.done"},
	{"température/salle", "t.température.salle"},
	{"日本/東京", "t.日本.東京"},
	{"emoji/😀", "t.emoji.😀"},
	{"$SYS/broker/uptime", "d.$SYS.broker.uptime"},
	{"$", "d.$"},
	{"$/", "d.$.%"},
	{"a/$b", "t.a.$b"},
	{"t", "t.t"},
	{"d", "t.d"},
	{"=/-/_", "t.=.-._"},
}

func TestTopicTail(t *testing.T) {
	for _, tc := range topicCases {
		if err := mqtt.ValidTopicName(tc.topic); err != nil {
			t.Fatalf("case %q is not a topic MQTT allows: %v", tc.topic, err)
		}
		got := TopicTail(tc.topic)
		if got != tc.tail {
			t.Errorf("TopicTail(%q) = %q, want %q", tc.topic, got, tc.tail)
		}
		checkSubjectTokens(t, LivePrefix+got)
		back, err := TailTopic(got)
		if err != nil || back != tc.topic {
			t.Errorf("TailTopic(%q) = %q, %v; want %q", got, back, err, tc.topic)
		}
		if back, err := SubjectTopic(TopicSubject(tc.topic)); err != nil || back != tc.topic {
			t.Errorf("SubjectTopic(TopicSubject(%q)) = %q, %v", tc.topic, back, err)
		}
	}
}

// checkSubjectTokens fails unless subject is a literal NATS subject: no
// empty token, no white space or control, no wildcard token.
func checkSubjectTokens(tb testing.TB, subject string) {
	tb.Helper()
	for _, tok := range strings.Split(subject, ".") {
		if tok == "" || tok == "*" || tok == ">" || strings.ContainsAny(tok, "*> \t\r\n\f\v") {
			tb.Errorf("subject %q has token %q NATS cannot carry literally", subject, tok)
		}
		for i := 0; i < len(tok); i++ {
			if tok[i] < ' ' || tok[i] == 0x7f {
				tb.Errorf("subject %q has control byte %#x", subject, tok[i])
			}
		}
	}
}

func TestTailTopicRefusesForeignSubjects(t *testing.T) {
	for _, tail := range []string{
		"", "t", "x.a", "t.", "t.a..b", "t.%2", "t.%2e", "t.%41", "t.%ZZ", "t.a b",
		"t.a*", "t.>", "d.a", "t.$a", "t.%%", "t.a/b", "t.%2F",
	} {
		if got, err := TailTopic(tail); !errors.Is(err, ErrNotTopicSubject) {
			t.Errorf("TailTopic(%q) = %q, %v; want ErrNotTopicSubject", tail, got, err)
		}
	}
	if _, err := SubjectTopic("other.t.a"); !errors.Is(err, ErrNotTopicSubject) {
		t.Errorf("SubjectTopic of a foreign prefix: %v", err)
	}
}

var filterCases = []struct {
	filter string
	tails  []string
}{
	{"a", []string{"t.a"}},
	{"a/b", []string{"t.a.b"}},
	{"#", []string{"t.>"}},
	{"+", []string{"t.*"}},
	{"a/#", []string{"t.a.>", "t.a"}},
	{"a/+", []string{"t.a.*"}},
	{"+/+", []string{"t.*.*"}},
	{"+/#", []string{"t.*.>", "t.*"}},
	{"a/+/c/#", []string{"t.a.*.c.>", "t.a.*.c"}},
	{"/#", []string{"t.%.>", "t.%"}},
	{"a//b", []string{"t.a.%.b"}},
	{"a.b/*/>", []string{"t.a%2Eb.%2A.%3E"}},
	{"$SYS/#", []string{"d.$SYS.>", "d.$SYS"}},
	{"$SYS/+/x", []string{"d.$SYS.*.x"}},
	{"$", []string{"d.$"}},
	{"a/$x", []string{"t.a.$x"}},
	{"sp ace/+", []string{"t.sp%20ace.*"}},
}

func TestFilterTails(t *testing.T) {
	for _, tc := range filterCases {
		if err := mqtt.ValidTopicFilter(tc.filter); err != nil {
			t.Fatalf("case %q is not a filter MQTT allows: %v", tc.filter, err)
		}
		if got := FilterTails(tc.filter); !slices.Equal(got, tc.tails) {
			t.Errorf("FilterTails(%q) = %q, want %q", tc.filter, got, tc.tails)
		}
		subs := FilterSubjects(tc.filter)
		for i, s := range subs {
			if s != LivePrefix+tc.tails[i] {
				t.Errorf("FilterSubjects(%q)[%d] = %q", tc.filter, i, s)
			}
		}
	}
}

// TestFilterMatchesAsMQTT checks, over every topic and filter of the
// tables, that a subject filter of FilterTails matches a topic's tail
// exactly when mqtt.Match says the filter matches the topic. The NATS
// matching here is a plain token match; subject_nats_test.go checks the
// same on a real server.
func TestFilterMatchesAsMQTT(t *testing.T) {
	for _, fc := range filterCases {
		for _, tc := range topicCases {
			want := mqtt.Match(fc.filter, tc.topic)
			got := slices.ContainsFunc(FilterTails(fc.filter), func(f string) bool {
				return tokenMatch(f, TopicTail(tc.topic))
			})
			if got != want {
				t.Errorf("filter %q topic %q: subjects match %v, mqtt.Match %v", fc.filter, tc.topic, got, want)
			}
		}
	}
}

// tokenMatch is NATS's subject matching: '*' is one token, '>' the rest
// (at least one token).
func tokenMatch(filter, subject string) bool {
	f, s := strings.Split(filter, "."), strings.Split(subject, ".")
	for i, ft := range f {
		if ft == ">" {
			return len(s) > i
		}
		if i >= len(s) || (ft != "*" && ft != s[i]) {
			return false
		}
	}
	return len(f) == len(s)
}

// FuzzTopicRoundTrip: for every topic MQTT allows, the subject is
// literal and maps back to exactly the topic.
func FuzzTopicRoundTrip(f *testing.F) {
	for _, tc := range topicCases {
		f.Add(tc.topic)
	}
	f.Fuzz(func(t *testing.T, topic string) {
		if !utf8.ValidString(topic) || mqtt.ValidTopicName(topic) != nil {
			t.Skip()
		}
		tail := TopicTail(topic)
		checkSubjectTokens(t, LivePrefix+tail)
		back, err := TailTopic(tail)
		if err != nil || back != topic {
			t.Fatalf("TailTopic(TopicTail(%q)) = %q, %v", topic, back, err)
		}
	})
}

// FuzzTailTopic: a subject tail that decodes maps back to itself, so
// each topic has exactly one subject.
func FuzzTailTopic(f *testing.F) {
	for _, tc := range topicCases {
		f.Add(tc.tail)
	}
	f.Fuzz(func(t *testing.T, tail string) {
		topic, err := TailTopic(tail)
		if err != nil {
			return
		}
		if again := TopicTail(topic); again != tail {
			t.Fatalf("TopicTail(TailTopic(%q)) = %q", tail, again)
		}
	})
}
