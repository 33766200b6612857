package httphook

// httpAuthMu is the lock class of the hook's answer cache; its name is
// the one gateway/LOCKS.md and lockorder.Order use.
type httpAuthMu struct{}

// LockClass names the lock of Hook's cache.
func (httpAuthMu) LockClass() string { return "httpAuth.mu" }
