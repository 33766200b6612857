package mqtt

import (
	"encoding/binary"
	"unicode/utf8"
)

// MaxRemainingLength is the largest Remaining Length four bytes can hold.
const MaxRemainingLength = 268_435_455

// MaxPacketSize is the largest possible packet: the fixed header's five
// bytes plus MaxRemainingLength.
const MaxPacketSize = MaxRemainingLength + 5

func appendVarInt(dst []byte, v uint32) []byte {
	for {
		b := byte(v & 0x7F)
		v >>= 7
		if v == 0 {
			return append(dst, b)
		}
		dst = append(dst, b|0x80)
	}
}

// readVarInt reads a Variable Byte Integer of at most four bytes
// [MQTT-1.5.5-1].
func readVarInt(b []byte) (uint32, []byte, error) {
	var v uint32
	for i := 0; i < 4; i++ {
		if i >= len(b) {
			return 0, nil, malformed("MQTT-1.5.5", "variable byte integer truncated")
		}
		v |= uint32(b[i]&0x7F) << (7 * i)
		if b[i]&0x80 == 0 {
			return v, b[i+1:], nil
		}
	}
	return 0, nil, malformed("MQTT-1.5.5-1", "variable byte integer longer than 4 bytes")
}

func appendString(dst []byte, s string) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(s)))
	return append(dst, s...)
}

func appendBinary(dst []byte, b []byte) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(b)))
	return append(dst, b...)
}

func readUint16(b []byte) (uint16, []byte, error) {
	if len(b) < 2 {
		return 0, nil, malformed("", "two byte integer truncated")
	}
	return binary.BigEndian.Uint16(b), b[2:], nil
}

// readBinary reads Binary Data and returns a copy of it.
func readBinary(b []byte) ([]byte, []byte, error) {
	n, b, err := readUint16(b)
	if err != nil {
		return nil, nil, err
	}
	if len(b) < int(n) {
		return nil, nil, malformed("MQTT-1.5.6", "binary data of %d bytes truncated", n)
	}
	return append([]byte{}, b[:n]...), b[n:], nil
}

// readString reads a UTF-8 Encoded String and checks it [MQTT-1.5.4-1,
// MQTT-1.5.4-2].
func readString(b []byte) (string, []byte, error) {
	n, b, err := readUint16(b)
	if err != nil {
		return "", nil, err
	}
	if len(b) < int(n) {
		return "", nil, malformed("MQTT-1.5.4", "string of %d bytes truncated", n)
	}
	s := b[:n]
	if err := checkUTF8(s); err != nil {
		return "", nil, err
	}
	return string(s), b[n:], nil
}

// checkUTF8 enforces the UTF-8 rules of section 1.5.4: well formed, no
// surrogates (which Go's decoder already refuses) [MQTT-1.5.4-1], and no
// U+0000 [MQTT-1.5.4-2]. A BOM is kept as it is [MQTT-1.5.4-3].
func checkUTF8(s []byte) error {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c == 0 {
				return malformed("MQTT-1.5.4-2", "string contains U+0000")
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			return malformed("MQTT-1.5.4-1", "string is not well-formed UTF-8")
		}
		i += size
	}
	return nil
}

// ValidUTF8 reports whether s satisfies the UTF-8 rules of section 1.5.4.
func ValidUTF8(s string) error {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return malformed("MQTT-1.5.4-1", "string is not well-formed UTF-8")
			}
		}
		if r == 0 {
			return malformed("MQTT-1.5.4-2", "string contains U+0000")
		}
	}
	return nil
}
