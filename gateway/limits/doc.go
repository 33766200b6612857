// Package limits protects the gateway from more than it can take: the
// connection limits applied at accept, before authentication (Admission:
// caps, per-address and global connection rates, the unauthenticated
// sockets' high-water mark), the publish rate limits of connected clients
// (RateLimits, PubLimiter), and overload shedding (Overload: memory and
// goroutine high-water marks). Each keeps its own counters (refusals by
// reason, throttled publishes, overload refusals) with exported read
// methods for the metrics collector and Server.Stats.
//
// It may import the codec (mqtt), configs, listeners (Admission is the
// listeners' Gate and Ticket), gateway/stats, gateway/logsafe and
// gateway/internal/lockorder; never the channel, the broker or the root.
//
// Lock classes (lockclass.go): admission.mu guards Admission's counts,
// tables and configuration and is taken alone (its refusal log must take
// none of its locks); rateLimits.mu guards the per-listener counters of
// RateLimits and is taken alone. Overload holds atomics only.
package limits
