package auth

// Lock classes of this package: each mutex is a lockorder.Mutex of one of
// these markers, whose name is the one gateway/LOCKS.md and
// lockorder.Order use.

type (
	authExpiryMu struct{}
	authGateMu   struct{}
	hashPoolMu   struct{}
)

// LockClass names the lock of Expiry.
func (authExpiryMu) LockClass() string { return "authExpiry.mu" }

// LockClass names the lock of Gate.
func (authGateMu) LockClass() string { return "authGate.mu" }

// LockClass names the lock of HashPool.
func (hashPoolMu) LockClass() string { return "hashPool.mu" }
