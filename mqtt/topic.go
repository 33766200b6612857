package mqtt

import "strings"

// ValidTopicName checks a topic name of PUBLISH or a will: at least one
// character [MQTT-4.7.3-1], no wildcard [MQTT-4.7.0-1, MQTT-3.3.2-2], at
// most 65535 bytes [MQTT-4.7.3-3], and the UTF-8 rules [MQTT-4.7.3-2].
func ValidTopicName(s string) error {
	if s == "" {
		return Errorf(TopicNameInvalid, "MQTT-4.7.3-1", "empty topic name")
	}
	if len(s) > 65535 {
		return Errorf(TopicNameInvalid, "MQTT-4.7.3-3", "topic name of %d bytes", len(s))
	}
	if strings.ContainsAny(s, "+#") {
		return Errorf(TopicNameInvalid, "MQTT-4.7.0-1", "wildcard in topic name %q", s)
	}
	if err := ValidUTF8(s); err != nil {
		return Errorf(TopicNameInvalid, "MQTT-4.7.3-2", "%v", err)
	}
	return nil
}

// ValidTopicFilter checks a topic filter: at least one character
// [MQTT-4.7.3-1], '#' only as the whole last level [MQTT-4.7.1-2], '+'
// only as a whole level [MQTT-4.7.1-3], and the UTF-8 rules. A shared
// subscription filter is checked with ParseShared first.
func ValidTopicFilter(s string) error {
	if s == "" {
		return Errorf(TopicFilterInvalid, "MQTT-4.7.3-1", "empty topic filter")
	}
	if len(s) > 65535 {
		return Errorf(TopicFilterInvalid, "MQTT-4.7.3-3", "topic filter of %d bytes", len(s))
	}
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '#':
			if i != len(s)-1 || (i > 0 && s[i-1] != '/') {
				return Errorf(TopicFilterInvalid, "MQTT-4.7.1-2", "'#' not alone as the last level of %q", s)
			}
		case '+':
			if (i > 0 && s[i-1] != '/') || (i < len(s)-1 && s[i+1] != '/') {
				return Errorf(TopicFilterInvalid, "MQTT-4.7.1-3", "'+' not alone in a level of %q", s)
			}
		}
	}
	if err := ValidUTF8(s); err != nil {
		return Errorf(TopicFilterInvalid, "MQTT-4.7.3-2", "%v", err)
	}
	return nil
}

// HasWildcard reports whether a filter contains '+' or '#'.
func HasWildcard(filter string) bool { return strings.ContainsAny(filter, "+#") }

// SharePrefix starts a shared subscription filter.
const SharePrefix = "$share/"

// ParseShared splits "$share/{ShareName}/{filter}". ok is false for a
// filter that is not shared. The share name must be at least one character
// with no '/', '+' or '#' [MQTT-4.8.2-1, MQTT-4.8.2-2], and the filter must
// be valid.
func ParseShared(s string) (group, filter string, ok bool, err error) {
	if !strings.HasPrefix(s, SharePrefix) {
		return "", "", false, nil
	}
	rest := s[len(SharePrefix):]
	i := strings.IndexByte(rest, '/')
	if i < 0 {
		return "", "", true, Errorf(TopicFilterInvalid, "MQTT-4.8.2-2", "shared subscription %q has no topic filter", s)
	}
	group, filter = rest[:i], rest[i+1:]
	if group == "" || strings.ContainsAny(group, "+#") {
		return "", "", true, Errorf(TopicFilterInvalid, "MQTT-4.8.2-1", "invalid share name %q", group)
	}
	if err := ValidTopicFilter(filter); err != nil {
		return "", "", true, err
	}
	return group, filter, true, nil
}

// Match reports whether topic name matches filter. A filter starting with
// a wildcard does not match a topic starting with '$' [MQTT-4.7.2-1].
// Both are taken as valid.
func Match(filter, topic string) bool {
	if topic != "" && topic[0] == '$' && filter != "" && (filter[0] == '+' || filter[0] == '#') {
		return false
	}
	for {
		if filter == "#" {
			return true
		}
		fl, frest, fmore := cut(filter)
		tl, trest, tmore := cut(topic)
		if fl != "+" && fl != tl {
			return false
		}
		if !fmore || !tmore {
			// "a/#" also matches "a" [4.7.1.2].
			return fmore == tmore || (!tmore && frest == "#")
		}
		filter, topic = frest, trest
	}
}

func cut(s string) (level, rest string, more bool) {
	if i := strings.IndexByte(s, '/'); i >= 0 {
		return s[:i], s[i+1:], true
	}
	return s, "", false
}
