package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ErrStale is returned by a revision-checked write that lost: another
// writer changed (or created, or deleted) the record since the revision
// the caller read. The caller no longer owns what the record says.
var ErrStale = errors.New("record changed by another writer")

// ErrNoRecord is returned by Records.Get for a key with no record.
var ErrNoRecord = errors.New("no record")

// Record is one KV record and the revision it was read at.
type Record struct {
	Value    []byte
	Revision uint64
}

// Records are revision-checked reads and writes of one KV bucket: the
// fencing of ownership records. Each write names the revision it expects
// and fails with ErrStale when the record moved on, so of two writers
// that read one revision exactly one succeeds. Safe for concurrent use.
type Records struct {
	kv jetstream.KeyValue
}

// NewRecords returns the records of bucket kv.
func NewRecords(kv jetstream.KeyValue) Records { return Records{kv: kv} }

// Get returns the record of key, or ErrNoRecord.
func (r Records) Get(ctx context.Context, key string) (Record, error) {
	e, err := r.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Record{}, ErrNoRecord
	}
	if err != nil {
		return Record{}, fmt.Errorf("reading record %s: %w", key, err)
	}
	return Record{Value: e.Value(), Revision: e.Revision()}, nil
}

// Create writes key's first record (or the first after a delete) and
// returns its revision; ErrStale when key has a record.
func (r Records) Create(ctx context.Context, key string, value []byte) (uint64, error) {
	var rev uint64
	err := settle(ctx, func() (err error) {
		rev, err = r.kv.Create(ctx, key, value)
		return err
	})
	if errors.Is(err, jetstream.ErrKeyExists) {
		return 0, fmt.Errorf("creating record %s: %w", key, ErrStale)
	}
	if err != nil {
		return 0, fmt.Errorf("creating record %s: %w", key, err)
	}
	return rev, nil
}

// Update replaces key's record if it is still at revision and returns
// the new revision; ErrStale otherwise.
func (r Records) Update(ctx context.Context, key string, value []byte, revision uint64) (uint64, error) {
	var rev uint64
	err := settle(ctx, func() (err error) {
		rev, err = r.kv.Update(ctx, key, value, revision)
		return err
	})
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyExists) {
		return 0, fmt.Errorf("updating record %s at %d: %w", key, revision, ErrStale)
	}
	if err != nil {
		return 0, fmt.Errorf("updating record %s at %d: %w", key, revision, err)
	}
	return rev, nil
}

// Delete removes key's record if it is still at revision; ErrStale
// otherwise.
func (r Records) Delete(ctx context.Context, key string, revision uint64) error {
	err := settle(ctx, func() error {
		return r.kv.Delete(ctx, key, jetstream.LastRevision(revision))
	})
	if isWrongLastSequence(err) {
		return fmt.Errorf("deleting record %s at %d: %w", key, revision, ErrStale)
	}
	if err != nil {
		return fmt.Errorf("deleting record %s at %d: %w", key, revision, err)
	}
	return nil
}

// isWrongLastSequence reports whether err is JetStream's refusal of a
// publish whose expected last sequence did not hold (10071, or 10164 on
// replicated streams).
func isWrongLastSequence(err error) bool {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	return apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant
}

// inProcess reports whether err is a replicated stream's refusal of a
// revision-checked write of a key whose earlier write it is still
// processing (10164). The stream answers a write before it is done with
// it, so a writer's next write of the key right after the answer may be
// refused so, on account of its own write: the refusal says nothing
// about the revision yet. A write that names a revision the key moved
// past is refused with 10071, in process or not.
func inProcess(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant
}

// Writes refused as in process are made again, inProcessAttempts times
// in all, after a pause of inProcessPause that doubles each time (127 ms
// in all): long enough for the stream to finish a write it has
// answered; a key kept busy longer than that is being written by others,
// and the last refusal is returned (ErrStale to the callers).
const (
	inProcessAttempts = 8
	inProcessPause    = time.Millisecond
)

// settle runs the revision-checked write until it is not refused as in
// process (inProcess), at most inProcessAttempts times and until ctx
// ends, and returns its last error.
func settle(ctx context.Context, write func() error) error {
	pause := inProcessPause
	for attempt := 1; ; attempt++ {
		err := write()
		if !inProcess(err) || attempt == inProcessAttempts {
			return err
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		pause *= 2
	}
}

// KV keys may hold only [-/_=.a-zA-Z0-9] and must not start or end with
// '.'. A client id may hold any UTF-8, so it is encoded: letters, digits,
// '-' and '_' stay, every other byte is '=' and two upper-case hex
// digits. The key is readable for plain ids and reversible for all.

// SessionKey returns the sessions bucket key of a client id.
func SessionKey(clientID string) string { return encodeKey(clientID) }

// NodeKey returns the nodes bucket key of a node name.
func NodeKey(node string) string { return encodeKey(node) }

// KeyName is the inverse of SessionKey and NodeKey.
func KeyName(key string) (string, error) { return decodeKey(key) }

func keyPlain(c byte) bool {
	return c == '-' || c == '_' || ('0' <= c && c <= '9') || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}

func encodeKey(s string) string {
	if s == "" {
		return "="
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if keyPlain(c) {
			b = append(b, c)
			continue
		}
		b = append(b, '=', hexDigits[c>>4], hexDigits[c&0xf])
	}
	return string(b)
}

func decodeKey(key string) (string, error) {
	if key == "=" {
		return "", nil
	}
	if key == "" {
		return "", errors.New("decoding key: empty")
	}
	b := make([]byte, 0, len(key))
	for i := 0; i < len(key); i++ {
		c := key[i]
		if keyPlain(c) {
			b = append(b, c)
			continue
		}
		if c != '=' || i+2 >= len(key) {
			return "", fmt.Errorf("decoding key %q: bad byte %#x at %d", key, c, i)
		}
		v, ok := unhex(key[i+1], key[i+2])
		if !ok || keyPlain(v) {
			return "", fmt.Errorf("decoding key %q: bad escape at %d", key, i)
		}
		b = append(b, v)
		i += 2
	}
	return string(b), nil
}
