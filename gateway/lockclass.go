package gateway

// Lock classes: each mutex of the gateway is a lockorder.Mutex or
// RWMutex of one of these markers, whose name is the one LOCKS.md and
// lockorder.Order use. Under -tags lockorder every acquisition is checked
// against that order.

type (
	engineOrder    struct{}
	registryMu     struct{}
	sessionMu      struct{}
	writeQueueMu   struct{}
	routerMu       struct{}
	retainedMu     struct{}
	serverMu       struct{}
	serverSrcMu    struct{}
	reloaderMu     struct{}
	authExpiryMu   struct{}
	authGateMu     struct{}
	bruteGuardMu   struct{}
	httpAuthMu     struct{}
	jwksFetchMu    struct{}
	jwksMu         struct{}
	passwordFileMu struct{}
	scramStoreMu   struct{}
	takeoverMu     struct{}
	quotasMu       struct{}
)

func (engineOrder) LockClass() string    { return "engine.order" }
func (registryMu) LockClass() string     { return "registry.mu" }
func (sessionMu) LockClass() string      { return "session.mu" }
func (writeQueueMu) LockClass() string   { return "writeQueue.mu" }
func (routerMu) LockClass() string       { return "router.mu" }
func (retainedMu) LockClass() string     { return "retainedStore.mu" }
func (serverMu) LockClass() string       { return "Server.mu" }
func (serverSrcMu) LockClass() string    { return "Server.srcMu" }
func (reloaderMu) LockClass() string     { return "reloader.mu" }
func (authExpiryMu) LockClass() string   { return "authExpiry.mu" }
func (authGateMu) LockClass() string     { return "authGate.mu" }
func (bruteGuardMu) LockClass() string   { return "bruteGuard.mu" }
func (httpAuthMu) LockClass() string     { return "httpAuth.mu" }
func (jwksFetchMu) LockClass() string    { return "jwksCache.fetchMu" }
func (jwksMu) LockClass() string         { return "jwksCache.mu" }
func (passwordFileMu) LockClass() string { return "passwordFileAuth.mu" }
func (scramStoreMu) LockClass() string   { return "FileSCRAMStore.mu" }
func (takeoverMu) LockClass() string     { return "takeoverStats.mu" }
func (quotasMu) LockClass() string       { return "quotas.mu" }
