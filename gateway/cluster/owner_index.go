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
// of its prefix once its sessions are claimed. Across versions (a rolling
// upgrade): a newer version may append tokens to a key, which an older
// node reads past (it needs the first four); a change to the first four
// needs another prefix than "own.".

import (
	"context"
	"errors"
	"fmt"
	"slices"
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
// subjects from the bucket's stream info (one request per page, no
// consumer), never a record. A key watcher (ListKeysFiltered) was used
// before: when its consumer's initial pending count could not be read,
// under load, it never sent its end marker, and the listing waited until
// ctx ended (TestLapseClaimsThroughOwnerIndex failed so in CI). Entries
// are removed by purging, which leaves no marker, so every subject the
// info lists is a live entry.
func (x *OwnerIndex) List(ctx context.Context, node, incarnation string) ([]IndexEntry, error) {
	st, err := x.bucketStream(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing the owner index: %w", err)
	}
	prefix := "$KV." + x.kv.Bucket() + "."
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(prefix+ownerFilter(node, incarnation)))
	if err != nil {
		return nil, fmt.Errorf("listing the owner index: %w", err)
	}
	out := make([]IndexEntry, 0, len(info.State.Subjects))
	for subj := range info.State.Subjects {
		if e, ok := parseIndexKey(strings.TrimPrefix(subj, prefix)); ok {
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b IndexEntry) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// parseIndexKey is the inverse of the key Add writes. Tokens after the
// fourth (a newer version's) are kept in the key and not read.
func parseIndexKey(key string) (IndexEntry, bool) {
	rest, ok := strings.CutPrefix(key, ownerIndexPrefix)
	if !ok {
		return IndexEntry{}, false
	}
	parts := strings.Split(rest, ".")
	if len(parts) < 4 {
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

// bucketStream returns the bucket's stream, looked up once.
func (x *OwnerIndex) bucketStream(ctx context.Context) (jetstream.Stream, error) {
	if st := x.stream.Load(); st != nil {
		return *st, nil
	}
	s, err := x.js.Stream(ctx, "KV_"+x.kv.Bucket())
	if err != nil {
		return nil, err
	}
	x.stream.Store(&s)
	return s, nil
}

// purge purges the bucket's subjects of the key filter f.
func (x *OwnerIndex) purge(ctx context.Context, f string) error {
	st, err := x.bucketStream(ctx)
	if err != nil {
		return fmt.Errorf("purging %s: %w", f, err)
	}
	if err := st.Purge(ctx, jetstream.WithPurgeSubject("$KV."+x.kv.Bucket()+"."+f)); err != nil {
		return fmt.Errorf("purging %s: %w", f, err)
	}
	return nil
}
