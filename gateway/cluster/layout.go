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

// EnsureLayout creates the buckets and streams, or updates them to o
// where they exist (idempotent: every node runs it at start). It needs
// a server with per-message TTLs (2.11 or newer). Nodes running it at
// the same time may see a request go unanswered until ctx ends (see
// layoutAttempt): bound it and retry, as StartNode does.
func EnsureLayout(ctx context.Context, js jetstream.JetStream, o LayoutOptions) (*Layout, error) {
	var l Layout
	sessions, nodes := o.BucketConfigs()
	retained, messages := o.StreamConfigs()
	// The four are independent: created side by side, so that a request
	// left unanswered costs one wait, not one each.
	errs := make([]error, 4)
	var wg sync.WaitGroup
	wg.Go(func() {
		var err error
		if l.Sessions, err = js.CreateOrUpdateKeyValue(ctx, sessions); err != nil {
			errs[0] = fmt.Errorf("creating bucket %s: %w", SessionsBucket, err)
		}
	})
	wg.Go(func() {
		var err error
		switch l.Nodes, err = js.CreateOrUpdateKeyValue(ctx, nodes); {
		case errors.Is(err, jetstream.ErrLimitMarkerTTLNotSupported):
			errs[1] = fmt.Errorf("creating bucket %s: the NATS servers lack per-key TTLs (2.11 or newer needed): %w", NodesBucket, err)
		case err != nil:
			errs[1] = fmt.Errorf("creating bucket %s: %w", NodesBucket, err)
		}
	})
	wg.Go(func() {
		var err error
		if l.Retained, err = js.CreateOrUpdateStream(ctx, retained); err != nil {
			errs[2] = fmt.Errorf("creating stream %s: %w", RetainedStream, err)
		}
	})
	wg.Go(func() {
		var err error
		if l.Messages, err = js.CreateOrUpdateStream(ctx, messages); err != nil {
			errs[3] = fmt.Errorf("creating stream %s: %w", MessagesStream, err)
		}
	})
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &l, nil
}
