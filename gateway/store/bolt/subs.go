package bolt

// Subscriptions are stored one key each, (client id, SHA-256 of the
// filter), so that a SUBSCRIBE or UNSUBSCRIBE writes what it changes and
// nothing else: the work of one packet is bounded by the packet, not by
// the session (a filter may be longer than a bbolt key; its hash is not).
// The value is the subscription: qos (1), flags (1: no local 1, retain as
// published 2), retain handling (1), subscription id (4), filter.
//
// Stores of schema version 1 kept the subscriptions in the session's JSON
// record; Open moves them here once and marks the store version 2, which
// an edgemq that knows only version 1 refuses instead of losing them.

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"

	"edgemq/gateway/store"

	bbolt "go.etcd.io/bbolt"
)

var bSubs = []byte("subscriptions")

func subKey(id, filter string) []byte {
	h := sha256.Sum256([]byte(filter))
	return append(clientKey(id), h[:]...)
}

func encodeSub(s *store.Subscription) []byte {
	b := make([]byte, 0, 7+len(s.Filter))
	var flags byte
	if s.NoLocal {
		flags |= 1
	}
	if s.RetainAsPublished {
		flags |= 2
	}
	b = append(b, s.QoS, flags, s.RetainHandling)
	b = binary.BigEndian.AppendUint32(b, s.ID)
	return append(b, s.Filter...)
}

func decodeSub(v []byte) (store.Subscription, error) {
	if len(v) < 7 {
		return store.Subscription{}, fmt.Errorf("%w: subscription is truncated", store.ErrCorrupt)
	}
	return store.Subscription{QoS: v[0], NoLocal: v[1]&1 != 0, RetainAsPublished: v[1]&2 != 0,
		RetainHandling: v[2], ID: binary.BigEndian.Uint32(v[3:]), Filter: string(v[7:])}, nil
}

// putSubs stores subs of the client id.
func putSubs(tx *bbolt.Tx, id string, subs []store.Subscription) error {
	b := tx.Bucket(bSubs)
	for i := range subs {
		if err := b.Put(subKey(id, subs[i].Filter), encodeSub(&subs[i])); err != nil {
			return fmt.Errorf("storing subscription %.64q of %.64q: %w", subs[i].Filter, id, err)
		}
	}
	return nil
}

// deleteSubs removes the filters of the client id.
func deleteSubs(tx *bbolt.Tx, id string, filters []string) error {
	b := tx.Bucket(bSubs)
	for _, f := range filters {
		if err := b.Delete(subKey(id, f)); err != nil {
			return err
		}
	}
	return nil
}

// deleteAllSubs removes every subscription of the client id.
func deleteAllSubs(tx *bbolt.Tx, id string) error {
	b := tx.Bucket(bSubs)
	prefix := clientKey(id)
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Seek(prefix) {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// loadSubs adds the stored subscriptions to the sessions of idx.
func loadSubs(tx *bbolt.Tx, st *store.State, idx map[string]int) error {
	return tx.Bucket(bSubs).ForEach(func(k, v []byte) error {
		id, _, ok := splitKey(k, sha256.Size)
		if !ok {
			return fmt.Errorf("%w: subscription key %x", store.ErrCorrupt, k)
		}
		i, ok := idx[id]
		if !ok {
			return nil
		}
		s, err := decodeSub(v)
		if err != nil {
			return fmt.Errorf("subscription of %q: %w", id, err)
		}
		st.Sessions[i].Subs = append(st.Sessions[i].Subs, s)
		return nil
	})
}

// upgradeV1 moves the subscriptions kept in session records (schema
// version 1) to their own keys, rewriting each such record without them,
// and marks the store version 2. It runs in Open's transaction.
func upgradeV1(tx *bbolt.Tx, meta *bbolt.Bucket) error {
	if err := migrateSubs(tx); err != nil {
		return err
	}
	return meta.Put(kSchema, binary.BigEndian.AppendUint32(nil, SchemaVersion))
}

func migrateSubs(tx *bbolt.Tx) error {
	sb := tx.Bucket(bSessions)
	type moved struct {
		key []byte
		rec store.Session
	}
	var todo []moved
	err := sb.ForEach(func(k, v []byte) error {
		var s store.Session
		if err := json.Unmarshal(v, &s); err != nil {
			return fmt.Errorf("%w: session %q: %v", store.ErrCorrupt, k, err)
		}
		if len(s.Subs) > 0 {
			todo = append(todo, moved{bytes.Clone(k), s})
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, m := range todo {
		if err := putSubs(tx, m.rec.ClientID, m.rec.Subs); err != nil {
			return err
		}
		m.rec.Subs = nil
		v, err := json.Marshal(&m.rec)
		if err != nil {
			return err
		}
		if err := sb.Put(m.key, v); err != nil {
			return err
		}
	}
	return nil
}
