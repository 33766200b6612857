package configs

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Problem is one thing wrong with a configuration.
type Problem struct {
	// Path is the key path, e.g. "listeners[1].address" or
	// "profiles.browser.receive_maximum"; empty for the whole file.
	Path string
	// Line is the 1-based line in the file, 0 when unknown (for example
	// when the value is a default the file does not mention).
	Line int
	// Reason says what is wrong and, where it helps, how to fix it.
	Reason string
}

// String returns "path: reason".
func (p Problem) String() string {
	if p.Path == "" {
		return p.Reason
	}
	return p.Path + ": " + p.Reason
}

// Error lists every problem found in a configuration. Parse, Load and
// Default return it for unknown keys, wrongly typed values and failed
// validation; Validate returns it without File and Line.
type Error struct {
	// File names the configuration file; empty when not known.
	File string
	// Problems are in file order, at least one.
	Problems []Problem
}

// Error formats the problems one per line, each prefixed with file:line
// when known, so editors and terminals can jump to them.
func (e *Error) Error() string {
	if len(e.Problems) == 1 {
		return e.locate(e.Problems[0])
	}
	var b strings.Builder
	b.WriteString("invalid configuration")
	if e.File != "" {
		b.WriteString(" " + e.File)
	}
	fmt.Fprintf(&b, ": %d problems:", len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n\t" + e.locate(p))
	}
	return b.String()
}

func (e *Error) locate(p Problem) string {
	switch {
	case e.File != "" && p.Line > 0:
		return fmt.Sprintf("%s:%d: %s", e.File, p.Line, p)
	case e.File != "":
		return fmt.Sprintf("%s: %s", e.File, p)
	default:
		return p.String()
	}
}

// problems collects Problems.
type problems []Problem

func (ps *problems) add(path, format string, args ...any) {
	*ps = append(*ps, Problem{Path: path, Reason: fmt.Sprintf(format, args...)})
}

// err returns the problems as an *Error, or nil when there are none.
func (ps problems) err(file string) error {
	if len(ps) == 0 {
		return nil
	}
	return &Error{File: file, Problems: ps}
}

// allProblems reports, in one error, the problems the walker found in a
// file (unknown keys, wrongly typed values) together with what Validate
// finds in the rest of it, so that a file is fixed in one pass. The file
// is decoded leniently into cfg: unknown keys are skipped and a wrongly
// typed value keeps its default. A problem of Validate at or below a
// path the walker already reported is left out: it would be about the
// default standing in for the bad value.
func allProblems(name string, data []byte, cfg *Config, w walker) error {
	all := slices.Clone(w.problems)
	lenient := yaml.NewDecoder(bytes.NewReader(data))
	var typeErr *yaml.TypeError
	if err := lenient.Decode(cfg); err == nil || errors.As(err, &typeErr) {
		var ve *Error
		if errors.As(withLines(cfg.Validate(), name, w.lines), &ve) {
			for _, p := range ve.Problems {
				if !coveredBy(p.Path, w.problems) {
					all = append(all, p)
				}
			}
		}
	}
	// File order; a problem of no known line (a default) last.
	slices.SortStableFunc(all, func(a, b Problem) int {
		return cmp.Compare(lineKey(a.Line), lineKey(b.Line))
	})
	return &Error{File: name, Problems: all}
}

// lineKey orders unknown lines (0) after every known one.
func lineKey(line int) int {
	if line == 0 {
		return math.MaxInt
	}
	return line
}

// coveredBy reports whether path is one of ps's paths or below one.
func coveredBy(path string, ps problems) bool {
	for _, p := range ps {
		if p.Path == "" {
			continue
		}
		if path == p.Path || strings.HasPrefix(path, p.Path+".") || strings.HasPrefix(path, p.Path+"[") {
			return true
		}
	}
	return false
}
