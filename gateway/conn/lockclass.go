package conn

// Lock classes: each mutex of the conn package is a lockorder.Mutex of
// one of these markers, whose name is the one LOCKS.md and
// lockorder.Order use. Under -tags lockorder every acquisition is checked
// against that order.

type writeQueueMu struct{}

func (writeQueueMu) LockClass() string { return "writeQueue.mu" }
