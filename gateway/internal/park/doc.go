// Package park lets an idle network connection go without a goroutine.
//
// A connection's reader goroutine that has nothing to read parks its
// Handle and returns: the socket is then watched in an epoll set of the
// Poller's own (the set's descriptor is itself watched by the runtime's
// poller, so no thread blocks in epoll_wait), and when bytes, an end of
// stream or an error arrive, or when another goroutine calls Wake (a
// kick, a takeover, a shutdown), or when the deadline given to Park
// passes (keep alive), the Handle's resume function runs on a new
// goroutine, which reads on.
//
// Parking and waking cost system calls and a goroutine start, so a busy
// connection should not park after every packet. The Poller's sweeper
// finds the connections that have been waiting for bytes for a whole idle
// period: a reader brackets each wait that may be cut short without
// losing bytes (nothing buffered above the socket, so that an interrupted
// read has consumed nothing) with BeginWait and EndWait, and the sweeper
// interrupts a wait that has lasted over an idle period by calling the
// Handle's nudge function, which sets the connection's read deadline in
// the past; EndWait then reports the nudge, and the reader parks.
//
// Only the goroutine that owns the connection (the one started by
// resume, or the one that made the Handle) calls BeginWait, EndWait, Park
// and Close; Wake may be called from any goroutine.
//
// Linux only: elsewhere Park refuses, and connections keep their reader
// goroutines as before.
//
// It imports, of ours, only gateway/internal/lockorder. Its lock classes
// (lockclass.go) are leaves: Poller.mu (parkPoller.mu) is taken alone,
// and a Handle's nudge mutex (parkHandle.nmu) is held only around the
// nudge function, which must take no lock of ours.
package park
