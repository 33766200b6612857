package broker

// Lock classes of the broker: each mutex is a lockorder.Mutex or RWMutex
// of one of these markers, whose name is the one gateway/LOCKS.md and
// lockorder.Order use. Under -tags lockorder every acquisition is checked
// against that order.

type (
	engineOrder struct{}
	registryMu  struct{}
	sessionMu   struct{}
	routerMu    struct{}
	retainedMu  struct{}
	takeoverMu  struct{}
	quotasMu    struct{}
)

func (engineOrder) LockClass() string { return "engine.order" }
func (registryMu) LockClass() string  { return "registry.mu" }
func (sessionMu) LockClass() string   { return "session.mu" }
func (routerMu) LockClass() string    { return "router.mu" }
func (retainedMu) LockClass() string  { return "retainedStore.mu" }
func (takeoverMu) LockClass() string  { return "takeoverStats.mu" }
func (quotasMu) LockClass() string    { return "quotas.mu" }
