package park

// Lock classes: each mutex of the park package is a lockorder.Mutex of
// one of these markers, whose name is the one gateway/LOCKS.md and
// lockorder.Order use. Both are leaves: Poller.mu is taken alone, and a
// Handle's nudge mutex is held only around the nudge function, which
// takes no lock of ours. Under -tags lockorder every acquisition is
// checked against that order.

type pollerMu struct{}

func (pollerMu) LockClass() string { return "parkPoller.mu" }

type nudgeMu struct{}

func (nudgeMu) LockClass() string { return "parkHandle.nmu" }
