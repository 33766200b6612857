package backend

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// TestAckShards: the numbers add gives out complete the right client's
// publish in the right shard; a client's waiters complete in order; a
// waiter of no client waits for every shard and reports the first
// failure; nothing is left tracked.
func TestAckShards(t *testing.T) {
	var failures atomic.Int64
	s := newAckShards(ackShardCount, &failures)
	// Clients in every shard.
	byShard := map[int]string{}
	for i := 0; len(byShard) < ackShardCount && i < 1000; i++ {
		c := fmt.Sprintf("client-%d", i)
		if k, _ := s.of(c); byShard[k] == "" {
			byShard[k] = c
		}
	}
	if len(byShard) != ackShardCount {
		t.Fatalf("clients found in %d shards of %d", len(byShard), ackShardCount)
	}
	now := time.Now()
	type pub struct {
		client string
		n      uint64
	}
	var pubs []pub
	done := map[string][]int{}
	for round := range 2 {
		for k := range ackShardCount {
			c := byShard[k]
			pubs = append(pubs, pub{c, s.add(c, now)})
			s.wait(c, func(err error) {
				if err != nil {
					t.Errorf("%s round %d: %v", c, round, err)
				}
				done[c] = append(done[c], round)
			})
		}
	}
	if s.idle() {
		t.Fatal("idle with publishes pending")
	}
	var all []error
	s.wait("", func(err error) { all = append(all, err) })
	// Answer in reverse: each client's second publish before its first.
	for i := len(pubs) - 1; i >= 0; i-- {
		if k, _ := s.of(pubs[i].client); uint64(k) != pubs[i].n%ackShardCount {
			t.Fatalf("publish %d of %s numbered %d, not in its shard %d", i, pubs[i].client, pubs[i].n, k)
		}
		if len(all) != 0 {
			t.Fatalf("the waiter for every publish completed with %d unanswered", i+1)
		}
		s.complete(pubs[i].n, nil)
	}
	for _, c := range byShard {
		if got := done[c]; len(got) != 2 || got[0] != 0 || got[1] != 1 {
			t.Errorf("%s's waiters completed as %v, want [0 1]", c, got)
		}
	}
	if len(all) != 1 || all[0] != nil {
		t.Fatalf("the waiter for every publish completed as %v, want once without error", all)
	}

	// A failure in one shard fails the waiter for every publish.
	c0, c1 := byShard[0], byShard[1]
	n0, n1 := s.add(c0, now), s.add(c1, now)
	all = nil
	s.wait("", func(err error) { all = append(all, err) })
	s.complete(n1, errors.New("no quorum"))
	s.complete(n0, nil)
	if len(all) != 1 || !errors.Is(all[0], errFailed) {
		t.Fatalf("the waiter for every publish completed as %v, want once with errFailed", all)
	}
	var got error
	s.wait(c1, func(err error) { got = err })
	if !errors.Is(got, errFailed) {
		t.Errorf("%s's waiter completed with %v, want its failure", c1, got)
	}
	s.wait(c0, func(err error) { got = err })
	if got != nil {
		t.Errorf("%s's waiter completed with %v, want nil: the failure was another shard's", c0, got)
	}
	if !s.idle() || s.tracked() != 0 || failures.Load() != 1 {
		t.Errorf("left: idle %v, %d clients tracked, %d failures counted (want 1)", s.idle(), s.tracked(), failures.Load())
	}
}
