package bolt

// Lock classes of DB's mutexes, as gateway/LOCKS.md names them.
type (
	gateClass struct{}
	queueMu   struct{}
)

func (gateClass) LockClass() string { return "bolt.DB.gate" }
func (queueMu) LockClass() string   { return "bolt.DB.mu" }
