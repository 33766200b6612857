package configs

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// defaultYAML is the documented example configuration, which is also the
// configuration used when no file is given. A string, so it is immutable.
//
//go:embed edgemq.yaml
var defaultYAML string

// DefaultName is the file name reported in errors about the embedded
// default configuration.
const DefaultName = "edgemq.yaml (built in)"

// Default returns the embedded default configuration (configs/edgemq.yaml),
// parsed and validated.
func Default() (*Config, error) {
	return Parse(DefaultName, []byte(defaultYAML))
}

// Load reads, parses and validates the configuration file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes and validates a YAML configuration; name is the file name
// used in errors. Keys the data omits keep their built-in default values
// (those of the embedded edgemq.yaml), so an empty document is the default
// configuration. Unknown keys, wrongly typed values and values Validate
// refuses make Parse return an *Error naming the file, the line and the
// key path of each problem.
func Parse(name string, data []byte) (*Config, error) {
	cfg := defaults()

	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	switch err := dec.Decode(&doc); {
	case errors.Is(err, io.EOF):
		// Empty document (or only comments): all defaults.
		if err := withLines(cfg.Validate(), name, nil); err != nil {
			return nil, err
		}
		return cfg, nil
	case err != nil:
		return nil, fmt.Errorf("parsing %s: %w", name, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, &Error{File: name, Problems: []Problem{{
			Line:   extra.Line,
			Reason: "more than one YAML document; a configuration is a single document",
		}}}
	}

	// Walk the document against the Config type first: this reports every
	// unknown key and wrongly typed value with its key path and line,
	// which the yaml decoder's own errors lack.
	w := walker{lines: map[string]int{}}
	w.node(&doc, reflect.TypeFor[Config](), "")
	if len(w.problems) > 0 {
		return nil, allProblems(name, data, cfg, w) // problems.go
	}

	strict := yaml.NewDecoder(bytes.NewReader(data))
	strict.KnownFields(true)
	if err := strict.Decode(cfg); err != nil {
		return nil, fmt.Errorf("decoding %s: %w", name, err)
	}
	if err := withLines(cfg.Validate(), name, w.lines); err != nil {
		return nil, err
	}
	return cfg, nil
}

// withLines sets the file and, from lines, the line of each problem of a
// Validate error.
func withLines(err error, name string, lines map[string]int) error {
	var e *Error
	if !errors.As(err, &e) {
		return err
	}
	e.File = name
	for i := range e.Problems {
		e.Problems[i].Line = lineOf(lines, e.Problems[i].Path)
	}
	return e
}

// lineOf returns the line of path or, when the file does not mention it,
// of its closest parent that it does mention; 0 when none is.
func lineOf(lines map[string]int, path string) int {
	for path != "" {
		if l, ok := lines[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return 0
}

// defaults returns the built-in configuration: the embedded edgemq.yaml,
// decoded without checks (its own tests check it), so that a key a file
// omits keeps the documented value and there is one source of defaults.
func defaults() *Config {
	var c Config
	if err := yaml.Unmarshal([]byte(defaultYAML), &c); err != nil {
		panic(fmt.Sprintf("configs: embedded edgemq.yaml does not decode: %v", err))
	}
	return &c
}

// walker checks a YAML node tree against the Go types it decodes into.
type walker struct {
	problems problems
	// lines maps each key path the file mentions to its line.
	lines map[string]int
}

func (w *walker) add(n *yaml.Node, path, format string, args ...any) {
	w.problems = append(w.problems, Problem{Path: path, Line: n.Line, Reason: fmt.Sprintf(format, args...)})
}

func (w *walker) node(n *yaml.Node, t reflect.Type, path string) {
	for n.Kind == yaml.DocumentNode || n.Kind == yaml.AliasNode {
		switch {
		case n.Kind == yaml.AliasNode && n.Alias != nil:
			n = n.Alias
		case n.Kind == yaml.DocumentNode && len(n.Content) == 1:
			n = n.Content[0]
		default:
			return
		}
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return // null keeps the default (or clears a list, map or pointer)
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == reflect.TypeFor[time.Duration]():
		w.scalar(n, t, path)
	case t.Kind() == reflect.Struct:
		w.structure(n, t, path)
	case t.Kind() == reflect.Map:
		if !w.want(n, yaml.MappingNode, t, path) {
			return
		}
		seen := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.ShortTag() == "!!merge" {
				w.merge(v, t, path)
				continue
			}
			p := join(path, k.Value)
			if !w.unique(seen, k, p) {
				continue
			}
			w.lines[p] = k.Line
			w.node(v, t.Elem(), p)
		}
	case t.Kind() == reflect.Slice:
		if !w.want(n, yaml.SequenceNode, t, path) {
			return
		}
		for i, item := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			w.lines[p] = item.Line
			w.node(item, t.Elem(), p)
		}
	default:
		w.scalar(n, t, path)
	}
}

func (w *walker) structure(n *yaml.Node, t reflect.Type, path string) {
	if !w.want(n, yaml.MappingNode, t, path) {
		return
	}
	fields := yamlFields(t)
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.ShortTag() == "!!merge" {
			w.merge(v, t, path)
			continue
		}
		p := join(path, k.Value)
		ft, ok := fields[k.Value]
		if !ok {
			w.add(k, p, "unknown key%s", suggest(k.Value, fields))
			continue
		}
		if !w.unique(seen, k, p) {
			continue
		}
		w.lines[p] = k.Line
		w.node(v, ft, p)
	}
}

// merge checks the value of a "<<" merge key: a mapping or a list of them.
func (w *walker) merge(v *yaml.Node, t reflect.Type, path string) {
	for v.Kind == yaml.AliasNode && v.Alias != nil {
		v = v.Alias
	}
	if v.Kind == yaml.SequenceNode {
		for _, item := range v.Content {
			w.node(item, t, path)
		}
		return
	}
	w.node(v, t, path)
}

func (w *walker) unique(seen map[string]int, k *yaml.Node, path string) bool {
	if first, dup := seen[k.Value]; dup {
		w.add(k, path, "duplicate key (first set on line %d)", first)
		return false
	}
	seen[k.Value] = k.Line
	return true
}

// want reports whether n is of the kind t needs, adding a problem if not.
func (w *walker) want(n *yaml.Node, kind yaml.Kind, t reflect.Type, path string) bool {
	if n.Kind == kind {
		return true
	}
	w.add(n, path, "expected %s, found %s", describe(t), found(n))
	return false
}

// scalar checks a leaf value by decoding it alone into a value of type t.
func (w *walker) scalar(n *yaml.Node, t reflect.Type, path string) {
	if n.Kind != yaml.ScalarNode {
		w.add(n, path, "expected %s, found %s", describe(t), found(n))
		return
	}
	if err := n.Decode(reflect.New(t).Interface()); err != nil {
		reason := fmt.Sprintf("%s is not %s", found(n), describe(t))
		if t == reflect.TypeFor[time.Duration]() {
			if _, err := strconv.ParseFloat(n.Value, 64); err == nil {
				reason += " (add a unit, e.g. " + n.Value + "s)"
			}
		}
		w.add(n, path, "%s", reason)
	}
}

// yamlFields maps the yaml keys of struct type t to their field types.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	fields := map[string]reflect.Type{}
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = strings.ToLower(f.Name)
		}
		fields[name] = f.Type
	}
	return fields
}

// suggest names the closest known key to an unknown one, or lists them all.
func suggest(key string, fields map[string]reflect.Type) string {
	known := make([]string, 0, len(fields))
	for k := range fields {
		known = append(known, k)
	}
	sort.Strings(known)
	best, bestDist := "", len(key)/3+2
	for _, k := range known {
		if d := distance(key, k); d < bestDist {
			best, bestDist = k, d
		}
	}
	if best != "" {
		return "; did you mean " + best + "?"
	}
	return "; known keys here: " + strings.Join(known, ", ")
}

// distance is the Levenshtein distance between a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// describe says in words what a value of type t looks like in YAML.
func describe(t reflect.Type) string {
	if t == reflect.TypeFor[time.Duration]() {
		return "a duration such as 500ms, 10s, 1m30s or 24h"
	}
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return fmt.Sprintf("an integer from 0 to %d", ^uint64(0)>>(64-t.Bits()))
	case reflect.Struct, reflect.Map:
		return "a mapping (key: value lines)"
	case reflect.Slice:
		return "a list (- item lines)"
	default:
		return t.String()
	}
}

// found describes the node that was found instead.
func found(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return strconv.Quote(n.Value)
	default:
		return "nothing"
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}
