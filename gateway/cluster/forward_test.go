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
// (ErrNoAnswer), a node answering with an error is that error, with its
// kind. FindHolder asks several nodes at once whether they have what an
// op finds (a connected client, a session) and returns the one that has
// it without waiting for a hung one, or names the nodes that did not
// answer. A request that waits holds up no other; the node answers at
// most AdminLimits.InFlight at once, each until its ctx ends, and Stop
// ends the waits.
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
	// n2 holds the session of y offline: no client y is connected to it.
	serve("n2", func(_ context.Context, req cluster.AdminRequest) cluster.AdminReply {
		if req.ClientID == "y" && req.Op == cluster.AdminSession {
			return cluster.AdminReply{Found: true, Body: []byte(`{"client_id":"y","node":"n2"}`)}
		}
		return cluster.AdminReply{}
	})
	// n4's client holds its session after the kick of a delete.
	serve("n4", func(context.Context, cluster.AdminRequest) cluster.AdminReply {
		return cluster.AdminReply{Found: true, Error: "still held", Kind: cluster.AdminKindStillHeld}
	})
	serve("n3", func(context.Context, cluster.AdminRequest) cluster.AdminReply {
		return cluster.AdminReply{Error: "cannot tell"}
	})
	hung, err := c.Connect(t, 0).SubscribeSync(cluster.AdminSubject("hung")) // never replies
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = hung.Unsubscribe() })
	clustertest.WaitInterest(t, c.Servers[0], cluster.AdminSubject("n1"), cluster.AdminSubject("n2"),
		cluster.AdminSubject("n3"), cluster.AdminSubject("n4"), cluster.AdminSubject("hung"))

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
			kind     string
		}{
			{node: "n1", id: "x", op: cluster.AdminShow, found: true},
			{node: "n1", id: "x", op: cluster.AdminKick, found: true},
			{node: "n1", id: "y", op: cluster.AdminShow},
			{node: "n2", id: "x", op: cluster.AdminKick},
			{node: "n3", id: "x", op: cluster.AdminShow, errText: "node n3: cannot tell"},
			{node: "n2", id: "y", op: cluster.AdminShow},
			{node: "n4", id: "z", op: cluster.AdminDeleteSession, errText: "node n4: still held", kind: cluster.AdminKindStillHeld},
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
				var ae *cluster.AdminError
				if !errors.As(err, &ae) || errors.Is(err, cluster.ErrNoAnswer) || err.Error() != tc.errText || ae.Kind != tc.kind {
					t.Errorf("%s %s on %s: %v, want %q of kind %q", tc.op, tc.id, tc.node, err, tc.errText, tc.kind)
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

	t.Run("find holder", func(t *testing.T) {
		show, session := cluster.AdminShow, cluster.AdminSession
		for _, tc := range []struct {
			name   string
			op     string
			id     string
			nodes  []string
			short  bool
			holder string
			silent []string
		}{
			{"found", show, "x", []string{"n2", "n1"}, false, "n1", nil},
			{"found before a hung node answers", show, "x", []string{"hung", "n1", "n2"}, false, "n1", nil},
			{"nowhere", show, "y", []string{"n1", "n2"}, false, "", nil},
			{"not on those that answered", show, "y", []string{"n1", "n2", "n3", "hung", "gone"}, true, "", []string{"gone", "hung", "n3"}},
			{"no nodes", show, "x", nil, false, "", nil},
			{"offline session", session, "y", []string{"n1", "n2"}, false, "n2", nil},
			{"session before a hung node answers", session, "y", []string{"hung", "n2", "n3"}, false, "n2", nil},
			{"session nowhere", session, "w", []string{"n1", "n2"}, false, "", nil},
			{"session not on those that answered", session, "w", []string{"n2", "hung"}, true, "", []string{"hung"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				ctx := long()
				if tc.short {
					ctx = short()
				}
				holder, silent := cluster.FindHolder(ctx, nc, tc.op, tc.id, tc.nodes)
				if holder != tc.holder || !slices.Equal(silent, tc.silent) {
					t.Errorf("FindHolder(%s %s, %v): %q, silent %v; want %q, silent %v", tc.op, tc.id, tc.nodes, holder, silent, tc.holder, tc.silent)
				}
				if !tc.short && ctx.Err() != nil {
					t.Errorf("FindHolder(%s %s, %v) waited for the deadline: %v", tc.op, tc.id, tc.nodes, ctx.Err())
				}
			})
		}
	})

	t.Run("requests that wait", func(t *testing.T) {
		// A delete on "slow" waits until it is released or its ctx ends;
		// a show is answered at once. Two are answered at once.
		started := make(chan string, 4)
		release := map[string]chan struct{}{"d1": make(chan struct{}), "d2": make(chan struct{})}
		ended := make(chan error, 4) // the ctx errors of the deletes that ended before release
		srv, err := cluster.ServeAdmin(c.Connect(t, 0), "slow", cluster.AdminLimits{InFlight: 2, Timeout: clustertest.Timeout},
			func(ctx context.Context, req cluster.AdminRequest) cluster.AdminReply {
				if req.Op != cluster.AdminDeleteSession {
					return cluster.AdminReply{Found: true, Body: []byte(`{}`)}
				}
				started <- req.ClientID
				select {
				case <-release[req.ClientID]:
					return cluster.AdminReply{Found: true, Body: []byte(`{"client_id":"` + req.ClientID + `"}`)}
				case <-ctx.Done():
					ended <- ctx.Err()
					return cluster.AdminReply{Error: ctx.Err().Error()}
				}
			})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(srv.Stop)
		// A server whose handlers' ctx ends early.
		short, err := cluster.ServeAdmin(c.Connect(t, 0), "short", cluster.AdminLimits{Timeout: 50 * time.Millisecond},
			func(ctx context.Context, _ cluster.AdminRequest) cluster.AdminReply {
				<-ctx.Done()
				return cluster.AdminReply{Error: ctx.Err().Error()}
			})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(short.Stop)
		clustertest.WaitInterest(t, c.Servers[0], cluster.AdminSubject("slow"), cluster.AdminSubject("short"))

		type answer struct {
			rep cluster.AdminReply
			err error
		}
		ask := func(id string) <-chan answer {
			ch := make(chan answer, 1)
			ctx := long()
			go func() {
				rep, err := cluster.AskAdmin(ctx, nc, "slow", cluster.AdminRequest{Op: cluster.AdminDeleteSession, ClientID: id})
				ch <- answer{rep, err}
			}()
			return ch
		}
		show := func() error {
			_, err := cluster.AskAdmin(long(), nc, "slow", cluster.AdminRequest{Op: cluster.AdminShow, ClientID: "x"})
			return err
		}
		d1 := ask("d1")
		if id := <-started; id != "d1" {
			t.Fatalf("started %s, want d1", id)
		}
		if err := show(); err != nil {
			t.Errorf("a show while a delete waits: %v, want an answer", err)
		}
		d2 := ask("d2")
		if id := <-started; id != "d2" {
			t.Fatalf("started %s, want d2", id)
		}
		// Both slots taken: the next request is told the node is busy.
		var ae *cluster.AdminError
		if err := show(); !errors.As(err, &ae) || !strings.Contains(ae.Msg, "busy") {
			t.Errorf("a show while two deletes wait: %v, want busy", err)
		}
		close(release["d1"])
		if a := <-d1; a.err != nil || !a.rep.Found || string(a.rep.Body) != `{"client_id":"d1"}` {
			t.Errorf("released delete: %+v, %v", a.rep, a.err)
		}
		clustertest.Eventually(t, func() bool { return show() == nil }, func() string { return "the released delete's slot never came back" })

		// Stop ends the waiting delete's ctx and waits for its handler.
		srv.Stop()
		select {
		case err := <-ended:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("the waiting delete's ctx ended with %v, want canceled", err)
			}
		default:
			t.Error("Stop returned before the waiting delete's handler")
		}
		if a := <-d2; a.err == nil || !strings.Contains(a.err.Error(), "canceled") {
			t.Errorf("the delete waiting at Stop: %+v, %v; want its handler's canceled", a.rep, a.err)
		}
		if err := show(); !errors.Is(err, cluster.ErrNoAnswer) {
			t.Errorf("a request after Stop: %v, want no answer", err)
		}

		// The handler's ctx ends at AdminLimits.Timeout, however long the
		// asker waits.
		if _, err := cluster.AskAdmin(long(), nc, "short", cluster.AdminRequest{Op: cluster.AdminDeleteSession, ClientID: "x"}); err == nil ||
			!strings.Contains(err.Error(), "deadline exceeded") {
			t.Errorf("a handler that waits for its ctx: %v, want its deadline", err)
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
