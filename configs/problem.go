package configs

import (
	"fmt"
	"strings"
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
