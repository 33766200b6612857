// Package admin is the admin HTTP API of edgemq: JSON over HTTP on a
// listener of its own (admin.address, loopback by default), every request
// authenticated with a bearer token. Routes are under /api/v1: clients
// (list, show, kick), sessions (list, delete), retained messages (list,
// delete), publish, reload and drain. Errors are {"error": "..."} with
// 400 (bad input), 401 (no or wrong token, with WWW-Authenticate:
// Bearer; a token in the query string or a path with dot segments is a
// 400, guard.go), 404, 405 (with Allow), 409, 413 (body too large), 422
// (refused reload), 503 and 504 (a cluster node holding the client or
// session did not answer, clients_cluster.go, sessions_cluster.go).
//
// The API reads and acts on the server only through the narrow
// interfaces it declares in source.go — Clients, Sessions, Retained,
// Publisher and Control, and on a cluster node ClusterClients (the
// clients of every node, and a client of another node shown or kicked
// there, clients_cluster.go) and ClusterSessions (a session of another
// node shown or deleted there, sessions_cluster.go) — which small adapters of
// the gateway root implement. It never touches the server's connections, sessions or
// registry, and takes none of their locks: the implementations take
// theirs, each alone and briefly, and hand back copies. Publisher is the
// one that waits: for the message to be stored, as a client's PUBLISH is
// before its acknowledgement (POST /publish answers 503 when it is not);
// Sessions.DeleteSession and ClusterSessions wait too, for a kicked
// connection to release its session.
//
// It may import the codec (mqtt), configs, gateway/stats, the view types
// of gateway/broker, gateway/logsafe and gateway/acl (what a $SYS topic
// is). It defines no lock class.
package admin
