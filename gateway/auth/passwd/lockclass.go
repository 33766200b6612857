package passwd

// passwordFileMu is the lock class of FileAuth's reloads; its name is the
// one gateway/LOCKS.md and lockorder.Order use.
type passwordFileMu struct{}

// LockClass names the lock of FileAuth.
func (passwordFileMu) LockClass() string { return "passwordFileAuth.mu" }
