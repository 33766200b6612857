package gateway

import "edgemq/gateway/stats"

// engineStats is what the engine counts: the shared hot-path counters
// (package stats) and the counters of the concerns that still live in
// this package (takeovers are the broker's, broker.Takeovers).
type engineStats struct {
	stats.Counters
	// auth counts failed authentications (bruteforce.go).
	auth authStats
}
