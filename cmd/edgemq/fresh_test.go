package main

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestToolchainVersionsAgree: the Dockerfile builds with exactly the Go
// version go.mod requires, and the README's quick start names it, so a
// bump of go.mod that forgets either fails here.
func TestToolchainVersionsAgree(t *testing.T) {
	read := func(name string) string {
		t.Helper()
		b, err := os.ReadFile("../../" + name)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	m := regexp.MustCompile(`(?m)^go (\d+\.\d+\.\d+)$`).FindStringSubmatch(read("go.mod"))
	if m == nil {
		t.Fatal("go.mod has no go X.Y.Z line")
	}
	want := m[1]
	for _, tc := range []struct{ file, text string }{
		{"Dockerfile", "FROM golang:" + want + " AS build"},
		{"README.md", "With Go " + want + " or later"},
		{"README.md", "Go " + want + " or later, the version `go.mod` names"},
	} {
		if !strings.Contains(read(tc.file), tc.text) {
			t.Errorf("%s lacks %q (go.mod: go %s)", tc.file, tc.text, want)
		}
	}
}

// TestReadmeContents: every section of the README is in its table of
// contents, in order.
func TestReadmeContents(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	start := strings.Index(readme, "## Contents\n")
	if start < 0 {
		t.Fatal("README has no ## Contents")
	}
	end := start + 1 + strings.Index(readme[start+1:], "\n## ")
	if end <= start {
		t.Fatal("nothing follows ## Contents")
	}
	var headings []string
	fence := false
	for _, line := range strings.Split(readme[end:], "\n") {
		if strings.HasPrefix(line, "```") {
			fence = !fence
		}
		if !fence && (strings.HasPrefix(line, "## ") || strings.HasPrefix(line, "### ")) {
			headings = append(headings, strings.TrimLeft(line, "# "))
		}
	}
	var listed []string
	for _, m := range regexp.MustCompile(`(?m)^ *- \[(.*)\]\(#[^)]*\)$`).FindAllStringSubmatch(readme[start:end], -1) {
		listed = append(listed, m[1])
	}
	if strings.Join(listed, "\n") != strings.Join(headings, "\n") {
		t.Errorf("contents:\n%s\n\nheadings:\n%s", strings.Join(listed, "\n"), strings.Join(headings, "\n"))
	}
}
