package backend

// How far behind the messages stream the sessions replaying their
// offline queue are (replay.go): the messages of their subjects still to
// replay, summed over the replays running now (a gauge), and the replays
// done with the time they took (counters: their ratio is the mean).

import (
	"math"
	"sync/atomic"
	"time"
)

// ReplayStats are the replay counters of a node; atomics.
type ReplayStats struct {
	// Lag is the number of stored messages the running replays have yet
	// to deliver.
	Lag atomic.Int64
	// Replays counts the replays that ended; Messages the messages they
	// delivered.
	Replays, Messages atomic.Int64
	// seconds is the float64 bits of the replays' total duration.
	seconds atomic.Uint64
}

// Seconds returns the total duration of the replays that ended.
func (r *ReplayStats) Seconds() float64 { return math.Float64frombits(r.seconds.Load()) }

func (r *ReplayStats) addSeconds(d float64) {
	for {
		old := r.seconds.Load()
		if r.seconds.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+d)) {
			return
		}
	}
}

// Replays returns the node's replay counters.
func (s *Sessions) Replays() *ReplayStats { return &s.replays }

// replayTrack is one replay's share of the lag.
type replayTrack struct {
	r     *ReplayStats
	began time.Time
	left  int64
}

// startReplay starts counting one replay.
func (s *Sessions) startReplay() *replayTrack {
	return &replayTrack{r: &s.replays, began: time.Now()}
}

// pending sets the messages the replay has yet to deliver.
func (t *replayTrack) pending(n uint64) {
	v := int64(min(n, math.MaxInt64))
	t.r.Lag.Add(v - t.left)
	t.left = v
}

// end takes the replay's share of the lag back and counts it, with the
// messages it delivered.
func (t *replayTrack) end(delivered int) {
	t.r.Lag.Add(-t.left)
	t.left = 0
	t.r.Replays.Add(1)
	t.r.Messages.Add(int64(delivered))
	t.r.addSeconds(time.Since(t.began).Seconds())
}
