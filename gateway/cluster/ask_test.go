package cluster_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"edgemq/gateway/cluster"
	"edgemq/gateway/cluster/clustertest"
)

// TestAskAll: one question reaches every answering node; the answers
// come back by node, and the nodes that answered with an error or not at
// all (c has no answerer) are missing once the deadline passes.
func TestAskAll(t *testing.T) {
	c := clustertest.Start(t, 2)
	for i, node := range []string{"a", "b"} {
		if _, err := cluster.Answer(c.Connect(t, i), node, "q", func() ([]byte, error) {
			if node == "b" {
				return nil, errors.New("cannot tell")
			}
			return []byte("from " + node), nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	clustertest.WaitInterest(t, c.Servers[0], cluster.AskSubject("q"))
	for _, s := range c.Servers {
		clustertest.Eventually(t, func() bool { return s.Interest(cluster.AskSubject("q")) >= 2 }, func() string { return "the answerers' interest never spread" })
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	answers, missing, err := cluster.AskAll(ctx, c.Connect(t, 1), "q", []string{"a", "b", "c"})
	if err != nil {
		t.Fatal(err)
	}
	if len(answers) != 1 || string(answers["a"]) != "from a" || !slices.Equal(missing, []string{"b", "c"}) {
		t.Errorf("answers %q, missing %v; want a's only, b and c missing", answers, missing)
	}
	// Every node answering: no wait for the deadline.
	ctx, cancel = context.WithTimeout(context.Background(), clustertest.Timeout)
	defer cancel()
	answers, missing, err = cluster.AskAll(ctx, c.Connect(t, 0), "q", []string{"a"})
	if err != nil || string(answers["a"]) != "from a" || len(missing) != 0 || ctx.Err() != nil {
		t.Errorf("asking a only: %q, missing %v, %v, ctx %v", answers, missing, err, ctx.Err())
	}
}
