// Package bruteforce is brute-force protection: every failed authentication (CONNECT refused by
// the authenticators or an enhanced method, failed re-authentication) is
// counted per remote address and per user name, and the refusal is held
// back by a delay that doubles with each failure of either (the larger
// count decides), from auth.brute_force.initial_delay up to max_delay.
// Counts are forgotten after reset_after without a failure. The delay is
// a timer on the failing connection's own goroutine, bounded by its
// connect deadline: no lock is held while waiting, and other clients are
// not slowed. Memory is bounded: each table keeps the max_entries most
// recently failed keys (an LRU).
//
// Guard holds those counts; the channel waits out the delays it returns.
//
// It may import configs and gateway/internal/lockorder.
//
// Lock class: bruteGuard.mu (Guard; a leaf).
package bruteforce
