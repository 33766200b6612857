package auth

import (
	"testing"

	"edgemq/gateway/internal/lockorder"
)

// TestLockClassesAreInTheOrder: every lock class of this package is named
// in lockorder.Order (gateway/LOCKS.md), so that a renamed or new lock
// cannot slip out of it (a class missing from the order would be a leaf
// by default).
func TestLockClassesAreInTheOrder(t *testing.T) {
	named := map[string]bool{}
	for _, chain := range lockorder.Order() {
		for _, c := range chain {
			named[c] = true
		}
	}
	for _, c := range []lockorder.Class{authExpiryMu{}, authGateMu{}, hashPoolMu{}} {
		if !named[c.LockClass()] {
			t.Errorf("lock class %s is not in lockorder.Order", c.LockClass())
		}
	}
}
