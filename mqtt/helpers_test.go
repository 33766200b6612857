package mqtt_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"edgemq/mqtt"
)

// versions are the protocol levels the codec speaks.
var versions = []mqtt.Version{mqtt.V31, mqtt.V311, mqtt.V5}

// equalPackets compares two packets field by field. A nil slice equals an
// empty one: the codec may decode an empty binary field as []byte{} where
// a hand-built packet says nil, and neither is wrong.
func equalPackets(a, b mqtt.Packet) bool {
	return equalValues(reflect.ValueOf(a), reflect.ValueOf(b))
}

func equalValues(a, b reflect.Value) bool {
	if a.IsValid() != b.IsValid() {
		return false
	}
	if !a.IsValid() {
		return true
	}
	if a.Type() != b.Type() {
		return false
	}
	switch a.Kind() {
	case reflect.Pointer, reflect.Interface:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		return equalValues(a.Elem(), b.Elem())
	case reflect.Slice:
		if a.Len() != b.Len() {
			return false
		}
		for i := range a.Len() {
			if !equalValues(a.Index(i), b.Index(i)) {
				return false
			}
		}
		return true
	case reflect.Struct:
		for i := range a.NumField() {
			if !equalValues(a.Field(i), b.Field(i)) {
				return false
			}
		}
		return true
	}
	return a.Equal(b)
}

// dump renders a packet with its non-zero fields, following pointers, for
// failure messages.
func dump(p any) string {
	var sb strings.Builder
	dumpValue(&sb, reflect.ValueOf(p))
	return sb.String()
}

func dumpValue(sb *strings.Builder, v reflect.Value) {
	switch v.Kind() {
	case reflect.Invalid:
		sb.WriteString("<nil>")
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			sb.WriteString("nil")
			return
		}
		if v.Kind() == reflect.Pointer {
			sb.WriteString("&")
		}
		dumpValue(sb, v.Elem())
	case reflect.Struct:
		sb.WriteString(v.Type().Name() + "{")
		first := true
		for i := range v.NumField() {
			f := v.Field(i)
			if f.IsZero() {
				continue
			}
			if !first {
				sb.WriteString(" ")
			}
			first = false
			sb.WriteString(v.Type().Field(i).Name + ":")
			dumpValue(sb, f)
		}
		sb.WriteString("}")
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			fmt.Fprintf(sb, "% X", v.Bytes())
			return
		}
		sb.WriteString("[")
		for i := range v.Len() {
			if i > 0 {
				sb.WriteString(" ")
			}
			dumpValue(sb, v.Index(i))
		}
		sb.WriteString("]")
	case reflect.String:
		fmt.Fprintf(sb, "%q", v.String())
	case reflect.Uint64:
		fmt.Fprintf(sb, "%#x", v.Uint())
	default:
		fmt.Fprintf(sb, "%v", v)
	}
}

// splitFrame parses a whole packet's fixed header (2.1.1, Remaining
// Length as in 1.5.5) and returns the first byte and the body.
func splitFrame(tb testing.TB, b []byte) (byte, []byte) {
	tb.Helper()
	if len(b) < 2 {
		tb.Fatalf("frame of %d bytes", len(b))
	}
	var rl, mult uint32 = 0, 1
	i := 1
	for ; ; i++ {
		if i > 4 || i >= len(b) {
			tb.Fatalf("bad remaining length in % X", b)
		}
		rl += uint32(b[i]&0x7F) * mult
		mult <<= 7
		if b[i]&0x80 == 0 {
			break
		}
	}
	body := b[i+1:]
	if uint32(len(body)) != rl {
		tb.Fatalf("remaining length %d but %d bytes follow in % X", rl, len(body), b)
	}
	return b[0], body
}

// mustEncode encodes p for v or fails the test.
func mustEncode(tb testing.TB, p mqtt.Packet, v mqtt.Version) []byte {
	tb.Helper()
	b, err := mqtt.Append(nil, p, v)
	if err != nil {
		tb.Fatalf("encoding %s for %v: %v", dump(p), v, err)
	}
	return b
}

// checkPacket fails the test when got is not want.
func checkPacket(tb testing.TB, what string, got, want mqtt.Packet) {
	tb.Helper()
	if !equalPackets(got, want) {
		tb.Errorf("%s:\n got %s\nwant %s", what, dump(got), dump(want))
	}
}

// checkCode fails the test unless err carries code and, when rule is not
// empty, the normative statement rule.
func checkCode(tb testing.TB, what string, err error, code mqtt.ReasonCode, rule string) {
	tb.Helper()
	if err == nil {
		tb.Errorf("%s: no error, want %v", what, code)
		return
	}
	if got := mqtt.CodeOf(err); got != code {
		tb.Errorf("%s: code %v, want %v (error: %v)", what, got, code, err)
	}
	if !errorsIs(err, code) {
		tb.Errorf("%s: errors.Is(%v, %v) is false", what, err, code)
	}
	if e, ok := asError(err); ok && rule != "" && e.Rule != rule {
		tb.Errorf("%s: rule %q, want %q (error: %v)", what, e.Rule, rule, err)
	}
}
