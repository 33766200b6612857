package cluster

// The owner index of the session records: so that a node's sessions can
// be listed without reading every record (a lapse of a node holding a
// third of 100,000 sessions), each node writes, before its claim of a
// session names it as the owner, a key of the sessions bucket
//
//	own.<node key>.<incarnation>.<session key>.<n>
//
// (n numbers the node's entries, so that removing an old entry never
// removes a newer one of the same session). The record stays the truth:
// an entry is a hint that the record may name that owner. Written before
// the claim and removed only after the record names another owner (or is
// gone), every record's owner has its entry; a stale entry (removal
// failed, or a claim lost) costs one read when its node lapses. Entries
// are removed by purging their subjects from the bucket's stream, which
// leaves no delete marker behind, and a lapsed incarnation's by one purge
// of its prefix once its sessions are claimed.

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/nats-io/nats.go/jetstream"
)

// ownerIndexPrefix begins every index key. A session key holds no '.',
// so no record key begins with it.
const ownerIndexPrefix = "own."

// OwnerIndex reads and writes the owner index of a sessions bucket. Safe
// for concurrent use.
type OwnerIndex struct {
	kv     jetstream.KeyValue
	js     jetstream.JetStream
	next   atomic.Uint64
	stream atomic.Pointer[jetstream.Stream]
}

// IndexEntry is one entry of the owner index.
type IndexEntry struct {
	// Key is the entry's key (Remove).
	Key string
	// Node and Incarnation are the owner it names, ClientID the session.
	Node, Incarnation, ClientID string
}

// NewOwnerIndex returns the owner index of the sessions bucket kv (the
// Sessions of a Layout), in js.
func NewOwnerIndex(js jetstream.JetStream, kv jetstream.KeyValue) *OwnerIndex {
	return &OwnerIndex{kv: kv, js: js}
}

// ownerFilter returns the key filter of node's incarnation's entries
// (incarnation "": all of node's; node "": everyone's).
func ownerFilter(node, incarnation string) string {
	switch {
	case node == "":
		return ownerIndexPrefix + ">"
	case incarnation == "":
		return ownerIndexPrefix + NodeKey(node) + ".>"
	}
	return ownerIndexPrefix + NodeKey(node) + "." + incarnation + ".>"
}

// Add writes an entry saying that node's incarnation may own clientID's
// record, and returns its key. Call it before the write that names the
// owner, and Remove the key once the record no longer does.
func (x *OwnerIndex) Add(ctx context.Context, node, incarnation, clientID string) (string, error) {
	if incarnation == "" || strings.ContainsAny(incarnation, ".*> ") {
		return "", fmt.Errorf("indexing session %q: bad incarnation %q", clientID, incarnation)
	}
	key := ownerIndexPrefix + NodeKey(node) + "." + incarnation + "." + SessionKey(clientID) + "." +
		strconv.FormatUint(x.next.Add(1), 36)
	if _, err := x.kv.Put(ctx, key, nil); err != nil {
		return "", fmt.Errorf("indexing session %q: %w", clientID, err)
	}
	return key, nil
}

// List returns the entries of node's incarnation (incarnation "": of
// every incarnation of node; node "": everyone's). It reads the entries'
// keys only, never a record.
func (x *OwnerIndex) List(ctx context.Context, node, incarnation string) ([]IndexEntry, error) {
	lister, err := x.kv.ListKeysFiltered(ctx, ownerFilter(node, incarnation))
	if errors.Is(err, jetstream.ErrNoKeysFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing the owner index: %w", err)
	}
	defer func() { _ = lister.Stop() }()
	var out []IndexEntry
	for key := range lister.Keys() {
		e, ok := parseIndexKey(key)
		if ok {
			out = append(out, e)
		}
	}
	if ctx.Err() != nil {
		return nil, fmt.Errorf("listing the owner index: %w", ctx.Err())
	}
	return out, nil
}

// parseIndexKey is the inverse of the key Add writes.
func parseIndexKey(key string) (IndexEntry, bool) {
	rest, ok := strings.CutPrefix(key, ownerIndexPrefix)
	if !ok {
		return IndexEntry{}, false
	}
	parts := strings.Split(rest, ".")
	if len(parts) != 4 {
		return IndexEntry{}, false
	}
	node, err := KeyName(parts[0])
	if err != nil {
		return IndexEntry{}, false
	}
	id, err := KeyName(parts[2])
	if err != nil {
		return IndexEntry{}, false
	}
	return IndexEntry{Key: key, Node: node, Incarnation: parts[1], ClientID: id}, true
}

// Remove deletes the entry of key, leaving no marker.
func (x *OwnerIndex) Remove(ctx context.Context, key string) error {
	return x.purge(ctx, key)
}

// RemoveOwner deletes every entry of node's incarnation, leaving no
// marker: once its lapse was handled.
func (x *OwnerIndex) RemoveOwner(ctx context.Context, node, incarnation string) error {
	if incarnation == "" {
		return errors.New("removing an owner's index: no incarnation")
	}
	return x.purge(ctx, ownerFilter(node, incarnation))
}

// purge purges the bucket's subjects of the key filter f.
func (x *OwnerIndex) purge(ctx context.Context, f string) error {
	st := x.stream.Load()
	if st == nil {
		s, err := x.js.Stream(ctx, "KV_"+x.kv.Bucket())
		if err != nil {
			return fmt.Errorf("purging %s: %w", f, err)
		}
		x.stream.Store(&s)
		st = &s
	}
	if err := (*st).Purge(ctx, jetstream.WithPurgeSubject("$KV."+x.kv.Bucket()+"."+f)); err != nil {
		return fmt.Errorf("purging %s: %w", f, err)
	}
	return nil
}
