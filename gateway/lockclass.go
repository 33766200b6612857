package gateway

// Lock classes: each mutex of the gateway package is a lockorder.Mutex or
// RWMutex of one of these markers, whose name is the one LOCKS.md and
// lockorder.Order use. Under -tags lockorder every acquisition is checked
// against that order. The broker's classes are in broker/lockclass.go,
// the connection's (writeQueue.mu) in conn/lockclass.go.

type (
	serverMu    struct{}
	serverSrcMu struct{}
	reloaderMu  struct{}
)

func (serverMu) LockClass() string    { return "Server.mu" }
func (serverSrcMu) LockClass() string { return "Server.srcMu" }
func (reloaderMu) LockClass() string  { return "reloader.mu" }
