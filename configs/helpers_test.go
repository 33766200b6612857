package configs

import (
	"errors"
	"strings"
	"testing"
)

// parse parses src as file test.yaml and fails the test on error.
func parse(t testing.TB, src string) *Config {
	t.Helper()
	cfg, err := Parse("test.yaml", []byte(src))
	if err != nil {
		t.Fatalf("Parse:\n%s\nerror: %v", src, err)
	}
	return cfg
}

// parseErr parses src as file test.yaml and returns the error message,
// failing the test when parsing succeeds.
func parseErr(t testing.TB, src string) string {
	t.Helper()
	cfg, err := Parse("test.yaml", []byte(src))
	if err == nil {
		t.Fatalf("Parse:\n%s\nsucceeded, want an error", src)
	}
	if cfg != nil {
		t.Errorf("Parse returned a config along with error %v", err)
	}
	return err.Error()
}

// wantContains fails the test unless msg contains every part.
func wantContains(t testing.TB, msg string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(msg, p) {
			t.Errorf("error %q\ndoes not contain %q", msg, p)
		}
	}
}

// problemsOf returns the problems of a configs *Error, failing the test
// when err is not one.
func problemsOf(t testing.TB, err error) []Problem {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *configs.Error", err, err)
	}
	return e.Problems
}

func ptr[T any](v T) *T { return &v }
