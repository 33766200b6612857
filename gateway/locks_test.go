package gateway

import (
	"os"
	"slices"
	"strings"
	"testing"

	"edgemq/gateway/internal/lockorder"
)

// TestLocksDocMatchesOrder: the order block of LOCKS.md is the table the
// lockorder build checks (lockorder.Order), chain for chain.
func TestLocksDocMatchesOrder(t *testing.T) {
	b, err := os.ReadFile("LOCKS.md")
	if err != nil {
		t.Fatalf("reading LOCKS.md: %v", err)
	}
	_, rest, ok := strings.Cut(string(b), "```lockorder\n")
	block, _, closed := strings.Cut(rest, "```")
	if !ok || !closed {
		t.Fatal("LOCKS.md has no ```lockorder block")
	}
	var doc [][]string
	for line := range strings.SplitSeq(strings.TrimSpace(block), "\n") {
		doc = append(doc, strings.Split(line, " → "))
	}
	code := lockorder.Order()
	for i := range max(len(doc), len(code)) {
		var d, c []string
		if i < len(doc) {
			d = doc[i]
		}
		if i < len(code) {
			c = code[i]
		}
		if !slices.Equal(d, c) {
			t.Errorf("chain %d: LOCKS.md says %q, lockorder.Order says %q", i+1, strings.Join(d, " → "), strings.Join(c, " → "))
		}
	}
}

// TestLockClassesAreInTheOrder: every lock class of the gateway package
// (the broker's: broker/locks_test.go; the connection's:
// conn/locks_test.go) is named
// in the order, so that a renamed or new lock cannot slip out of it (a
// class missing from the order would be a leaf by default).
func TestLockClassesAreInTheOrder(t *testing.T) {
	named := map[string]bool{}
	for _, chain := range lockorder.Order() {
		for _, c := range chain {
			named[c] = true
		}
	}
	for _, c := range []lockorder.Class{
		serverMu{}, serverSrcMu{}, reloaderMu{},
	} {
		if !named[c.LockClass()] {
			t.Errorf("lock class %s is not in lockorder.Order", c.LockClass())
		}
	}
}
