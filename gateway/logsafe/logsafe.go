// Package logsafe makes client-supplied strings safe to log: client ids,
// user names, topics, filters, HTTP header values. zap's encoders escape
// the C0 controls, quotes and backslashes of a JSON string, but write
// DEL, the C1 controls (U+0080 to U+009F, among them NEL, which some
// log readers take for a line break), the line and paragraph separators
// U+2028 and U+2029 (line breaks to JavaScript and many viewers) and the
// bidirectional overrides (which reorder what a reader sees) as they are.
// A client could then forge a line, or hide one, in a log viewer. Escape
// writes each of them, and each C0 control, as \uXXXX, so that the
// logged value is one line of visible text.
//
// The escaped form is for reading: a backslash is not itself escaped,
// so a client that sends the six characters \u2028 logs the same text as
// one that sends U+2028. Invalid UTF-8 is left to the encoder, which
// replaces it with U+FFFD.
package logsafe

import (
	"strings"

	"go.uber.org/zap"
)

// String is zap.String with the value escaped (Escape).
func String(key, val string) zap.Field {
	return zap.String(key, Escape(val))
}

// Strings is zap.Strings with each value escaped (Escape).
func Strings(key string, vals []string) zap.Field {
	var out []string // a copy, made at the first value that changes
	for i, v := range vals {
		if e := Escape(v); e != v {
			if out == nil {
				out = append([]string(nil), vals...)
			}
			out[i] = e
		}
	}
	if out == nil {
		return zap.Strings(key, vals)
	}
	return zap.Strings(key, out)
}

// Error is zap.Error with the message escaped (Escape): errors about a
// client's input often quote it, and not every error quotes with %q. A
// nil err is a no-op field, as with zap.Error.
func Error(err error) zap.Field {
	if err == nil {
		return zap.Skip()
	}
	return zap.String("error", Escape(err.Error()))
}

// Escape returns s with every rune that can break or disguise a log line
// written as \uXXXX (see the package comment); s itself, without
// copying, when it has none.
func Escape(s string) string {
	if !maybeUnsafe(s) {
		return s
	}
	i := strings.IndexFunc(s, unsafeRune)
	if i < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 12)
	b.WriteString(s[:i])
	for _, r := range s[i:] {
		if !unsafeRune(r) {
			b.WriteRune(r)
			continue
		}
		const hex = "0123456789abcdef"
		b.WriteString(`\u`)
		b.WriteByte(hex[r>>12&0xF])
		b.WriteByte(hex[r>>8&0xF])
		b.WriteByte(hex[r>>4&0xF])
		b.WriteByte(hex[r&0xF])
	}
	return b.String()
}

// maybeUnsafe reports whether s has a byte that starts an unsafe rune's
// UTF-8 encoding: a C0 control or DEL, 0xC2 (C1 controls), 0xD8 (U+061C)
// or 0xE2 (U+200E to U+2069). A byte scan: most strings have none.
func maybeUnsafe(s string) bool {
	for i := 0; i < len(s); i++ {
		switch b := s[i]; {
		case b < 0x20, b == 0x7F, b == 0xC2, b == 0xD8, b == 0xE2:
			return true
		}
	}
	return false
}

// unsafeRune reports whether r is a control character (C0, DEL, C1), a
// line or paragraph separator, or a bidirectional control.
func unsafeRune(r rune) bool {
	switch {
	case r < 0x20, r >= 0x7F && r <= 0x9F:
		return true
	case r == 0x2028, r == 0x2029:
		return true
	case r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069, r == 0x200E, r == 0x200F, r == 0x061C:
		return true
	}
	return false
}
