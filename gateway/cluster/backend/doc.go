// Package backend is the broker's seams (gateway/broker/seams.go) over
// NATS (issue 15): what makes several edgemq nodes one broker. The root
// builds it when the configuration has a cluster section, around the
// node (gateway/cluster) and the broker, and gives the engine its
// Sessions, Publisher and Subscriptions in place of the broker's own.
//
// It owns:
//   - the Backend and its life (backend.go);
//   - interest-based routing: the NATS subscriptions that follow the
//     filters this node's sessions hold, reference-counted, applied by
//     one goroutine, and the wait for them before SUBACK (route*.go);
//   - the Publisher: a client's message routed locally and sent to
//     NATS, QoS 0 on core NATS, QoS 1 and 2 through the messages stream,
//     acknowledged once the stream stored it (route_publish.go; its
//     answers route_puback.go, their waiters route_acks*.go, a client's
//     publishes on one of the link's publish connections, when it has
//     any);
//   - ingress: messages of other nodes routed to this node's sessions,
//     once per session (route_ingress.go);
//   - shared subscriptions as NATS queue groups (shared.go), their QoS
//     1/2 messages handed out by a JetStream consumer of the group, each
//     confirmed once its member's record lists it (shared_durable.go);
//   - sessions across nodes (session*.go, takeover.go, replay.go,
//     outflight.go, will*.go, checkpoint.go, lapse.go): a record per
//     client id claimed by each CONNECT, the previous owner node asked to
//     close its client (0x8E, no will), the session carried on from the
//     record with its offline queue replayed from its cursor and its
//     deliveries in flight resumed as they stood (QoS 2 exactly once),
//     wills published once cluster-wide, a gone node's sessions claimed
//     by exactly one other, found through the owner index
//     (owner_index.go), and what its shared subscription members owed
//     handed to other members (shared.go); the records written for the
//     sessions that changed only, rechecked after an outage for those
//     that changed meanwhile (recheck.go); the replays' lag counted
//     (replay_lag.go);
//   - retained messages and health (retained*.go, health*.go): a
//     SUBSCRIBE waits for the retained mirror (retained_wait.go), the
//     admin API deletes cluster-wide (retained_remove.go).
//
// It may import, of ours: mqtt, configs, gateway/broker (and below),
// gateway/store, gateway/cluster, gateway/stats, gateway/logsafe and
// gateway/internal/lockorder; never the protocol side, auth, acl, the
// connection layer, admin, ops or the root.
package backend
