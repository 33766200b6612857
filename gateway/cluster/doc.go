// Package cluster is the foundation of several edgemq nodes acting as one
// broker over NATS JetStream (issue 15): what the broker's cluster seams
// are built on, without depending on them.
//
// It owns:
//   - the reversible mapping between MQTT topics and NATS subjects, and
//     from topic filters to the subjects to subscribe to (subject.go);
//   - the embedded NATS server a node may run, clustered with the other
//     nodes' through routes, with JetStream storage under the data dir
//     (embedded.go), its logs sent through zap (natslog.go);
//   - the node's client connection to NATS, with a short ping and
//     unlimited reconnects, whose up/down state is observable (link.go),
//     and optionally a few more for the messages stream's publishes,
//     one per client id (link_publish.go; none by default);
//   - the JetStream layout: the sessions and liveness KV buckets and the
//     retained and messages streams, created idempotently (layout.go);
//   - revision-checked records, the fencing of ownership (records.go),
//     and the node's liveness record, renewed every heartbeat and lapsing
//     after its TTL (liveness.go);
//   - the node's membership as a whole, built from the configuration:
//     StartNode, Run, Close (node.go);
//   - the session record of a client id (owner node and incarnation,
//     epoch, subscriptions, will, cursor, and its QoS state: inbound QoS
//     2 ids, outbound deliveries in flight, messages done above the
//     cursor, messages owed through shared subscriptions), its codec and
//     its revision-checked claim (session_record.go), and the owner index
//     that lists a node incarnation's sessions without reading every
//     record (owner_index.go);
//   - the kick request/reply a node answers on its own subject when
//     another claimed one of its sessions (kick.go), and the watch of
//     the other nodes' lapses (lapse.go);
//   - the retained stream's value codec (mirror_codec.go) and its mirror:
//     one ordered consumer per node handing every topic's last retained
//     message, then each change, to a callback, reading it all again
//     when the link to NATS comes back (mirror.go);
//   - the questions every node answers about itself for the admin API's
//     cluster-wide views, asked of all at once (ask.go);
//   - the admin requests one node forwards to the node a client is
//     connected to (show, kick) or a session is held by (show, delete),
//     on that node's own subject, each answered on a goroutine of its
//     own, a bounded number at once (forward.go);
//   - the other live nodes' advertised MQTT addresses, read from their
//     liveness records, handed out as Server References (peers.go);
//   - mixed versions during a rolling upgrade: fields of a newer node's
//     records kept byte for byte, newer format versions refused with a
//     VersionError (compat.go), and a layout each version only adds to,
//     on a nats-server 2.11 or newer (layout_compat.go).
//
// Test helpers that start real NATS clusters, cut links and wait for
// interest live in gateway/cluster/clustertest.
//
// It may import, of ours: mqtt, configs, gateway/stats, gateway/logsafe
// and gateway/internal/lockorder. It defines no lock classes and takes no
// locks of its own: its state is immutable after construction or atomic.
package cluster
