package cluster

// Mixed versions: during a rolling upgrade nodes of version N and N+1
// share the cluster's records and messages, so each cross-node format is
// read tolerantly (what a newer writer added is not an error) and a JSON
// record this node rewrites keeps, byte for byte, the fields it does not
// know (SessionRecord). A format change an older node cannot read safely
// raises the format's version byte, and an older node refuses such a
// value with a VersionError, leaving it to the nodes that read it.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
)

// VersionError is a value of a cross-node format (a session record, a
// retained message) written in a newer version of the format than this
// node reads: a node of a newer edgemq wrote it during a rolling upgrade.
// The node that meets one neither decodes it nor writes over or deletes
// it: the value is left to the nodes that read it. Match it with
// errors.As.
type VersionError struct {
	// What names the format ("session record").
	What string
	// Version is the value's version, Known the newest this node reads.
	Version, Known byte
}

func (e *VersionError) Error() string {
	return fmt.Sprintf("%s of format version %d, newer than this node reads (%d): written by a newer edgemq node; "+
		"left to the nodes that read it (finish the rolling upgrade)", e.What, e.Version, e.Known)
}

// rawField is a field of a JSON object this version does not know: its
// name and its value as read, byte for byte.
type rawField struct {
	name  string
	value json.RawMessage
}

// jsonFieldNames returns the JSON names of struct type t's fields.
func jsonFieldNames(t reflect.Type) []string {
	var out []string
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = f.Name
		}
		out = append(out, name)
	}
	return out
}

// unknownFields returns, in the order read, the members of the JSON
// object obj whose names are not in known, their values byte for byte.
// As encoding/json matches a member to a field ignoring case, so does
// it: a member it would decode into a known field is not unknown. obj is
// valid JSON (json.Unmarshal read it first): the scan only finds the
// top-level members' bounds, allocating for unknown ones alone.
func unknownFields(obj []byte, known []string) ([]rawField, error) {
	errNotObject := errors.New("not a json object")
	i := skipSpace(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return nil, errNotObject
	}
	var out []rawField
	for i = skipSpace(obj, i+1); i < len(obj) && obj[i] != '}'; {
		if obj[i] != '"' {
			return nil, errNotObject
		}
		end, escaped := stringEnd(obj, i)
		if end < 0 {
			return nil, errNotObject
		}
		key := obj[i:end]
		i = skipSpace(obj, end)
		if i >= len(obj) || obj[i] != ':' {
			return nil, errNotObject
		}
		start := skipSpace(obj, i+1)
		if i = valueEnd(obj, start); i < 0 {
			return nil, errNotObject
		}
		name := key[1 : len(key)-1]
		if escaped {
			var s string
			if err := json.Unmarshal(key, &s); err != nil {
				return nil, err
			}
			name = []byte(s)
		}
		if !containsFold(known, name) {
			out = append(out, rawField{name: string(name), value: bytes.Clone(obj[start:i])})
		}
		i = skipSpace(obj, i)
		if i < len(obj) && obj[i] == ',' {
			i = skipSpace(obj, i+1)
		}
	}
	if i >= len(obj) {
		return nil, errNotObject
	}
	return out, nil
}

// skipSpace returns the index of the first byte of b from i on that is
// not JSON whitespace.
func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// stringEnd returns the index after the JSON string starting at b[i]
// (its opening quote), and whether it holds an escape; -1 when it does
// not end.
func stringEnd(b []byte, i int) (int, bool) {
	escaped := false
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			escaped = true
			j++
		case '"':
			return j + 1, escaped
		}
	}
	return -1, escaped
}

// valueEnd returns the index after the JSON value starting at b[i]; -1
// when it does not end.
func valueEnd(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		end, _ := stringEnd(b, i)
		return end
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end, _ := stringEnd(b, j)
				if end < 0 {
					return -1
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	}
	// A number, true, false or null.
	j := i
	for j < len(b) && !strings.ContainsRune(",}] \t\r\n", rune(b[j])) {
		j++
	}
	return j
}

// containsFold reports whether names holds name, ignoring case.
func containsFold(names []string, name []byte) bool {
	for _, n := range names {
		if bytes.EqualFold([]byte(n), name) { // as encoding/json matches names
			return true
		}
	}
	return false
}

// appendUnknown returns the JSON object obj (as json.Marshal wrote it)
// with fields added as its last members.
func appendUnknown(obj []byte, fields []rawField) ([]byte, error) {
	if len(fields) == 0 {
		return obj, nil
	}
	if len(obj) < 2 || obj[len(obj)-1] != '}' {
		return nil, fmt.Errorf("not a json object")
	}
	out := make([]byte, 0, len(obj)+64*len(fields))
	out = append(out, obj[:len(obj)-1]...)
	first := len(bytes.TrimSpace(obj[1:len(obj)-1])) == 0
	for _, f := range fields {
		name, err := json.Marshal(f.name)
		if err != nil {
			return nil, err
		}
		if !first {
			out = append(out, ',')
		}
		first = false
		out = append(out, name...)
		out = append(out, ':')
		out = append(out, f.value...)
	}
	return append(out, '}'), nil
}
