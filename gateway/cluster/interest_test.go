package cluster_test

import (
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"

	"edgemq/gateway/cluster"
	"edgemq/gateway/cluster/clustertest"
)

// TestInterestPropagationWindow measures how long a subscription made on
// server 1 (confirmed there by a flush, the point a SUBACK may be sent)
// takes to show as interest on server 3, over 200 trials, and logs the
// p50, p99 and maximum (go test -run TestInterestPropagationWindow -v).
// It asserts only that every subscription arrives; the figures are for
// the report, not checked.
func TestInterestPropagationWindow(t *testing.T) {
	c := clustertest.Start(t, 3)
	nc := c.Connect(t, 0)
	far := c.Servers[2]
	const trials = 200
	// windows: from the flush's return; whole: from before SUBSCRIBE.
	windows := make([]time.Duration, 0, trials)
	whole := make([]time.Duration, 0, trials)
	for i := range trials {
		subject := cluster.TopicSubject(fmt.Sprintf("probe/%d/+", i))
		before := time.Now()
		sub, err := nc.SubscribeSync(subject)
		if err != nil {
			t.Fatal(err)
		}
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		deadline := start.Add(clustertest.Timeout)
		for far.Interest(subject) == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("trial %d: no interest in %q on %s after %s", i, subject, far.Name(), clustertest.Timeout)
			}
			runtime.Gosched()
		}
		windows = append(windows, time.Since(start))
		whole = append(whole, time.Since(before))
		if err := sub.Unsubscribe(); err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(windows)
	slices.Sort(whole)
	t.Logf("interest n1 -> n3 after the flush, %d trials: p50 %v p99 %v max %v",
		trials, windows[trials/2], windows[trials*99/100], windows[trials-1])
	t.Logf("interest n1 -> n3 from SUBSCRIBE, %d trials: p50 %v p99 %v max %v",
		trials, whole[trials/2], whole[trials*99/100], whole[trials-1])
}
