// Package conn is the connection layer: the I/O of one client
// connection, under the protocol's channel (gateway/proto).
//
// What it owns:
//   - the connection (conn.go: Conn, Serve): the handshake under the
//     connect timeout (the checks before CONNECT is handled are its
//     Host's), the read loop with its lazy keep-alive deadline, the
//     delays and timers its channel asks for (conn_timers.go), and the
//     close with its linger;
//   - the write queue (writequeue.go, writequeue_pace.go): the bounded
//     outbound queue, its writer goroutine, the pace of paced deliveries,
//     the shared batch pool (BatchPool);
//   - the encoder (encoder.go): batches of packets encoded by the rules
//     of the channel's proto.Wire, large payloads referenced for writev;
//   - its side of the connection-life logs (connlog.go: accepted,
//     disconnected) and of publish rate limits (ratelimit.go: throttle);
//   - what the server reads of a connection (view.go: read-only, for the
//     admin API, the metrics and the drain);
//   - parking (park.go): an idle connection holds no goroutine; its
//     socket waits on the server's gateway/internal/park poller, and
//     bytes, its keep-alive deadline or a close from another goroutine
//     start its read loop again.
//
// The server it runs under is its Host, which the gateway root
// implements per listener; nothing here reaches the server otherwise.
//
// It may import mqtt, listeners, gateway/proto, gateway/broker,
// gateway/limits, gateway/stats, gateway/logsafe,
// gateway/internal/lockorder and gateway/internal/park; never the
// gateway root, gateway/admin or
// gateway/ops. Nothing but the root imports it.
//
// Lock classes (lockclass.go): writeQueue.mu, a leaf taken under
// session.mu or alone (LOCKS.md).
package conn
