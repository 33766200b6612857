package gateway

// Lock classes: each mutex of the gateway package is a lockorder.Mutex or
// RWMutex of one of these markers, whose name is the one LOCKS.md and
// lockorder.Order use. Under -tags lockorder every acquisition is checked
// against that order. The broker's classes are in broker/lockclass.go.

type (
	writeQueueMu   struct{}
	serverMu       struct{}
	serverSrcMu    struct{}
	reloaderMu     struct{}
	admissionMu    struct{}
	rateLimitsMu   struct{}
	authExpiryMu   struct{}
	authGateMu     struct{}
	bruteGuardMu   struct{}
	httpAuthMu     struct{}
	jwksFetchMu    struct{}
	jwksMu         struct{}
	passwordFileMu struct{}
	scramStoreMu   struct{}
)

func (writeQueueMu) LockClass() string   { return "writeQueue.mu" }
func (serverMu) LockClass() string       { return "Server.mu" }
func (serverSrcMu) LockClass() string    { return "Server.srcMu" }
func (reloaderMu) LockClass() string     { return "reloader.mu" }
func (admissionMu) LockClass() string    { return "admission.mu" }
func (rateLimitsMu) LockClass() string   { return "rateLimits.mu" }
func (authExpiryMu) LockClass() string   { return "authExpiry.mu" }
func (authGateMu) LockClass() string     { return "authGate.mu" }
func (bruteGuardMu) LockClass() string   { return "bruteGuard.mu" }
func (httpAuthMu) LockClass() string     { return "httpAuth.mu" }
func (jwksFetchMu) LockClass() string    { return "jwksCache.fetchMu" }
func (jwksMu) LockClass() string         { return "jwksCache.mu" }
func (passwordFileMu) LockClass() string { return "passwordFileAuth.mu" }
func (scramStoreMu) LockClass() string   { return "FileSCRAMStore.mu" }
