package backend

import (
	"sync/atomic"
	"time"
)

// ackShards spreads the stream publishes' acknowledgements (acks,
// route_acks.go) over a few shards, a client's always to the same one
// (by the hash that picks its publish connection, cluster.Link's
// PublishConn), so that publishers of different clients do not queue on
// one mutex: on a loaded machine a descheduled holder of that one lock
// held every publisher and every answer behind it. Everything acks
// promises for one client holds within its shard; a waiter of no client
// ("") waits for every shard.
//
// A publish's number carries its shard: shard + local*len(shards).
type ackShards struct {
	shards []*acks
}

// ackShardCount is how many shards a node's acknowledgements have.
const ackShardCount = 4

func newAckShards(n int, failures *atomic.Int64) *ackShards {
	s := &ackShards{shards: make([]*acks, n)}
	for i := range s.shards {
		s.shards[i] = newAcks(failures)
	}
	return s
}

// of returns the shard of client (FNV-1a of the client id).
func (s *ackShards) of(client string) (int, *acks) {
	h := uint32(2166136261)
	for i := 0; i < len(client); i++ {
		h ^= uint32(client[i])
		h *= 16777619
	}
	i := int(h % uint32(len(s.shards)))
	return i, s.shards[i]
}

// add is acks.add in client's shard; the number returned names the
// shard too.
func (s *ackShards) add(client string, now time.Time) uint64 {
	i, a := s.of(client)
	return a.add(client, now)*uint64(len(s.shards)) + uint64(i)
}

// failed is acks.failed in client's shard.
func (s *ackShards) failed(client string, now time.Time, err error) {
	_, a := s.of(client)
	a.failed(client, now, err)
}

// complete is acks.complete of publish n (as add numbered it).
func (s *ackShards) complete(n uint64, err error) {
	k := uint64(len(s.shards))
	s.shards[n%k].complete(n/k, err)
}

// wait is acks.wait: in client's shard, or in every shard for "" (done
// then runs once all of them completed, with the first error).
func (s *ackShards) wait(client string, done func(error)) {
	if client != "" {
		_, a := s.of(client)
		a.wait(client, done)
		return
	}
	var (
		left  atomic.Int32
		first atomic.Pointer[error]
	)
	left.Store(int32(len(s.shards)))
	for _, a := range s.shards {
		a.wait("", func(err error) {
			if err != nil {
				first.CompareAndSwap(nil, &err)
			}
			if left.Add(-1) == 0 {
				var e error
				if p := first.Load(); p != nil {
					e = *p
				}
				done(e)
			}
		})
	}
}

// expire is acks.expire in every shard.
func (s *ackShards) expire(deadline time.Time) {
	for _, a := range s.shards {
		a.expire(deadline)
	}
}

// idle reports whether no publish awaits its answer.
func (s *ackShards) idle() bool {
	for _, a := range s.shards {
		if !a.idle() {
			return false
		}
	}
	return true
}

// tracked is acks.tracked summed over the shards.
func (s *ackShards) tracked() int {
	n := 0
	for _, a := range s.shards {
		n += a.tracked()
	}
	return n
}

// last returns the number of client's shard's latest publish (tests).
func (s *ackShards) last(client string) uint64 {
	i, a := s.of(client)
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.next*uint64(len(s.shards)) + uint64(i)
}
