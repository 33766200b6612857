package backend

// This node's side of the owner index (cluster.OwnerIndex): an entry
// written before each claim that names this node as a session's owner
// (Open, lapse.go), removed once the node lets the session go (drop, a
// kick). Removals are queued and made by one goroutine (unindexing): an
// entry's key is never reused once queued, so a late removal cannot
// take away a newer claim's entry.

import (
	"context"
	"slices"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// incarnation returns the incarnation this node's claims name.
func (s *Sessions) incarnation() string { return s.o.Incarnation() }

// indexFor returns the key of this node's index entry of id for
// incarnation inc: the entry the session has here already, or a new one
// (fresh) written now.
func (s *Sessions) indexFor(ctx context.Context, id, inc string) (key string, fresh bool, err error) {
	s.mu.Lock()
	o := s.owned[id]
	if o != nil && o.index != "" && o.rec.Incarnation == inc {
		key = o.index
	}
	s.mu.Unlock()
	if key != "" {
		return key, false, nil
	}
	key, err = s.index.Add(ctx, s.o.Node, inc, id)
	return key, err == nil, err
}

// unindex queues the removal of this node's index entry key ("": none).
// It takes no lock.
func (s *Sessions) unindex(key string) {
	if key != "" {
		s.unindexed.push(key)
	}
}

// markDirty queues id's session for the next checkpoint. It takes no
// lock.
func (s *Sessions) markDirty(id string) { s.dirty.push(id) }

// unindexWrite bounds one removal.
const unindexWrite = 2 * time.Second

// unindexing removes the queued index entries, every Checkpoint, until
// ctx ends. A removal that fails leaves a stale entry: it costs one
// record read when this node lapses.
func (s *Sessions) unindexing(ctx context.Context) {
	t := time.NewTicker(s.o.Checkpoint)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !s.o.Up() {
			continue
		}
		for _, key := range s.unindexed.take() {
			rctx, cancel := context.WithTimeout(ctx, unindexWrite)
			err := s.index.Remove(rctx, key)
			cancel()
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				s.o.Log.Debug("removing an owner index entry failed", zap.String("key", key), zap.Error(err))
			}
		}
	}
}

// keyQueue is a lock-free queue of keys: push from anywhere, under any
// lock (it takes none, and never blocks), take everything at once.
type keyQueue struct {
	head atomic.Pointer[keyNode]
}

type keyNode struct {
	key  string
	next *keyNode
}

func (q *keyQueue) push(key string) {
	n := &keyNode{key: key}
	for {
		h := q.head.Load()
		n.next = h
		if q.head.CompareAndSwap(h, n) {
			return
		}
	}
}

// take empties the queue and returns its keys, oldest first, each once.
func (q *keyQueue) take() []string {
	var out []string
	for n := q.head.Swap(nil); n != nil; n = n.next {
		out = append(out, n.key)
	}
	slices.Reverse(out)
	seen := make(map[string]struct{}, len(out))
	keep := out[:0]
	for _, k := range out {
		if _, ok := seen[k]; !ok {
			seen[k] = struct{}{}
			keep = append(keep, k)
		}
	}
	return keep
}
