// Package proto is the MQTT protocol side of the gateway, without
// sockets: CONNECT validation and negotiation (Negotiated, the listener
// Profile), outbound topic aliases, and (moving here from the gateway
// root, issue 14) the channel, the protocol state machine of one
// connection, with its enhanced-authentication flow and its side of ACL,
// persistence and session ownership.
//
// It may import mqtt, configs, listeners, gateway/broker/...,
// gateway/auth/..., gateway/acl, gateway/limits, gateway/stats,
// gateway/logsafe and gateway/internal/lockorder; never the gateway root,
// the connection layer (gateway/conn), gateway/admin or gateway/ops.
//
// It defines no lock classes yet.
package proto
