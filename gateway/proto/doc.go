// Package proto is the MQTT protocol side of the gateway, without
// sockets: the channel, the protocol state machine of one connection
// (Channel), and the engine all channels share (Engine).
//
// What it owns:
//   - the channel (channel.go, channel_client.go, channel_end.go, host.go):
//     packet handling of a connected client, the channel as the broker's
//     Client, how a connection ends (End), and what its host reads;
//   - the CONNECT pipeline (connect.go): validate, negotiate (negotiate.go:
//     Profile, Negotiated), authenticate (channel_auth.go, over
//     gateway/auth), authorize the will, open or take over the session,
//     CONNACK; MQTT 5 enhanced authentication (enhauth.go);
//   - the channel's side of ACL (acl.go, over gateway/acl), of session
//     ownership (owner.go: identities, owners, OwnerReads, the broker's
//     read check), of persistence (persist.go, persist_qos2.go,
//     persist_subs.go) and of retained quotas (retained_quota.go);
//   - the engine (engine.go): the broker and the seams the channels call
//     (Seams: a cluster backend replaces the broker's own through
//     EngineConfig.Seams), the authorizer in force (held by the broker's
//     read policy alone), the brute-force guard, the authentication caps,
//     the counters (Stats) and the connection-life logs (ConnLog);
//   - what a channel asks of its host (effects.go: Step, delays; timers.go:
//     TimerHost; clock.go: Clock) and how its packets look on the wire
//     (wire.go, encode.go, topicalias.go: Wire, outbound topic aliases).
//     Its packets go to an Outbound (outbound.go), the connection's write
//     queue in gateway/conn.
//
// It may import mqtt, configs, listeners, certs (a verified
// certificate's identity), gateway/broker/..., gateway/store (the stored
// form of a session owner and the longest retained topic),
// gateway/auth/..., gateway/acl, gateway/limits, gateway/stats,
// gateway/logsafe and gateway/internal/lockorder; never the gateway root,
// the connection layer (gateway/conn), gateway/admin or gateway/ops.
//
// It defines no lock classes: a channel's packet handling runs on its
// connection's goroutine; what other goroutines touch is atomic, or
// locked by the classes of the packages it calls (authExpiry.mu of
// gateway/auth, the broker's session.mu).
package proto
