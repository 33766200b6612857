// Package proto is the MQTT protocol side of the gateway, without
// sockets. Issue 14 moves the channel (the protocol state machine of one
// connection, with its CONNECT pipeline, enhanced-authentication flow and
// its side of ACL, persistence and session ownership) here from the
// gateway root; what it holds so far are the pieces the channel shares
// with its host:
//   - CONNECT validation and negotiation: the listener's Profile,
//     ValidateConnect, Negotiate, and what was agreed, Negotiated;
//   - Wire, the encoder settings the channel fixes while connecting, and
//     TopicAliases, the outbound topic alias policy;
//   - the channel's seams to its host: Outbound (the write queue),
//     TimerHost (the timers it asks for) and Clock (its time);
//   - End, how a connection ended, and Stats, the engine's counters.
//
// It may import mqtt, configs, listeners, gateway/broker/...,
// gateway/auth/..., gateway/acl, gateway/limits, gateway/stats,
// gateway/logsafe and gateway/internal/lockorder; never the gateway root,
// the connection layer (gateway/conn), gateway/admin or gateway/ops.
//
// It defines no lock classes yet.
package proto
