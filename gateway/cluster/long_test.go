package cluster_test

import (
	"context"
	"strings"
	"testing"

	"edgemq/gateway/cluster"
	"edgemq/gateway/cluster/clustertest"
	"edgemq/mqtt"

	"github.com/nats-io/nats.go"
)

// TestLongestTopicsCrossTheCluster: the longest topics MQTT allows
// (65535 bytes [MQTT-4.7.3-3]), escaped to three times their length or
// split into 65536 empty levels, travel from server 3 to a subscriber on
// server 1, both by a literal subscription and by '#'. NATS's default
// 4 KiB control line would close the connection instead.
func TestLongestTopicsCrossTheCluster(t *testing.T) {
	c := clustertest.Start(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), clustertest.Timeout)
	defer cancel()
	sub, pub := c.Connect(t, 0), c.Connect(t, 2)
	for _, tc := range []struct{ name, topic string }{
		{"every byte escaped", strings.Repeat(".", 65535)},
		{"every level empty", strings.Repeat("/", 65535)},
		{"long non-ASCII", strings.Repeat("é", 65534/2) + "x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := mqtt.ValidTopicName(tc.topic); err != nil {
				t.Fatalf("not a topic MQTT allows: %v", err)
			}
			subject := cluster.TopicSubject(tc.topic)
			ch := make(chan *nats.Msg, 2)
			for _, s := range append([]string{subject}, cluster.FilterSubjects("#")...) {
				ns, err := sub.ChanSubscribe(s, ch)
				if err != nil {
					t.Fatal(err)
				}
				defer ns.Unsubscribe()
			}
			if err := sub.FlushWithContext(ctx); err != nil {
				t.Fatal(err)
			}
			clustertest.WaitInterest(t, c.Servers[2], subject)
			if err := pub.Publish(subject, []byte("long")); err != nil {
				t.Fatal(err)
			}
			for range 2 {
				select {
				case m := <-ch:
					if got, err := cluster.SubjectTopic(m.Subject); err != nil || got != tc.topic {
						t.Errorf("received a subject of %d bytes mapping to %d bytes, %v", len(m.Subject), len(got), err)
					}
				case <-ctx.Done():
					t.Fatalf("the message did not arrive (publisher %v, subscriber %v)", pub.LastError(), sub.LastError())
				}
			}
		})
	}
}
