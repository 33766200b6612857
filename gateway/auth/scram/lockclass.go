package scram

// scramStoreMu is the lock class of FileStore; its name is the one
// gateway/LOCKS.md and lockorder.Order use (the store's old name).
type scramStoreMu struct{}

// LockClass names the lock of FileStore.
func (scramStoreMu) LockClass() string { return "FileSCRAMStore.mu" }
