package proto

import (
	"edgemq/gateway/auth"
	"edgemq/gateway/stats"
)

// Stats is what the engine counts: the shared hot-path counters (package
// stats) and the authentication failures and delays (auth.Stats), which
// the channel counts. Takeovers are the broker's (broker.Takeovers). Its
// counters are safe for concurrent use.
type Stats struct {
	stats.Counters
	// Auth counts failed authentications (gateway/auth).
	Auth auth.Stats
}
