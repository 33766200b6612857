// Package broker holds the broker state of the gateway: sessions and
// their registry (ownership, takeover, expiry, wills), delivery (the
// inflight window, the pending queue, redelivery on resume), routing,
// shared subscriptions, retained messages (store, cursor, paced feed,
// quotas), $SYS publishing, the persistence glue to a store.Store, and
// the per-client quotas.
//
// It may import mqtt, gateway/store, gateway/broker/..., gateway/stats,
// gateway/logsafe and gateway/internal/lockorder; never the protocol
// side (proto), auth or acl. What it needs of those it declares here
// and they implement: Client and Queue (the connection that holds a
// session, client.go), ReadChecker (the owner's read permission,
// owner.go) and Clock (the time of routing, clock.go).
//
// Seams (seams.go): the protocol side reaches broker state only through
// Sessions (ownership), Publisher (routing with a store completion),
// Interest (filters a node needs), RetainedStore and SessionStore (the
// subsets of store.Store the broker uses), and the methods of *Session.
//
// Lock classes it defines (lockclass.go): engine.order, registry.mu,
// session.mu, router.mu, retainedStore.mu, takeoverStats.mu, quotas.mu.
// Their order with the others is gateway/LOCKS.md.
package broker
