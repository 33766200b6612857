package conn

import (
	"testing"

	"edgemq/gateway/internal/lockorder"
)

// TestLockClassesAreInTheOrder: every lock class of the connection layer
// is named in the order, so that a renamed or new lock cannot slip out of
// it (a class missing from the order would be a leaf by default).
func TestLockClassesAreInTheOrder(t *testing.T) {
	named := map[string]bool{}
	for _, chain := range lockorder.Order() {
		for _, c := range chain {
			named[c] = true
		}
	}
	for _, c := range []lockorder.Class{writeQueueMu{}} {
		if !named[c.LockClass()] {
			t.Errorf("lock class %s is not in lockorder.Order", c.LockClass())
		}
	}
}
