package cluster_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"edgemq/gateway/cluster"
	"edgemq/gateway/cluster/clustertest"
)

// TestForwardedAdmin: admin requests forwarded to one node reach that
// node's handler only, and its answer comes back; a node with nothing on
// its subject (gone) or that never replies (hung) is no answer
// (ErrNoAnswer), a node answering with an error is that error.
// FindHolder asks several nodes at once and returns the one that has
// the client without waiting for a hung one, or names the nodes that
// did not answer.
func TestForwardedAdmin(t *testing.T) {
	c := clustertest.Start(t, 1)
	nc := c.Connect(t, 0)
	serve := func(node string, h cluster.AdminHandler) {
		t.Helper()
		srv, err := cluster.ServeAdmin(c.Connect(t, 0), node, cluster.AdminLimits{}, h)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(srv.Stop)
	}
	kicks := make(chan string, 4) // n1's kicks, from its subscription's goroutine
	serve("n1", func(_ context.Context, req cluster.AdminRequest) cluster.AdminReply {
		if req.ClientID != "x" {
			return cluster.AdminReply{}
		}
		if req.Op == cluster.AdminKick {
			kicks <- req.ClientID
		}
		return cluster.AdminReply{Found: true, Body: []byte(`{"client_id":"x","node":"n1"}`)}
	})
	serve("n2", func(context.Context, cluster.AdminRequest) cluster.AdminReply { return cluster.AdminReply{} })
	serve("n3", func(context.Context, cluster.AdminRequest) cluster.AdminReply { return cluster.AdminReply{Error: "cannot tell"} })
	hung, err := c.Connect(t, 0).SubscribeSync(cluster.AdminSubject("hung")) // never replies
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = hung.Unsubscribe() })
	clustertest.WaitInterest(t, c.Servers[0], cluster.AdminSubject("n1"), cluster.AdminSubject("n2"),
		cluster.AdminSubject("n3"), cluster.AdminSubject("hung"))

	short := func() context.Context {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		t.Cleanup(cancel)
		return ctx
	}
	long := func() context.Context {
		ctx, cancel := context.WithTimeout(context.Background(), clustertest.Timeout)
		t.Cleanup(cancel)
		return ctx
	}

	t.Run("ask one node", func(t *testing.T) {
		for _, tc := range []struct {
			node, id string
			op       string
			found    bool
			noAnswer bool
			errText  string
		}{
			{node: "n1", id: "x", op: cluster.AdminShow, found: true},
			{node: "n1", id: "x", op: cluster.AdminKick, found: true},
			{node: "n1", id: "y", op: cluster.AdminShow},
			{node: "n2", id: "x", op: cluster.AdminKick},
			{node: "n3", id: "x", op: cluster.AdminShow, errText: "node n3: cannot tell"},
			{node: "gone", id: "x", op: cluster.AdminShow, noAnswer: true},
			{node: "hung", id: "x", op: cluster.AdminKick, noAnswer: true},
		} {
			rep, err := cluster.AskAdmin(short(), nc, tc.node, cluster.AdminRequest{Op: tc.op, ClientID: tc.id, Reason: 0x98})
			switch {
			case tc.noAnswer:
				if !errors.Is(err, cluster.ErrNoAnswer) || !strings.Contains(err.Error(), "node "+tc.node) {
					t.Errorf("%s %s on %s: %v, want no answer naming the node", tc.op, tc.id, tc.node, err)
				}
			case tc.errText != "":
				if err == nil || errors.Is(err, cluster.ErrNoAnswer) || err.Error() != tc.errText {
					t.Errorf("%s %s on %s: %v, want %q", tc.op, tc.id, tc.node, err, tc.errText)
				}
			case err != nil || rep.Found != tc.found || tc.found && string(rep.Body) != `{"client_id":"x","node":"n1"}`:
				t.Errorf("%s %s on %s: %+v, %v; want found %v", tc.op, tc.id, tc.node, rep, err, tc.found)
			}
		}
		// Only the kick asked of n1 for its client reached its handler.
		close(kicks)
		if got := slices.Collect(chanValues(kicks)); !slices.Equal(got, []string{"x"}) {
			t.Errorf("n1 kicked %v, want x once", got)
		}
	})

	t.Run("bad request", func(t *testing.T) {
		m, err := nc.RequestWithContext(long(), cluster.AdminSubject("n1"), []byte("not json"))
		if err != nil || !strings.Contains(string(m.Data), "decoding admin request") {
			t.Errorf("a request that is not JSON: %v, %v; want an error reply", m, err)
		}
	})

	t.Run("find client", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			id     string
			nodes  []string
			short  bool
			holder string
			silent []string
		}{
			{"found", "x", []string{"n2", "n1"}, false, "n1", nil},
			{"found before a hung node answers", "x", []string{"hung", "n1", "n2"}, false, "n1", nil},
			{"nowhere", "y", []string{"n1", "n2"}, false, "", nil},
			{"not on those that answered", "y", []string{"n1", "n2", "n3", "hung", "gone"}, true, "", []string{"gone", "hung", "n3"}},
			{"no nodes", "x", nil, false, "", nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				ctx := long()
				if tc.short {
					ctx = short()
				}
				holder, silent := cluster.FindHolder(ctx, nc, cluster.AdminShow, tc.id, tc.nodes)
				if holder != tc.holder || !slices.Equal(silent, tc.silent) {
					t.Errorf("FindHolder(%s, %v): %q, silent %v; want %q, silent %v", tc.id, tc.nodes, holder, silent, tc.holder, tc.silent)
				}
				if !tc.short && ctx.Err() != nil {
					t.Errorf("FindHolder(%s, %v) waited for the deadline: %v", tc.id, tc.nodes, ctx.Err())
				}
			})
		}
	})
}

// chanValues yields the values of a closed channel.
func chanValues[T any](ch <-chan T) func(func(T) bool) {
	return func(yield func(T) bool) {
		for v := range ch {
			if !yield(v) {
				return
			}
		}
	}
}
