package gateway

// Lock classes: each mutex of the gateway is a lockorder.Mutex or
// RWMutex of one of these markers, whose name is the one LOCKS.md and
// lockorder.Order use. Under -tags lockorder every acquisition is checked
// against that order.

type (
	engineOrder  struct{}
	registryMu   struct{}
	sessionMu    struct{}
	writeQueueMu struct{}
	routerMu     struct{}
	retainedMu   struct{}
	serverMu     struct{}
	serverSrcMu  struct{}
	reloaderMu   struct{}
	admissionMu  struct{}
	rateLimitsMu struct{}
	takeoverMu   struct{}
	quotasMu     struct{}
)

func (engineOrder) LockClass() string  { return "engine.order" }
func (registryMu) LockClass() string   { return "registry.mu" }
func (sessionMu) LockClass() string    { return "session.mu" }
func (writeQueueMu) LockClass() string { return "writeQueue.mu" }
func (routerMu) LockClass() string     { return "router.mu" }
func (retainedMu) LockClass() string   { return "retainedStore.mu" }
func (serverMu) LockClass() string     { return "Server.mu" }
func (serverSrcMu) LockClass() string  { return "Server.srcMu" }
func (reloaderMu) LockClass() string   { return "reloader.mu" }
func (admissionMu) LockClass() string  { return "admission.mu" }
func (rateLimitsMu) LockClass() string { return "rateLimits.mu" }
func (takeoverMu) LockClass() string   { return "takeoverStats.mu" }
func (quotasMu) LockClass() string     { return "quotas.mu" }
