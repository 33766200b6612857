// Package store is the persistence interface of the gateway: what a
// session, its in-flight and queued messages and the retained messages
// look like on disk, independent of the engine that writes them (the
// embedded bbolt store in store/bolt; a cluster store later).
//
// Concurrency: a Store is safe for concurrent use. Apply only queues its
// operations: it never blocks on I/O. Operations are applied in the order
// Apply was called (across all callers); a caller that needs an order
// between its own operations calls Apply in that order, e.g. while holding
// the lock of the state they describe. done runs once every operation
// queued up to and including this call is stored as the store's durability
// promises (on disk for a synchronous store). It runs on the store's
// goroutine, or, when the store answers at once (an asynchronous store,
// a closed one), inside Apply on the caller's goroutine under the
// caller's locks; either way it must not block or take locks that an
// Apply caller may hold while calling Apply (gateway/LOCKS.md).
//
// Failures: an operation the store cannot hold (see the limits below)
// fails its own Apply call only: that call's operations are left out (all
// of them), done of that call gets the error, and every other call in the
// same commit is stored as if it had not been there. A failure of the
// commit itself (I/O) fails every call in it. Callers check the limits
// before Apply so that a refusal reaches the client that caused it.
//
// Not found: deleting what does not exist is not an error. A Delivery or
// Rel for a session that does not exist is stored anyway; Load returns
// only those of sessions it returns.
package store

import (
	"context"
	"errors"
	"time"
)

// Store keeps the gateway's persistent state.
type Store interface {
	// Load returns everything stored, for startup. It runs before any
	// Apply.
	Load(ctx context.Context) (*State, error)
	// Apply queues ops, then done (may be nil), see the package comment.
	// ops must not be modified after the call. It never blocks, so it
	// takes no context.
	Apply(ops []Op, done func(error))
	// Group starts a group: the operations queued (by any goroutine) until
	// end is called are committed in one transaction, all or none. Groups
	// do not nest on one goroutine; they are short (no I/O inside), and
	// never wait for a done callback: a store may need the group ended to
	// commit.
	Group() (end func())
	// Close writes what is queued and releases the store.
	Close() error
}

// Limits every Store holds: a retained topic of up to MaxRetainedTopic
// bytes and a client id of up to MaxClientID bytes. The engine refuses
// longer ones before they reach the store.
const (
	MaxRetainedTopic = 32768
	MaxClientID      = 32000
)

// ErrTooLarge wraps the error of an operation over the limits.
var ErrTooLarge = errors.New("too large for the store")

// ErrCorrupt wraps the errors of a store that cannot be read.
var ErrCorrupt = errors.New("store is corrupt or unreadable")

// ErrVersion wraps the error of a store of another schema version.
var ErrVersion = errors.New("store has an unsupported schema version")

// State is what Load returns.
type State struct {
	Sessions []Session
	Retained []Message
}

// Session is a persistent session (Session Expiry Interval above 0).
type Session struct {
	ClientID string
	// Expiry is the Session Expiry Interval in seconds.
	Expiry uint32
	// Deadline is when the session ends without a connection; zero while a
	// client is connected (the expiry then counts from the restart) or when
	// it never expires.
	Deadline time.Time
	// Subs are filled by Load. On PutSession they are added as by
	// PutSubscriptions (none: the stored ones stay as they are).
	Subs []Subscription
	// Will waits for WillDeadline (zero: the will of a connected client,
	// whose delay counts from the restart).
	Will         *Message
	WillDelay    uint32
	WillDeadline time.Time
	NextPID      uint16
	// Owner is the identity the session is bound to. It is nil in records
	// written before sessions had owners: the engine lets the first
	// identity that connects take such a session (and binds it then).
	Owner *Owner `json:",omitempty"`
	// Deliveries and Rels are filled by Load.
	Deliveries []Delivery
	Rels       []uint16
}

// Owner is who a session belongs to: the identity that binds it and what
// the ACL needs to judge its deliveries while it has no connection.
type Owner struct {
	// Identity is "user:<name>", "cert:<identity>" or
	// "anonymous:<listener>".
	Identity     string
	Listener     string
	Username     string
	HasUsername  bool
	CertIdentity string
	// Claims are the owner's credential's ACL claims, nil for none.
	Claims *ACLClaims `json:",omitempty"`
}

// ACLClaims are the topic filters a credential allows.
type ACLClaims struct {
	Pub []string
	Sub []string
}

// Subscription is one filter of a session.
type Subscription struct {
	Filter            string
	QoS               byte
	NoLocal           bool
	RetainAsPublished bool
	RetainHandling    byte
	ID                uint32
}

// Message is an application message. ID identifies it for Delivery
// references: stored once however many deliveries refer to it.
type Message struct {
	ID      uint64
	From    string
	Expires time.Time // zero: never
	// Packet is the message as an encoded MQTT 5 PUBLISH (the engine's
	// encoding; opaque to the store).
	Packet []byte
}

// Delivery states.
const (
	Pending         byte = iota // queued, no packet id
	AwaitingPuback              // QoS 1 sent
	AwaitingPubrec              // QoS 2 sent
	AwaitingPubcomp             // QoS 2 PUBREL sent
)

// Delivery is one message on its way to one session, pending or in
// flight.
type Delivery struct {
	// Seq orders a session's deliveries and identifies one.
	Seq    uint64
	Msg    Message // on Load; on Put only Msg.ID when the message is stored already
	QoS    byte
	Retain bool
	SubIDs []uint32
	PID    uint16
	State  byte
	Share  string // "$share/name/filter" of a shared subscription, or ""
}

// OpKind is what an Op does.
type OpKind byte

const (
	// PutSession stores Session (without Deliveries and Rels), replacing it.
	PutSession OpKind = iota + 1
	// DeleteSession removes ClientID's session, subscriptions, deliveries
	// and rels.
	DeleteSession
	// PutDelivery stores Delivery of ClientID, replacing the one with its
	// Seq; Delivery.Msg is stored when new (by ID) and referenced.
	PutDelivery
	// DeleteDelivery removes the delivery Seq of ClientID.
	DeleteDelivery
	// PutRel records the inbound QoS 2 packet id PID awaiting PUBREL.
	PutRel
	// DeleteRel removes it.
	DeleteRel
	// PutRetained stores Retained for its topic (Topic), replacing it.
	PutRetained
	// DeleteRetained removes Topic's retained message.
	DeleteRetained
	// PutSubscriptions stores Subs of ClientID, each replacing the one
	// with its filter: one write per SUBSCRIBE, whatever the session holds.
	PutSubscriptions
	// DeleteSubscriptions removes the subscriptions of ClientID whose
	// filters are Filters.
	DeleteSubscriptions
)

// Op is one change.
type Op struct {
	Kind     OpKind
	ClientID string
	Session  *Session
	Delivery *Delivery
	Seq      uint64
	PID      uint16
	Topic    string
	Retained *Message
	Subs     []Subscription // PutSubscriptions
	Filters  []string       // DeleteSubscriptions
}
