// Package acl is authorization: what a connected client may publish and
// subscribe to. It owns the Authorizer seam and its ConnInfo, the static
// rule list of the acl section and of acl.file (NewStatic, LoadFile,
// WatchFile), the pairing of the configured authorizer with an embedding
// program's (Both), an authorizer in force (State: a new one for each
// change, held by the broker's read policy, broker.Reads, whose one
// counter numbers authorizer states and session owner views, so that
// cached read decisions are made again when either is replaced), the
// per-client view authorizers get (View), and one connection's cache of
// publish decisions (Client).
//
// The channel asks it about every SUBSCRIBE filter, inbound PUBLISH and
// will; the broker's delivery-time read check asks it, through an
// interface the broker declares, whether a session's owner may still
// read a subscription's filter (State.MayRead).
//
// It may import the codec (mqtt), configs, listeners (ConnInfo's
// Transport and the connection metadata of a View), gateway/filewatch
// and gateway/logsafe; never the broker, the channel or the root. It
// defines no lock classes: the authorizer in force is an atomic pointer
// and a Client belongs to one goroutine.
package acl
