package gateway

import (
	"edgemq/gateway/auth"
	"edgemq/gateway/stats"
)

// engineStats is what the engine counts: the shared hot-path counters
// (package stats) and the counters of the concerns that still live in
// this package (takeovers are the broker's, broker.Takeovers).
type engineStats struct {
	stats.Counters
	// auth counts failed authentications (gateway/auth).
	auth auth.Stats
}
