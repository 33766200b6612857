package cluster

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// LapseHandler hears of the other nodes' liveness (WatchLapses), on one
// goroutine, in order; it may block (the watch waits).
type LapseHandler interface {
	// Current is called once, with the nodes whose records are live when
	// the watch starts (self excluded): the nodes missing from it hold
	// no session any more.
	Current(live map[string]bool)
	// Lapsed is called when node's record lapses (its TTL ran out) or is
	// deleted (a clean stop), after Current.
	Lapsed(node string)
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
	live := make(map[string]bool)
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
				}
				continue
			}
			node, err := KeyName(e.Key())
			if err != nil || node == self {
				continue
			}
			up := e.Operation() == jetstream.KeyValuePut
			if !current {
				if up {
					live[node] = true
				} else {
					delete(live, node)
				}
				continue
			}
			if !up {
				h.Lapsed(node)
			}
		}
	}
}
