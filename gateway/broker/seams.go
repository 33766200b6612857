package broker

// The seams between the protocol side and the broker: what a connection
// asks of the broker, and what the broker tells a backend that follows it
// (a cluster). Each is a small interface whose contract is in its doc
// comment; *Broker is the in-process implementation of Sessions,
// Publisher and Subscriptions, NoInterest the in-process Interest, and a
// store.Store (store/bolt) the RetainedStore and SessionStore.

import (
	"context"
	"time"

	"edgemq/gateway/store"
	"edgemq/mqtt"
)

// Sessions is session ownership: a connection opens, resumes or takes
// over the session of its client id, and releases it when it ends. What
// "owner" means (a connection here; a node in a cluster) is the broker's
// business.
//
// Concurrency: safe for concurrent use; the caller holds none of the
// broker's locks. ctx: none, as nothing waits on I/O (the store only
// queues). Not found: Open creates a session that does not exist; Detach
// of a session the client no longer holds (taken over, ended) changes
// nothing but publishes a will without delay. Ordering: attach runs before
// any delivery can reach the client, so what it queues (CONNACK) goes
// first; then a resumed session's deliveries in flight go again, in their
// order.
type Sessions interface {
	// Open attaches req.Client to the session of req.ClientID: a new
	// one, the existing one resumed, or (req.Clean) a new one replacing
	// it [MQTT-3.1.2-4, MQTT-3.1.2-5]. attach runs under the session's
	// lock with whether a session was resumed (Session Present). Open
	// returns the session and the client that held it before, nil for
	// none, which the caller kicks with Session taken over
	// [MQTT-3.1.4-3] once it no longer needs the broker. A session owned
	// by another identity (owner binding strict) is left alone and Open
	// fails with an error of reason code Not authorized.
	Open(req OpenRequest, attach func(s *Session, present bool)) (s *Session, prev Client, err error)
	// Detach releases s from c when the connection ends, with the will to
	// publish (nil: none, or discarded by DISCONNECT): the session ends
	// now (expiry 0) or when its expiry passes [MQTT-3.1.2-23], the will
	// goes now or after its delay [MQTT-3.1.3-9].
	Detach(s *Session, c Client, will *mqtt.Will)
}

// Publisher hands an inbound message to the broker for routing (local
// sessions here; remote nodes later), with the completion that says when
// a QoS 1 or 2 message may be acknowledged.
//
// Concurrency: safe for concurrent use, from the publishers' read
// goroutines, holding none of the broker's locks (but the group Begin
// returned). ctx: none; routing never blocks on I/O. Ordering: the
// messages of one publisher are routed in the order RouteAt is called,
// and each subscriber receives them in that order [MQTT-4.6.0-6]. Not
// found: a message no subscription matches is routed to nobody (0).
type Publisher interface {
	// Begin starts the handling of one inbound PUBLISH: the store changes
	// queued until end is called (the QoS 2 id, every delivery routed)
	// commit together, all or none, so that a publisher's resend after a
	// crash is neither lost nor routed twice. end must be called, and
	// nothing may wait for a completion (AfterCommit) before it.
	Begin() (end func())
	// RouteAt routes m, read at now, to every matching session, storing
	// it first when retained [MQTT-3.3.1-5]; buf is the caller's scratch
	// space, reused between calls. It returns the number of sessions (and
	// shared subscription groups) it went to.
	RouteAt(m *Message, buf *[]Match, now time.Time) int
	// AfterCommit runs done once what was queued to the store so far is
	// committed: then a QoS 1 or 2 message routed before may be
	// acknowledged [MQTT-4.3.2-2, MQTT-4.3.3-8]. client is the client id
	// whose acknowledgement waits: a backend that tells its clients'
	// messages apart (a cluster's stream) may wait only for the messages
	// of client routed so far, not for other clients'; "" waits for
	// every one. The completions of one client run in the order
	// AfterCommit was called [MQTT-4.6.0-2, MQTT-4.6.0-3]. done gets the
	// store's error (nil: committed) on the store's goroutine or, for a
	// store that answers at once, the caller's; it must not block. It
	// reports false, calling nothing, when nothing waits for a store
	// (memory mode): the caller acknowledges at once.
	AfterCommit(client string, done func(error)) bool
	// Durable reports whether AfterCommit waits for a store: a caller
	// checks it first so that memory mode makes no completion.
	Durable() bool
	// CommitFailed counts and logs a completion that got an error, for
	// which the caller closes its connection without acknowledging.
	CommitFailed(err error)
	// AdmitRetained reports why a retained PUBLISH of topic with payload
	// bytes by the client id from would be refused, or -1.
	AdmitRetained(topic, from string, payload int) QuotaKind
}

// Subscriptions is how a connection changes its session's subscriptions.
//
// Concurrency: safe for concurrent use. Subscribe and RetainedSeq run
// inside Subscribing, which stops routing meanwhile; Unsubscribe runs
// outside it. ctx: none. Ordering: a message routed before Subscribing
// returns arrives through the subscription live or as retained, once.
// A SUBSCRIBE reads RetainedSeq once, after its last Subscribe and before
// it queues SUBACK: a backend whose subscriptions must reach elsewhere
// before SUBACK (a cluster's NATS interest) waits there, bounded. Not
// found: Unsubscribe of a filter the session does not hold reports
// false.
type Subscriptions interface {
	Subscribing(fn func() error) error
	Subscribe(s *Session, sub *Subscription) (existed, full bool)
	Unsubscribe(s *Session, filter string) bool
	RetainedSeq() uint64
}

// Interest hears which topic filters this broker needs: FilterAdded when
// a filter gets its first non-shared subscription, FilterRemoved when its
// last one goes (UNSUBSCRIBE, a session's end); GroupAdded when the
// shared subscription group share on filter (without "$share/{share}/")
// gets its first member, GroupRemoved when its last one goes. So a
// remote backend can follow which messages to bring to this node, and
// which groups this node has members of.
//
// Concurrency: called with router.mu held, one call at a time, in the
// order the trie changed: it must not block, must not call into the
// broker, and takes none of the gateway's locks (queue the event
// instead). ctx: none. Not found: never called for a filter or group that
// did not change. Ordering: for one filter, and for one group, Added and
// Removed alternate, Added first.
type Interest interface {
	FilterAdded(filter string)
	FilterRemoved(filter string)
	GroupAdded(share, filter string)
	GroupRemoved(share, filter string)
}

// NoInterest is the in-process Interest: one node needs nothing from
// others.
type NoInterest struct{}

// FilterAdded implements Interest.
func (NoInterest) FilterAdded(string) {}

// FilterRemoved implements Interest.
func (NoInterest) FilterRemoved(string) {}

// GroupAdded implements Interest.
func (NoInterest) GroupAdded(string, string) {}

// GroupRemoved implements Interest.
func (NoInterest) GroupRemoved(string, string) {}

// SessionStore is what the broker uses of a store.Store for sessions:
// Load at startup (Restore), Apply for every change (queued in change
// order under the lock of the state it describes), and Group for one
// inbound PUBLISH (Publisher.Begin). The contract is store.Store's:
// Apply and Group never block; done callbacks run as gateway/LOCKS.md
// says.
type SessionStore interface {
	Load(ctx context.Context) (*store.State, error)
	Apply(ops []store.Op, done func(error))
	Group() (end func())
}

// RetainedStore is what the broker uses of a store.Store for retained
// messages: Apply, under retainedStore.mu, for each message stored or
// deleted; they are loaded with the sessions (SessionStore.Load).
type RetainedStore interface {
	Apply(ops []store.Op, done func(error))
}

// The in-process implementations.
var (
	_ Sessions      = (*Broker)(nil)
	_ Publisher     = (*Broker)(nil)
	_ Subscriptions = (*Broker)(nil)
	_ Interest      = NoInterest{}
	_ SessionStore  = store.Store(nil)
	_ RetainedStore = store.Store(nil)
)
