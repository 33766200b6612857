package backend

import (
	"context"
	"fmt"
	"time"

	"edgemq/gateway/broker"
	"edgemq/mqtt"
)

// AdminClientID is the publisher the admin API's deletions are stored
// as, like its publishes (README, POST /api/v1/publish).
const AdminClientID = "$admin"

// Remove deletes topic's retained message cluster-wide, as an empty
// retained PUBLISH does [MQTT-3.3.1-6] but routed to no subscriber (the
// admin API's delete, which on one node routes nothing either): the
// deletion goes to the retained stream, which every node's mirror
// applies, and the local message is removed at once. found reports
// whether this node held a retained message on topic (nothing is done
// otherwise). It returns once the stream acknowledged the deletion,
// with its error, or when ctx ends. It takes clusterRetained.pubMu, then
// retainedStore.mu, then clusterRetained.waitMu, each alone: the caller
// holds none of our locks.
func (r *Retained) Remove(ctx context.Context, topic string) (found bool, err error) {
	if r.b.RetainedLookup(topic) == nil {
		return false, nil
	}
	r.publish(broker.NewMessage(&mqtt.Publish{Topic: topic, Retain: true}, AdminClientID, time.Now()))
	r.b.RemoveRetained(topic)
	done := make(chan error, 1)
	r.after(func(err error) { done <- err })
	select {
	case err := <-done:
		if err != nil {
			return true, fmt.Errorf("deleting retained message cluster-wide: %w", err)
		}
		return true, nil
	case <-ctx.Done():
		return true, fmt.Errorf("deleting retained message cluster-wide: %w", ctx.Err())
	}
}
