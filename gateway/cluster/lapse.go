package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// LapseHandler hears of the other nodes' liveness (WatchLapses), on one
// goroutine, in order; it may block (the watch waits).
type LapseHandler interface {
	// Current is called once, with the nodes whose records are live when
	// the watch starts (self excluded), each with its incarnation: the
	// node incarnations missing from it held no session any more then.
	// A node may have started since (its record comes in later, as
	// updates): what it holds now is its own (LiveIncarnation tells).
	Current(live map[string]string)
	// Lapsed is called when node's record lapses (its TTL ran out) or is
	// deleted (a clean stop), after Current, with the incarnation the
	// record last named ("" when the watch never saw it written: any
	// incarnation but a live one).
	Lapsed(node, incarnation string)
}

// WatchLapses watches the nodes bucket until ctx ends (it returns nil
// then), telling h of the nodes other than self; an error when the
// watch cannot start or ends on its own.
func WatchLapses(ctx context.Context, nodes jetstream.KeyValue, self string, h LapseHandler) error {
	w, err := nodes.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("watching nodes: %w", err)
	}
	defer func() { _ = w.Stop() }()
	// live holds each live node's incarnation; last the incarnation each
	// node's record named when it was last written (lapsed ones too).
	live := make(map[string]string)
	last := make(map[string]string)
	current := false
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("watching nodes: the watch ended")
			}
			if e == nil { // the end of the current records
				if !current {
					current = true
					h.Current(live)
					live = nil
				}
				continue
			}
			node, err := KeyName(e.Key())
			if err != nil || node == self {
				continue
			}
			up := e.Operation() == jetstream.KeyValuePut
			if up {
				last[node] = incarnationOf(e.Value())
			}
			if !current {
				if up {
					live[node] = last[node]
				} else {
					delete(live, node)
				}
				continue
			}
			if !up {
				h.Lapsed(node, last[node])
			}
		}
	}
}

// incarnationOf returns the incarnation a liveness record's value names,
// "" when it cannot be read.
func incarnationOf(v []byte) string {
	var rec NodeRecord
	if err := json.Unmarshal(v, &rec); err != nil {
		return ""
	}
	return rec.Incarnation
}

// LiveIncarnation returns the incarnation node's liveness record in
// bucket nodes names, as the bucket's stream leader holds it (a replica
// may be behind), and whether the node has a live record: false when it
// lapsed, was deleted or was never written. An incarnation of "" is a
// record that does not say.
func LiveIncarnation(ctx context.Context, nc *nats.Conn, nodes jetstream.KeyValue, node string) (string, bool, error) {
	r, err := leaderGet(ctx, nc, nodes.Bucket(), NodeKey(node)) // records_latest.go
	switch {
	case errors.Is(err, ErrNoRecord):
		return "", false, nil
	case err != nil:
		return "", false, fmt.Errorf("reading the liveness of %s: %w", node, err)
	}
	return incarnationOf(r.Value), true, nil
}
