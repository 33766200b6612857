package cluster

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"time"

	"edgemq/mqtt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// SessionRecord is the value of a session's record in the sessions
// bucket: which node holds the session, and what another node needs to
// carry it on (its subscriptions, will, expiry, inbound QoS 2 state and
// the cursor into the messages stream its offline queue replays from).
//
// Nodes of two versions share the records during a rolling upgrade, so
// the record changes by these rules (EncodeSession, DecodeSession):
//
//   - Additive, same version byte: a new optional top-level field whose
//     absence means what the older versions do, and which may be left as
//     it was by a write of an older node. An older node reads such a
//     record, and every write of it that carries the session on (a
//     checkpoint, a takeover or claim that keeps the session, the claim
//     of a lapsed node's session) keeps the fields it does not know byte
//     for byte (KeepUnknown for a record built anew). A write that starts
//     the session afresh (clean start, or the session had expired) drops
//     them with the rest of the old session's state. So a new field must
//     hold state of its own, still right after an older node changed the
//     fields it knows (subscriptions, cursor, QoS state) underneath it,
//     or carry what tells the newer node it is stale (e.g. the Epoch it
//     was written at). Its JSON name must differ from every existing
//     one, ignoring case.
//   - A field added to a nested element (RecordSub, RecordOut,
//     RecordDone, RecordShared, RecordWill) is read by older nodes but
//     lost when they rebuild the element: it must be a hint that may be
//     lost, or be a new top-level field instead.
//   - Needs a version bump (sessionRecordVersion): removing or renaming a
//     field, changing a field's type or meaning, or a new field an older
//     node must not carry on unchanged. An older node refuses a record of
//     a newer version with a VersionError, never rewrites or deletes it,
//     and leaves the session to the nodes that read it: a CONNECT for it
//     there gets 0x88 Server unavailable, and a lapse leaves it (and its
//     owner index entry) to them. A bump is only safe once every node
//     reads the new version: ship the reading in one release, the writing
//     in the next.
type SessionRecord struct {
	// Owner is the node that holds the session: its client is connected
	// there (Connected), or it waits there offline.
	Owner string `json:"owner"`
	// Incarnation is the incarnation of Owner that claimed the session
	// (its liveness record's): a survivor of that incarnation's lapse
	// claims the session only while the record names it, never from a
	// later incarnation of the same node name (OwnerIndex).
	Incarnation string `json:"inc,omitempty"`
	// Epoch grows by one with each claim of the session, by any node.
	Epoch uint64 `json:"epoch"`
	// Connected says a client holds the session on Owner.
	Connected bool `json:"connected"`
	// Expiry is the Session Expiry Interval in seconds (0xFFFFFFFF:
	// never).
	Expiry uint32 `json:"expiry"`
	// Deadline is when an offline session ends; zero while connected
	// (the interval counts from the connection's end) or never.
	Deadline time.Time `json:"deadline,omitzero"`
	// Subs are the session's subscriptions, by filter.
	Subs []RecordSub `json:"subs,omitempty"`
	// Will is the will waiting for its delay, nil for none.
	Will *RecordWill `json:"will,omitempty"`
	// Rels are the inbound QoS 2 packet ids awaiting PUBREL.
	Rels []uint16 `json:"rels,omitempty"`
	// Out are the outbound QoS 1/2 deliveries in flight, in the order
	// they were first sent (RecordOut): the node that carries the
	// session on sends them again as they stood [MQTT-4.4.0-1].
	Out []RecordOut `json:"out,omitempty"`
	// Done are the messages above Cursor the session is done with
	// (acknowledged, PUBCOMP received, or dropped): out of order within
	// the inflight window, so the cursor could not pass them; the replay
	// skips them, so that a completed QoS 2 message is not sent again.
	Done []RecordDone `json:"done,omitempty"`
	// Shared are the QoS 1/2 messages that came to the session through
	// a shared subscription and that its client has not received (in
	// flight before PUBACK or PUBREC, or queued): when the node holding
	// the session dies, the node that claims it hands them to another
	// member of their group.
	Shared []RecordShared `json:"shared,omitempty"`
	// Cursor is a sequence of the messages stream: every message of the
	// session up to it was acknowledged by its client (or never was the
	// session's); the offline queue replays from Cursor+1.
	Cursor uint64 `json:"cursor"`
	// Identity is the broker's record of the session's owner identity,
	// opaque here.
	Identity json.RawMessage `json:"identity,omitempty"`

	// unknown are the fields of the record as read that this version
	// does not know (a newer node's), written back unchanged.
	unknown []rawField
}

// sessionRecordFields are the JSON names of SessionRecord's fields.
var sessionRecordFields = jsonFieldNames(reflect.TypeFor[SessionRecord]())

// KeepUnknown carries the fields of old this version does not know into
// r, a record built anew that carries old's session on: a newer node's
// state of the session survives this node's write. A nil old keeps none.
func (r *SessionRecord) KeepUnknown(old *SessionRecord) {
	if old != nil {
		r.unknown = old.unknown
	}
}

// HasUnknown reports whether r holds fields this version does not know.
func (r *SessionRecord) HasUnknown() bool { return len(r.unknown) > 0 }

// RecordSub is one subscription of a session record.
type RecordSub struct {
	Filter            string `json:"f"`
	QoS               byte   `json:"q,omitempty"`
	NoLocal           bool   `json:"nl,omitempty"`
	RetainAsPublished bool   `json:"rap,omitempty"`
	RetainHandling    byte   `json:"rh,omitempty"`
	ID                uint32 `json:"id,omitempty"`
}

// RecordOut is an outbound QoS 1/2 delivery in flight in a session
// record: its packet id, and whether it is past PUBREC (Rel: PUBREL
// sent; a QoS 2 PUBLISH that must never be sent again [MQTT-4.3.3-4]).
// Its message is the one of sequence Seq in the messages stream, or,
// when the holding node never learnt the sequence (the message was
// published on it and routed before the stream numbered it), the one
// whose Nats-Msg-Id is ID. Neither: only a Rel delivery, which needs no
// message.
type RecordOut struct {
	PID uint16 `json:"p"`
	QoS byte   `json:"q"`
	Rel bool   `json:"r,omitempty"`
	Seq uint64 `json:"s,omitempty"`
	ID  string `json:"id,omitempty"`
}

// RecordDone is a message of the messages stream a session is done
// with: by sequence, or by Nats-Msg-Id as in RecordOut.
type RecordDone struct {
	Seq uint64 `json:"s,omitempty"`
	ID  string `json:"id,omitempty"`
}

// RecordShared is a message a session owes through a shared
// subscription: the message of sequence Seq of the messages stream,
// through the group Share on Filter ("$share/{Share}/{Filter}").
type RecordShared struct {
	Share  string `json:"g"`
	Filter string `json:"f"`
	Seq    uint64 `json:"s"`
}

// RecordWill is a will in a session record: the will as an MQTT 5
// PUBLISH (the mqtt codec's encoding), its Will Delay Interval, and when
// it is due once the session's connection ended (zero while connected).
type RecordWill struct {
	Packet []byte    `json:"packet"`
	Delay  uint32    `json:"delay,omitempty"`
	Due    time.Time `json:"due,omitzero"`
	// ID names the will of one connection (NewWillID), so that the
	// nodes that may publish it store it once.
	ID string `json:"id,omitempty"`
}

// NewWillID returns a new, unique, RecordWill.ID.
func NewWillID() string {
	var b [12]byte
	_, _ = crand.Read(b[:]) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// sessionRecordVersion is the first byte of an encoded record: the
// newest version of the record's layout this node reads and the one it
// writes (SessionRecord says when it must grow).
const sessionRecordVersion = 1

// EncodeSession returns the bucket value of r: its version byte, then
// r as JSON, with the fields r was read with that this version does not
// know after the others, unchanged.
func EncodeSession(r *SessionRecord) ([]byte, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encoding session record: %w", err)
	}
	if b, err = appendUnknown(b, r.unknown); err != nil {
		return nil, fmt.Errorf("encoding session record: %w", err)
	}
	return append([]byte{sessionRecordVersion}, b...), nil
}

// DecodeSession is the inverse of EncodeSession. Fields it does not know
// are kept in the record (EncodeSession writes them back); a record of a
// newer version is refused with a *VersionError.
func DecodeSession(b []byte) (*SessionRecord, error) {
	switch {
	case len(b) == 0 || b[0] == 0:
		return nil, errors.New("decoding session record: no version")
	case b[0] > sessionRecordVersion:
		return nil, fmt.Errorf("decoding session record: %w", &VersionError{What: "session record", Version: b[0], Known: sessionRecordVersion})
	}
	var r SessionRecord
	if err := json.Unmarshal(b[1:], &r); err != nil {
		return nil, fmt.Errorf("decoding session record: %w", err)
	}
	unknown, err := unknownFields(b[1:], sessionRecordFields)
	if err != nil {
		return nil, fmt.Errorf("decoding session record: %w", err)
	}
	r.unknown = unknown
	return &r, nil
}

// NewRecordWill returns w as a record's will (its delay kept aside, not
// in the packet), due at due (zero: while connected).
func NewRecordWill(w *mqtt.Will, due time.Time) (*RecordWill, error) {
	pub := &mqtt.Publish{QoS: w.QoS, Retain: w.Retain, Topic: w.Topic, Payload: w.Payload, Properties: w.Properties}
	pub.Properties.Clear(mqtt.PropWillDelayInterval)
	if pub.QoS > 0 {
		pub.PacketID = 1 // the codec needs one; meaningless here
	}
	b, err := mqtt.AppendPublish(nil, pub, mqtt.V5)
	if err != nil {
		return nil, fmt.Errorf("encoding will: %w", err)
	}
	return &RecordWill{Packet: b, Delay: w.Properties.WillDelayInterval, Due: due}, nil
}

// Publish decodes the will as the PUBLISH it becomes (no Will Delay
// Interval, no packet id).
func (w *RecordWill) Publish() (*mqtt.Publish, error) {
	p, err := mqtt.ReadPacket(bytes.NewReader(w.Packet), mqtt.V5, 0)
	if err != nil {
		return nil, fmt.Errorf("decoding will: %w", err)
	}
	pub, ok := p.(*mqtt.Publish)
	if !ok {
		return nil, fmt.Errorf("decoding will: a %v, not a PUBLISH", p.Type())
	}
	pub.PacketID, pub.Dup = 0, false
	return pub, nil
}

// Will decodes the will as a client sent it, its delay restored.
func (w *RecordWill) Will() (*mqtt.Will, error) {
	p, err := w.Publish()
	if err != nil {
		return nil, err
	}
	will := &mqtt.Will{QoS: p.QoS, Retain: p.Retain, Topic: p.Topic, Payload: p.Payload, Properties: p.Properties}
	if w.Delay > 0 {
		will.Properties.SetUint32(mqtt.PropWillDelayInterval, w.Delay)
	}
	return will, nil
}

// SessionStore reads and writes session records, revision-checked
// (Records): a write that names a revision someone else moved on from
// fails with ErrStale, which fences a node that lost a session. Safe for
// concurrent use.
type SessionStore struct {
	recs Records
	kv   jetstream.KeyValue
}

// NewSessionStore returns the session records of bucket kv (the
// Sessions of a Layout).
func NewSessionStore(kv jetstream.KeyValue) SessionStore {
	return SessionStore{recs: NewRecords(kv), kv: kv}
}

// Get returns clientID's record and its revision, or ErrNoRecord.
func (s SessionStore) Get(ctx context.Context, clientID string) (*SessionRecord, uint64, error) {
	r, err := s.recs.Get(ctx, SessionKey(clientID))
	return decodeRecord(clientID, r, err)
}

// Latest returns clientID's record and its revision as the stream leader
// holds them (Records.Latest), or ErrNoRecord.
func (s SessionStore) Latest(ctx context.Context, nc *nats.Conn, clientID string) (*SessionRecord, uint64, error) {
	r, err := s.recs.Latest(ctx, nc, SessionKey(clientID))
	return decodeRecord(clientID, r, err)
}

// decodeRecord returns the session record clientID's read gave (r, or
// the read's error err) and its revision.
func decodeRecord(clientID string, r Record, err error) (*SessionRecord, uint64, error) {
	if err != nil {
		return nil, 0, err
	}
	rec, err := DecodeSession(r.Value)
	if err != nil {
		return nil, 0, fmt.Errorf("reading session %q: %w", clientID, err)
	}
	return rec, r.Revision, nil
}

// Put writes rec as clientID's record if it is still at rev (0: there is
// none) and returns the new revision; ErrStale otherwise.
func (s SessionStore) Put(ctx context.Context, clientID string, rec *SessionRecord, rev uint64) (uint64, error) {
	v, err := EncodeSession(rec)
	if err != nil {
		return 0, err
	}
	if rev == 0 {
		return s.recs.Create(ctx, SessionKey(clientID), v)
	}
	return s.recs.Update(ctx, SessionKey(clientID), v, rev)
}

// Delete removes clientID's record if it is still at rev; ErrStale
// otherwise.
func (s SessionStore) Delete(ctx context.Context, clientID string, rev uint64) error {
	return s.recs.Delete(ctx, SessionKey(clientID), rev)
}

// maxClaimRounds bounds the rounds of Claim: each lost round means
// another writer moved the record on meanwhile (or the read came from a
// replica that had not seen the last write yet: reads are direct gets).
const maxClaimRounds = 32

// claimPause is the pause after a lost round, times a random factor in
// [1, 2) and the round number: writers that keep colliding spread out.
const claimPause = 2 * time.Millisecond

// Claim reads clientID's record (nil when there is none), asks next for
// the record to write in its place and writes it, revision-checked,
// reading again and asking again when another writer came first. It
// returns the record it replaced (nil: none), the new revision, and
// ErrStale after maxClaimRounds lost rounds. next returning nil gives
// up: Claim returns the record read and revision 0, no error.
func (s SessionStore) Claim(ctx context.Context, clientID string, next func(old *SessionRecord) *SessionRecord) (prev *SessionRecord, rev uint64, err error) {
	for round := range maxClaimRounds {
		if round > 0 {
			pause := time.Duration(float64(claimPause) * float64(round) * (1 + rand.Float64()))
			select {
			case <-ctx.Done():
				return nil, 0, fmt.Errorf("claiming session %q: %w", clientID, ctx.Err())
			case <-time.After(pause):
			}
		}
		old, oldRev, err := s.Get(ctx, clientID)
		if errors.Is(err, ErrNoRecord) {
			old, oldRev, err = nil, 0, nil
		}
		if err != nil {
			return nil, 0, fmt.Errorf("claiming session %q: %w", clientID, err)
		}
		rec := next(old)
		if rec == nil {
			return old, 0, nil
		}
		rev, err := s.Put(ctx, clientID, rec, oldRev)
		if errors.Is(err, ErrStale) {
			continue
		}
		if err != nil {
			return nil, 0, fmt.Errorf("claiming session %q: %w", clientID, err)
		}
		return old, rev, nil
	}
	return nil, 0, fmt.Errorf("claiming session %q: %d rounds lost: %w", clientID, maxClaimRounds, ErrStale)
}

// OwnedBy returns the client ids and revisions of the records whose
// owner is node.
func (s SessionStore) OwnedBy(ctx context.Context, node string) (map[string]uint64, error) {
	return s.Select(ctx, func(rec *SessionRecord) bool { return rec.Owner == node })
}

// Select returns the client ids and revisions of the records keep
// reports true for. It reads every record: it is for the rare event of a
// node's lapse. A record of a newer version (VersionError) is skipped:
// it is left to the nodes that read it.
func (s SessionStore) Select(ctx context.Context, keep func(*SessionRecord) bool) (map[string]uint64, error) {
	lister, err := s.kv.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing sessions: %w", err)
	}
	defer func() { _ = lister.Stop() }()
	out := make(map[string]uint64)
	for key := range lister.Keys() {
		id, err := KeyName(key)
		if err != nil {
			continue
		}
		rec, rev, err := s.Get(ctx, id)
		var newer *VersionError
		if errors.Is(err, ErrNoRecord) || errors.As(err, &newer) {
			continue // gone, or a newer node's to read
		}
		if err != nil {
			return nil, fmt.Errorf("listing sessions: %w", err)
		}
		if keep(rec) {
			out[id] = rev
		}
	}
	return out, nil
}
