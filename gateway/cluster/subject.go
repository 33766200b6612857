package cluster

import (
	"errors"
	"fmt"
	"strings"
)

// The subject namespaces. Every MQTT topic maps to exactly one subject
// below one of them, and back.
//
//   - LivePrefix + "t." + levels: a topic that does not start with '$'.
//   - LivePrefix + "d." + levels: a topic that starts with '$'. A filter
//     whose first level is a wildcard maps into the "t" namespace only,
//     so it never matches a '$' topic [MQTT-4.7.2-1].
//   - DurablePrefix + the live subject's tail: a QoS 1/2 publish, stored
//     by the messages stream, which republishes it to the live subject.
//   - RetainedPrefix + the live subject's tail: the retained stream.
//
// The three differ in their first token, so that no subject of one is
// matched by a wildcard of another (the messages stream's republish
// would otherwise feed itself).
const (
	// LivePrefix starts every subject live messages travel on.
	LivePrefix = "emq."
	// DurablePrefix starts the subjects of QoS 1 and 2 publishes, which
	// the messages stream captures.
	DurablePrefix = "emq_q."
	// RetainedPrefix starts the subjects of the retained stream.
	RetainedPrefix = "emq_r."

	nsPlain  = "t"
	nsDollar = "d"
)

// escapeChar starts an escape in a subject token: "%XX" is the byte with
// hexadecimal value XX, and a token that is "%" alone is an empty level.
const escapeChar = '%'

// emptyLevel is the token of an empty topic level (NATS forbids empty
// tokens; "%" alone is never the result of escaping a byte).
const emptyLevel = "%"

// ErrNotTopicSubject is returned by SubjectTopic for a subject that no
// topic maps to.
var ErrNotTopicSubject = errors.New("not a topic subject")

// needsEscape reports whether byte b cannot appear as it is in a subject
// token: the token separator, the wildcards, white space and the other
// controls (NATS's protocol separates fields with them), DEL, and the
// escape character itself. Bytes of non-ASCII UTF-8 pass unchanged.
func needsEscape(b byte) bool {
	return b <= ' ' || b == 0x7f || b == '.' || b == '*' || b == '>' || b == escapeChar
}

const hexDigits = "0123456789ABCDEF"

// appendLevel appends the token of one topic level.
func appendLevel(b []byte, level string) []byte {
	if level == "" {
		return append(b, emptyLevel...)
	}
	for i := 0; i < len(level); i++ {
		c := level[i]
		if needsEscape(c) {
			b = append(b, escapeChar, hexDigits[c>>4], hexDigits[c&0xf])
			continue
		}
		b = append(b, c)
	}
	return b
}

// namespace returns the namespace token of a topic (or of a filter whose
// first level is literal).
func namespace(topic string) string {
	if strings.HasPrefix(topic, "$") {
		return nsDollar
	}
	return nsPlain
}

// TopicTail returns the part of a topic's subject after the prefix: the
// namespace token, then one token per level. Each level is escaped (see
// needsEscape) and an empty level is "%". It is defined for every topic
// name MQTT allows and is the exact inverse of TailTopic.
func TopicTail(topic string) string {
	b := make([]byte, 0, len(topic)+8)
	b = append(b, namespace(topic)...)
	for {
		b = append(b, '.')
		i := strings.IndexByte(topic, '/')
		if i < 0 {
			b = appendLevel(b, topic)
			return string(b)
		}
		b = appendLevel(b, topic[:i])
		topic = topic[i+1:]
	}
}

// TopicSubject returns the live subject of a topic.
func TopicSubject(topic string) string { return LivePrefix + TopicTail(topic) }

// DurableSubject returns the subject a QoS 1 or 2 publish of topic is
// stored under.
func DurableSubject(topic string) string { return DurablePrefix + TopicTail(topic) }

// RetainedSubject returns the retained stream's subject of topic.
func RetainedSubject(topic string) string { return RetainedPrefix + TopicTail(topic) }

// SubjectTopic is the inverse of TopicSubject: it returns the topic of a
// live subject, or an error wrapping ErrNotTopicSubject for a subject no
// topic maps to.
func SubjectTopic(subject string) (string, error) {
	tail, ok := strings.CutPrefix(subject, LivePrefix)
	if !ok {
		return "", fmt.Errorf("%w: %q lacks the prefix %q", ErrNotTopicSubject, subject, LivePrefix)
	}
	return TailTopic(tail)
}

// TailTopic is the inverse of TopicTail.
func TailTopic(tail string) (string, error) {
	ns, rest, ok := strings.Cut(tail, ".")
	if !ok || (ns != nsPlain && ns != nsDollar) {
		return "", fmt.Errorf("%w: %q has no namespace", ErrNotTopicSubject, tail)
	}
	b := make([]byte, 0, len(rest))
	for i := 0; ; i++ {
		tok, more, found := strings.Cut(rest, ".")
		if i > 0 {
			b = append(b, '/')
		}
		var err error
		if b, err = appendUnescaped(b, tok); err != nil {
			return "", fmt.Errorf("%w: %q: %w", ErrNotTopicSubject, tail, err)
		}
		if !found {
			break
		}
		rest = more
	}
	if (ns == nsDollar) != (len(b) > 0 && b[0] == '$') {
		return "", fmt.Errorf("%w: %q is in the wrong namespace", ErrNotTopicSubject, tail)
	}
	return string(b), nil
}

// appendUnescaped appends the level of one token.
func appendUnescaped(b []byte, tok string) ([]byte, error) {
	switch tok {
	case emptyLevel:
		return b, nil
	case "":
		return nil, errors.New("empty token")
	}
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if c != escapeChar {
			if needsEscape(c) || c == '/' {
				// A level never holds '/', the level separator.
				return nil, fmt.Errorf("unescaped byte %#x", c)
			}
			b = append(b, c)
			continue
		}
		if i+2 >= len(tok) {
			return nil, errors.New("truncated escape")
		}
		v, ok := unhex(tok[i+1], tok[i+2])
		if !ok || !needsEscape(v) {
			// Only bytes that need it are escaped, so that each
			// topic has exactly one subject.
			return nil, fmt.Errorf("bad escape %q", tok[i:i+3])
		}
		b = append(b, v)
		i += 2
	}
	return b, nil
}

func unhex(hi, lo byte) (byte, bool) {
	h, ok1 := hexVal(hi)
	l, ok2 := hexVal(lo)
	return h<<4 | l, ok1 && ok2
}

// hexVal accepts only the upper-case digits appendLevel writes.
func hexVal(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// FilterTails returns the subject tails (after a prefix) that together
// match exactly the topics a valid MQTT topic filter matches: '+' becomes
// '*', a trailing '#' becomes '>' and, because "a/#" also matches "a"
// [MQTT-4.7.1-2], the parent's subject too. A filter starting with a
// wildcard maps into the namespace of topics that do not start with '$'
// [MQTT-4.7.2-1]. A shared subscription's filter is passed without its
// "$share/group/" prefix. The result has one or two tails.
func FilterTails(filter string) []string {
	if filter == "#" {
		// Every topic not starting with '$': at least one level.
		return []string{nsPlain + ".>"}
	}
	b := make([]byte, 0, len(filter)+8)
	b = append(b, namespace(filter)...)
	for {
		i := strings.IndexByte(filter, '/')
		level, rest := filter, ""
		if i >= 0 {
			level, rest = filter[:i], filter[i+1:]
		}
		switch {
		case level == "#":
			// Only as the last level of a valid filter: b is the parent.
			parent := string(b)
			return []string{parent + ".>", parent}
		case level == "+":
			b = append(b, ".*"...)
		default:
			b = append(b, '.')
			b = appendLevel(b, level)
		}
		if i < 0 {
			return []string{string(b)}
		}
		filter = rest
	}
}

// FilterSubjects returns the live subjects to subscribe to for a filter
// (see FilterTails).
func FilterSubjects(filter string) []string {
	tails := FilterTails(filter)
	for i, t := range tails {
		tails[i] = LivePrefix + t
	}
	return tails
}
