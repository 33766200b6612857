package backend

import (
	"encoding/json"
	"fmt"

	"edgemq/gateway/cluster"

	"github.com/nats-io/nats.go"
)

// The messages stream answers every publish with a JetStream PubAck, a
// small JSON object: {"stream":"EMQ_MESSAGES","seq":42} when it stored
// the message, with ,"duplicate": true when it had it already (a
// retransmission within the duplicate window: stored once, acknowledged
// all the same), or {"error":{...}} when it did not. Every QoS 1/2
// message of every client gets one, so the usual shapes are read by hand
// (readPubAck) and anything else (an error, whitespace, escapes, a field
// we do not expect) through encoding/json, whose reading is the
// reference: the hand reading accepts only what json.Unmarshal reads the
// same way (FuzzReadPubAck).

// pubAck is the messages stream's answer to a publish.
type pubAck struct {
	Stream    string `json:"stream"`
	Seq       uint64 `json:"seq"`
	Duplicate bool   `json:"duplicate"`
	Error     *struct {
		Code        int    `json:"code"`
		ErrCode     int    `json:"err_code"`
		Description string `json:"description"`
	} `json:"error"`
}

// parseAck returns nil when msg says the messages stream stored the
// publish (a duplicate included).
func parseAck(msg *nats.Msg) error {
	if st := msg.Header.Get("Status"); st != "" {
		// 503: no stream listens on the subject (no responders).
		return fmt.Errorf("%w: status %s %s", errFailed, st, msg.Header.Get("Description"))
	}
	a, err := readPubAck(msg.Data)
	if err != nil {
		return fmt.Errorf("%w: reading the acknowledgement: %w", errFailed, err)
	}
	if a.Error != nil {
		return fmt.Errorf("%w: %s (%d)", errFailed, a.Error.Description, a.Error.ErrCode)
	}
	if a.Stream != cluster.MessagesStream || a.Seq == 0 {
		return fmt.Errorf("%w: acknowledged by stream %q", errFailed, a.Stream)
	}
	return nil
}

// readPubAck reads a PubAck: by hand when data has one of the shapes the
// server writes for a stored message, through encoding/json otherwise.
func readPubAck(data []byte) (pubAck, error) {
	if a, ok := scanPubAck(data); ok {
		return a, nil
	}
	var a pubAck
	if err := json.Unmarshal(data, &a); err != nil {
		return pubAck{}, err
	}
	return a, nil
}

// scanPubAck reads exactly {"stream":S,["domain":D,]"seq":N[,"duplicate":
// true]} (one optional space after the duplicate's colon, as the server
// writes it) with S and D plain strings (printable ASCII, no quote or
// backslash) and N a JSON number without sign, fraction, exponent or
// leading zero that fits a uint64. ok is false for anything else, which
// the caller reads with encoding/json.
func scanPubAck(data []byte) (a pubAck, ok bool) {
	s := scanner{b: data}
	if !s.lit(`{"stream":`) {
		return pubAck{}, false
	}
	if a.Stream, ok = s.plainString(); !ok {
		return pubAck{}, false
	}
	if s.lit(`,"domain":`) {
		if _, ok = s.plainString(); !ok {
			return pubAck{}, false
		}
	}
	if !s.lit(`,"seq":`) {
		return pubAck{}, false
	}
	if a.Seq, ok = s.uint(); !ok {
		return pubAck{}, false
	}
	if s.lit(`,"duplicate":`) {
		s.lit(" ")
		if !s.lit("true") {
			return pubAck{}, false
		}
		a.Duplicate = true
	}
	if !s.lit("}") || s.i != len(s.b) {
		return pubAck{}, false
	}
	return a, true
}

// scanner walks a byte slice.
type scanner struct {
	b []byte
	i int
}

// lit consumes lit when the input goes on with it.
func (s *scanner) lit(lit string) bool {
	if len(s.b)-s.i < len(lit) || string(s.b[s.i:s.i+len(lit)]) != lit {
		return false
	}
	s.i += len(lit)
	return true
}

// plainString consumes a JSON string of printable ASCII without escapes,
// which reads as its bytes.
func (s *scanner) plainString() (string, bool) {
	if !s.lit(`"`) {
		return "", false
	}
	start := s.i
	for ; s.i < len(s.b); s.i++ {
		switch c := s.b[s.i]; {
		case c == '"':
			v := string(s.b[start:s.i])
			s.i++
			return v, true
		case c < 0x20 || c > 0x7e || c == '\\':
			return "", false
		}
	}
	return "", false
}

// uint consumes a JSON number that is a uint64: digits, no leading zero
// (but 0 itself), no sign, fraction or exponent, no overflow.
func (s *scanner) uint() (uint64, bool) {
	start := s.i
	var n uint64
	for ; s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9'; s.i++ {
		d := uint64(s.b[s.i] - '0')
		if n > (1<<64-1-d)/10 {
			return 0, false
		}
		n = n*10 + d
	}
	switch digits := s.i - start; {
	case digits == 0, digits > 1 && s.b[start] == '0':
		return 0, false
	}
	return n, true
}
