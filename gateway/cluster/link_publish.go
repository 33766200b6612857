package cluster

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"
)

// The messages stream's publishes go on a few connections of their own,
// beside the link's: nats.go holds a connection's lock while its flusher
// writes to the socket, and every publish takes it, so with one
// connection every client's QoS 1/2 PUBLISH (and the sessions' records,
// the liveness renewals, the ingress subscriptions) queues behind one
// lock; on a loaded machine its holder is descheduled and a convoy forms
// (cmd/edgemq-bench/BENCHMARKS.md, the cluster section). A publish goes
// on the connection its key (the client id) hashes to, always the same
// one for a key, so that one client's publishes reach the stream in the
// order it sent them, and its acknowledgements keep that order
// [MQTT-4.6.0-2], [MQTT-4.6.0-3].
//
// The publish connections have the link's servers, TLS, credentials,
// pings and reconnects, but not its up and down events: the link's own
// connection decides whether the node serves. A publish connection that
// is down while the link is up holds its publishes in the NATS client's
// reconnect buffer; the stream does not answer them in time and they
// are not acknowledged.

// DefaultPublishConns is how many publish connections a node's link
// opens (LinkOptions.PublishConns).
const DefaultPublishConns = 4

// openPublishConns opens o.PublishConns connections for the stream's
// publishes, within ctx.
func (o LinkOptions) openPublishConns(ctx context.Context, log *zap.Logger) ([]*nats.Conn, error) {
	var conns []*nats.Conn
	for i := range o.PublishConns {
		opts, err := o.clientOptions()
		if err != nil {
			closeAll(conns)
			return nil, err
		}
		connected := make(chan struct{})
		var first bool
		opts = append(opts,
			nats.Name(fmt.Sprintf("%s publish %d", o.Name, i+1)),
			nats.ConnectHandler(func(*nats.Conn) {
				// The client calls its handlers on one goroutine.
				if !first {
					first = true
					close(connected)
				}
			}),
			nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
				log.Debug("nats publish connection down", zap.Int("conn", i+1), zap.Error(err))
			}),
		)
		nc, err := dial(ctx, o.URLs, opts, connected)
		if err != nil {
			closeAll(conns)
			return nil, fmt.Errorf("opening publish connection %d: %w", i+1, err)
		}
		conns = append(conns, nc)
	}
	return conns, nil
}

func closeAll(conns []*nats.Conn) {
	for _, nc := range conns {
		nc.Close()
	}
}

// PublishConn returns the connection for the messages stream's
// publishes of key (a client id): the same one for a key as long as the
// link lives. It is the link's own connection when it has no publish
// connections. Answers may be subscribed to on any of the link's
// connections.
func (l *Link) PublishConn(key string) *nats.Conn {
	if len(l.pubs) == 0 {
		return l.nc
	}
	// FNV-1a.
	h := uint32(2166136261)
	for i := 0; i < len(key); i++ {
		h ^= uint32(key[i])
		h *= 16777619
	}
	return l.pubs[h%uint32(len(l.pubs))]
}

// closePublishConns flushes the publish connections within ctx's
// deadline, then closes them.
func (l *Link) closePublishConns(ctx context.Context) {
	for _, nc := range l.pubs {
		if deadline, ok := ctx.Deadline(); ok {
			if d := time.Until(deadline); d > 0 {
				_ = nc.FlushTimeout(d)
			}
		}
		nc.Close()
	}
}
