package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// The JetStream layout of a cluster: two KV buckets and two streams,
// whatever the number of sessions or subscriptions (no consumer per
// session or subscription).
const (
	// SessionsBucket holds one record per persistent session, keyed by
	// SessionKey(client id).
	SessionsBucket = "EMQ_SESSIONS"
	// NodesBucket holds one liveness record per node, keyed by
	// NodeKey(node), each with its own TTL.
	NodesBucket = "EMQ_NODES"
	// RetainedStream keeps the last message of each RetainedSubject.
	RetainedStream = "EMQ_RETAINED"
	// MessagesStream stores QoS 1 and 2 publishes (DurableSubject) and
	// republishes each to its live subject with its sequence in the
	// Nats-Sequence header, the cursor sessions replay from.
	MessagesStream = "EMQ_MESSAGES"
)

// LayoutOptions size the layout.
type LayoutOptions struct {
	// Replicas of every stream and bucket (1 to 5).
	Replicas int
	// DuplicateWindow is how long the messages stream remembers a
	// Nats-Msg-Id, so that a retransmitted PUBLISH is stored once;
	// 0 means 2 minutes.
	DuplicateWindow time.Duration
	// MessagesMaxAge bounds how long a stored message is kept for
	// sessions that have not read it; 0 means 24 hours.
	MessagesMaxAge time.Duration
	// MarkerTTL is how long the nodes bucket keeps the marker of a lapsed
	// record; 0 means 10 minutes.
	MarkerTTL time.Duration
}

// Layout is the cluster's JetStream state.
type Layout struct {
	// Sessions is the sessions bucket.
	Sessions jetstream.KeyValue
	// Nodes is the liveness bucket.
	Nodes jetstream.KeyValue
	// Retained is the retained stream.
	Retained jetstream.Stream
	// Messages is the messages stream.
	Messages jetstream.Stream
}

// withDefaults fills o's zero durations.
func (o LayoutOptions) withDefaults() LayoutOptions {
	if o.DuplicateWindow == 0 {
		o.DuplicateWindow = 2 * time.Minute
	}
	if o.MessagesMaxAge == 0 {
		o.MessagesMaxAge = 24 * time.Hour
	}
	if o.MarkerTTL == 0 {
		o.MarkerTTL = 10 * time.Minute
	}
	if o.Replicas == 0 {
		o.Replicas = 1
	}
	return o
}

// StreamConfigs returns the configurations of the two streams.
func (o LayoutOptions) StreamConfigs() (retained, messages jetstream.StreamConfig) {
	o = o.withDefaults()
	retained = jetstream.StreamConfig{
		Name:              RetainedStream,
		Description:       "edgemq retained messages: the last of each topic",
		Subjects:          []string{RetainedPrefix + ">"},
		Storage:           jetstream.FileStorage,
		Replicas:          o.Replicas,
		MaxMsgsPerSubject: 1,
		Discard:           jetstream.DiscardOld,
		AllowDirect:       true,
		AllowRollup:       true,
		Duplicates:        o.DuplicateWindow,
		// Deletions and messages with an expiry carry a Nats-TTL
		// (backend/retained.go).
		AllowMsgTTL: true,
	}
	messages = jetstream.StreamConfig{
		Name:        MessagesStream,
		Description: "edgemq QoS 1 and 2 messages, republished to their live subjects",
		Subjects:    []string{DurablePrefix + ">"},
		Storage:     jetstream.FileStorage,
		Replicas:    o.Replicas,
		Discard:     jetstream.DiscardOld,
		MaxAge:      o.MessagesMaxAge,
		Duplicates:  o.DuplicateWindow,
		AllowDirect: true,
		RePublish: &jetstream.RePublish{
			Source:      DurablePrefix + ">",
			Destination: LivePrefix + ">",
		},
	}
	return retained, messages
}

// BucketConfigs returns the configurations of the two buckets.
func (o LayoutOptions) BucketConfigs() (sessions, nodes jetstream.KeyValueConfig) {
	o = o.withDefaults()
	sessions = jetstream.KeyValueConfig{
		Bucket:      SessionsBucket,
		Description: "edgemq sessions: owner, epoch, subscriptions, will, cursor",
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    o.Replicas,
	}
	nodes = jetstream.KeyValueConfig{
		Bucket:         NodesBucket,
		Description:    "edgemq node liveness: each record lapses after its TTL",
		History:        1,
		Storage:        jetstream.FileStorage,
		Replicas:       o.Replicas,
		LimitMarkerTTL: o.MarkerTTL,
	}
	return sessions, nodes
}

// bucketNeeds returns what this version needs of the streams of the two
// buckets where they exist (reconcile): the configured replicas, and the
// nodes bucket's per-key TTLs with its markers kept at least MarkerTTL.
func (o LayoutOptions) bucketNeeds() (sessions, nodes jetstream.StreamConfig) {
	o = o.withDefaults()
	sessions = jetstream.StreamConfig{Name: "KV_" + SessionsBucket, Replicas: o.Replicas}
	nodes = jetstream.StreamConfig{Name: "KV_" + NodesBucket, Replicas: o.Replicas, AllowMsgTTL: true, SubjectDeleteMarkerTTL: o.MarkerTTL}
	return sessions, nodes
}

// EnsureLayout creates the buckets and streams, or, where they exist,
// brings them to what this version needs without undoing what another
// version set (layout_compat.go: idempotent, and versions agree; every
// node runs it at start). It needs a server with per-message TTLs (2.11
// or newer) and fails with a *ServerVersionError on an older one. Nodes
// running it at the same time may see a request go unanswered until ctx
// ends (see layoutAttempt): bound it and retry, as StartNode does.
func EnsureLayout(ctx context.Context, js jetstream.JetStream, o LayoutOptions) (*Layout, error) {
	version := js.Conn().ConnectedServerVersion()
	if err := checkServerVersion(version); err != nil {
		return nil, fmt.Errorf("creating the jetstream layout: %w", err)
	}
	var l Layout
	sessions, nodes := o.BucketConfigs()
	sessionsNeed, nodesNeed := o.bucketNeeds()
	retained, messages := o.StreamConfigs()
	// The four are independent: created side by side, so that a request
	// left unanswered costs one wait, not one each.
	errs := make([]error, 4)
	var wg sync.WaitGroup
	bucket := func(i int, cfg jetstream.KeyValueConfig, need jetstream.StreamConfig, kv *jetstream.KeyValue, check func(jetstream.Stream) error) {
		st, err := ensureStream(ctx, js, need, func(ctx context.Context) error {
			_, err := js.CreateKeyValue(ctx, cfg)
			return err
		})
		if errors.Is(err, jetstream.ErrLimitMarkerTTLNotSupported) {
			err = &ServerVersionError{Version: version, Lacks: "per-key TTLs (JetStream API level 1)"}
		}
		if err == nil && check != nil {
			err = check(st)
		}
		if err == nil {
			*kv, err = js.KeyValue(ctx, cfg.Bucket)
		}
		if err != nil {
			errs[i] = fmt.Errorf("creating bucket %s: %w", cfg.Bucket, err)
		}
	}
	stream := func(i int, cfg jetstream.StreamConfig, st *jetstream.Stream, check func(jetstream.Stream) error) {
		var err error
		*st, err = ensureStream(ctx, js, cfg, func(ctx context.Context) error {
			_, err := js.CreateStream(ctx, cfg)
			return err
		})
		if err == nil && check != nil {
			err = check(*st)
		}
		if err != nil {
			errs[i] = fmt.Errorf("creating stream %s: %w", cfg.Name, err)
		}
	}
	msgTTL := func(st jetstream.Stream) error { return needMsgTTL(st, version) }
	wg.Go(func() { bucket(0, sessions, sessionsNeed, &l.Sessions, nil) })
	wg.Go(func() { bucket(1, nodes, nodesNeed, &l.Nodes, msgTTL) })
	wg.Go(func() { stream(2, retained, &l.Retained, msgTTL) })
	wg.Go(func() { stream(3, messages, &l.Messages, nil) })
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &l, nil
}
