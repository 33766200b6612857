package bruteforce

// bruteGuardMu is the lock class of Guard; its name is the one
// gateway/LOCKS.md and lockorder.Order use.
type bruteGuardMu struct{}

// LockClass names the lock of Guard.
func (bruteGuardMu) LockClass() string { return "bruteGuard.mu" }
