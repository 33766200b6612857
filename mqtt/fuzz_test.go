package mqtt_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"unicode/utf8"

	"edgemq/mqtt"
	"edgemq/mqtt/mqtttest"
)

// seeds returns every golden and malformed byte string.
func seeds() [][]byte {
	var s [][]byte
	for _, g := range mqtttest.Goldens() {
		s = append(s, g.Bytes)
	}
	for _, b := range mqtttest.Malformed() {
		s = append(s, b.Bytes)
	}
	return s
}

// header parses a fixed header leniently: the first byte, then up to four
// bytes of Remaining Length. ok is false when there is no valid header.
func header(b []byte) (first byte, rl uint32, n int, ok bool) {
	if len(b) < 2 {
		return 0, 0, 0, false
	}
	for i := 1; i <= 4 && i < len(b); i++ {
		rl |= uint32(b[i]&0x7F) << (7 * (i - 1))
		if b[i]&0x80 == 0 {
			return b[0], rl, i + 1, true
		}
	}
	return 0, 0, 0, false
}

// checkDecodeError applies what holds for every decoding failure: it
// carries a reason code, and only a CONNECT comes back with it.
func checkDecodeError(t testing.TB, p mqtt.Packet, err error) {
	t.Helper()
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return
	}
	var e *mqtt.Error
	if !errors.As(err, &e) {
		t.Fatalf("error without a reason code: %v", err)
	}
	if !e.Code.IsError() {
		t.Fatalf("error with code %v: %v", e.Code, err)
	}
	if p != nil {
		if _, ok := p.(*mqtt.Connect); !ok {
			t.Fatalf("%s returned alongside %v", dump(p), err)
		}
	}
}

// FuzzDecode: for every version, decoding never panics; whatever decodes
// encodes, the encoding decodes to an equal packet, and encoding that
// again gives the same bytes.
func FuzzDecode(f *testing.F) {
	for _, s := range seeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		// The body is everything after a valid header, whatever length the
		// header declares, so the fuzzer need not keep the two in step.
		first, body := data[0], data[1:]
		if _, _, n, ok := header(data); ok {
			body = data[n:]
		}
		for _, v := range versions {
			// ReadPacket over the whole input covers the header paths.
			if p, err := mqtt.ReadPacket(bytes.NewReader(data), v, 0); err != nil {
				checkDecodeError(t, p, err)
			}

			p, err := mqtt.Decode(first, body, v)
			if err != nil {
				checkDecodeError(t, p, err)
				continue
			}
			b1, err := mqtt.Append(nil, p, v)
			if err != nil {
				t.Fatalf("%v: decoded %s but cannot encode it: %v", v, dump(p), err)
			}
			if n, err := mqtt.Size(p, v); err != nil || n != len(b1) {
				t.Fatalf("%v: Size %d, %v; encoded %d bytes", v, n, err, len(b1))
			}
			if len(b1) > len(body)+1+4+1 {
				// Only DISCONNECT's one-byte form grows when re-encoded.
				t.Fatalf("%v: %d bytes re-encoded as %d", v, len(body), len(b1))
			}
			f1, body1 := splitFrame(t, b1)
			p2, err := mqtt.Decode(f1, body1, v)
			if err != nil {
				t.Fatalf("%v: decoded %s, encoded % X, which does not decode: %v", v, dump(p), b1, err)
			}
			if !equalPackets(p, p2) {
				t.Fatalf("%v: unstable:\n first %s\nsecond %s\nbytes % X", v, dump(p), dump(p2), b1)
			}
			b2, err := mqtt.Append(nil, p2, v)
			if err != nil || !bytes.Equal(b1, b2) {
				t.Fatalf("%v: re-encoding differs (%v):\n% X\n% X", v, err, b1, b2)
			}
		}
	})
}

// countingReader counts what it hands out, in reads of at most step bytes
// (0: as much as asked).
type countingReader struct {
	data []byte
	n    int
	step int
}

func (r *countingReader) Read(p []byte) (int, error) {
	if r.n == len(r.data) {
		return 0, io.EOF
	}
	if r.step > 0 && len(p) > r.step {
		p = p[:r.step]
	}
	m := copy(p, r.data[r.n:])
	r.n += m
	return m, nil
}

// FuzzReader streams bytes through a Reader with a small maximum packet
// size. It never panics, never returns a packet larger than the maximum,
// always consumes exactly one packet as framed by its fixed header, and
// decodes it as Decode does.
func FuzzReader(f *testing.F) {
	var stream [3][]byte
	for _, g := range mqtttest.Goldens() {
		i := 0
		switch g.Version {
		case mqtt.V311:
			i = 1
		case mqtt.V5:
			i = 2
		}
		stream[i] = append(stream[i], g.Bytes...)
	}
	for i, s := range stream {
		f.Add(s, uint16(64), byte(i), byte(0))
		f.Add(s, uint16(300), byte(i), byte(1))
		f.Add(s, uint16(5000), byte(i), byte(7))
	}
	for _, s := range seeds() {
		f.Add(s, uint16(16), byte(2), byte(3))
	}
	pool := &mqtt.BufferPool{}
	f.Fuzz(func(t *testing.T, data []byte, maxSize uint16, vsel, step byte) {
		v := versions[int(vsel)%len(versions)]
		max := 2 + uint32(maxSize)%8192
		src := &countingReader{data: data, step: int(step % 64)}
		rd := mqtt.NewReader(src, max, pool)
		defer rd.Release()
		consumed := 0
		for range 10_000 {
			p, err := rd.ReadPacket(v)
			now := src.n - rd.Buffered()
			size := now - consumed
			rest := data[consumed:]
			first, rl, n, ok := header(rest)
			switch {
			case err == io.EOF:
				if len(rest) != 0 {
					t.Fatalf("EOF with %d bytes left", len(rest))
				}
				return
			case errors.Is(err, io.ErrUnexpectedEOF):
				if ok && uint64(n)+uint64(rl) <= uint64(len(rest)) && uint64(n)+uint64(rl) <= uint64(max) {
					t.Fatalf("unexpected EOF with a whole packet of %d bytes buffered", uint64(n)+uint64(rl))
				}
				return
			case mqtt.CodeOf(err) == mqtt.PacketTooLarge:
				if !ok || uint64(n)+uint64(rl) <= uint64(max) {
					t.Fatalf("packet too large, but the header says %d bytes, max %d", uint64(n)+uint64(rl), max)
				}
				if size != 0 {
					t.Fatalf("consumed %d bytes of a refused packet", size)
				}
				return
			case !ok:
				// Remaining Length over four bytes.
				checkCode(t, "bad header", err, mqtt.MalformedPacket, "MQTT-1.5.5-1")
				return
			}
			total := n + int(rl)
			if size != total {
				t.Fatalf("consumed %d bytes, the packet is %d", size, total)
			}
			if uint32(size) > max {
				t.Fatalf("returned a packet of %d bytes, max %d", size, max)
			}
			consumed = now
			want, werr := mqtt.Decode(first, rest[n:total], v)
			if (err == nil) != (werr == nil) || mqtt.CodeOf(err) != mqtt.CodeOf(werr) {
				t.Fatalf("Reader: %v; Decode: %v", err, werr)
			}
			if err != nil {
				checkDecodeError(t, p, err)
				continue // the stream stays framed: go on with the next one
			}
			if !equalPackets(p, want) {
				t.Fatalf("Reader %s, Decode %s", dump(p), dump(want))
			}
			if got := rd.BytesRead(); got != int64(src.n) {
				t.Fatalf("BytesRead = %d, the source gave %d", got, src.n)
			}
			// An acknowledgement given back is handed out again by a
			// later ReadPacket: it must decode as fresh.
			rd.Recycle(p)
		}
	})
}

// refMatch is an independent reading of 4.7: split both on '/', '+'
// matches exactly one level, '#' the parent and any number of children,
// and a leading wildcard never matches a '$' topic [MQTT-4.7.2-1].
func refMatch(filter, topic string) bool {
	if strings.HasPrefix(topic, "$") && (strings.HasPrefix(filter, "+") || strings.HasPrefix(filter, "#")) {
		return false
	}
	fl, tl := strings.Split(filter, "/"), strings.Split(topic, "/")
	for i, f := range fl {
		if f == "#" {
			return true
		}
		if i >= len(tl) || (f != "+" && f != tl[i]) {
			return false
		}
	}
	return len(fl) == len(tl)
}

// FuzzTopic checks topic validation, Match and ParseShared against each
// other and against refMatch.
func FuzzTopic(f *testing.F) {
	for _, s := range [][2]string{
		{"a/b", "a/+"}, {"a", "a/#"}, {"$SYS/x", "#"}, {"$SYS/x", "$SYS/#"}, {"/", "+/+"},
		{"a//b", "a/+/b"}, {"sport/tennis/player1", "sport/tennis/#"}, {"x", "$share/g/x"},
		{"a/b", "$share/g/#"}, {"é/ü", "+/ü"}, {"", ""}, {"a\x00", "a/#/b"}, {"$", "+"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, topic, filter string) {
		nameErr := mqtt.ValidTopicName(topic)
		filterErr := mqtt.ValidTopicFilter(filter)
		_ = mqtt.Match(filter, topic) // never panics, valid or not
		_ = mqtt.Match(topic, filter)
		_ = mqtt.HasWildcard(filter)

		if nameErr == nil {
			if err := mqtt.ValidTopicFilter(topic); err != nil {
				t.Fatalf("valid name %q is not a valid filter: %v", topic, err)
			}
			if !mqtt.Match(topic, topic) {
				t.Fatalf("%q does not match itself", topic)
			}
			if got, want := mqtt.Match("#", topic), topic[0] != '$'; got != want {
				t.Fatalf("Match(#, %q) = %v [MQTT-4.7.2-1]", topic, got)
			}
			if !utf8.ValidString(topic) || strings.ContainsAny(topic, "+#\x00") || len(topic) > 65535 {
				t.Fatalf("ValidTopicName accepted %q", topic)
			}
		}
		if filterErr == nil && nameErr == nil {
			if got, want := mqtt.Match(filter, topic), refMatch(filter, topic); got != want {
				t.Fatalf("Match(%q, %q) = %v, want %v", filter, topic, got, want)
			}
		}
		if filterErr == nil && !mqtt.HasWildcard(filter) && nameErr == nil {
			if got := mqtt.Match(filter, topic); got != (filter == topic) {
				t.Fatalf("Match(%q, %q) = %v without wildcards", filter, topic, got)
			}
		}
		group, sub, ok, err := mqtt.ParseShared(filter)
		if ok != strings.HasPrefix(filter, mqtt.SharePrefix) {
			t.Fatalf("ParseShared(%q) ok = %v", filter, ok)
		}
		if ok && err == nil {
			if group == "" || strings.ContainsAny(group, "/+#") {
				t.Fatalf("ParseShared(%q) group %q [MQTT-4.8.2-1]", filter, group)
			}
			if e := mqtt.ValidTopicFilter(sub); e != nil {
				t.Fatalf("ParseShared(%q) filter %q: %v", filter, sub, e)
			}
			if mqtt.SharePrefix+group+"/"+sub != filter {
				t.Fatalf("ParseShared(%q) = %q, %q", filter, group, sub)
			}
		}
		if ok && err != nil && mqtt.CodeOf(err) != mqtt.TopicFilterInvalid {
			t.Fatalf("ParseShared(%q): %v", filter, err)
		}
	})
}
