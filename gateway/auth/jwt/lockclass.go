package jwt

// Lock classes of this package: each mutex is a lockorder.Mutex of one of
// these markers, whose name is the one gateway/LOCKS.md and
// lockorder.Order use.

type (
	jwksFetchMu struct{}
	jwksMu      struct{}
)

// LockClass names the lock that makes one JWKS load at a time.
func (jwksFetchMu) LockClass() string { return "jwksCache.fetchMu" }

// LockClass names the lock of the key set.
func (jwksMu) LockClass() string { return "jwksCache.mu" }
