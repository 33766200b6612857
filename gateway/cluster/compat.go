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
// object obj whose names are not in known. As encoding/json matches a
// member to a field ignoring case, so does it: a member it would decode
// into a known field is not unknown.
func unknownFields(obj []byte, known []string) ([]rawField, error) {
	d := json.NewDecoder(bytes.NewReader(obj))
	if tok, err := d.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("not a json object")
	}
	var out []rawField
	for d.More() {
		tok, err := d.Token()
		if err != nil {
			return nil, err
		}
		name, _ := tok.(string) // an object's keys are strings
		var v json.RawMessage
		if err := d.Decode(&v); err != nil {
			return nil, err
		}
		if !containsFold(known, name) {
			out = append(out, rawField{name: name, value: v})
		}
	}
	return out, nil
}

// containsFold reports whether names holds name, ignoring case.
func containsFold(names []string, name string) bool {
	for _, n := range names {
		if strings.EqualFold(n, name) {
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
