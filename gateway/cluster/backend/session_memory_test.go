package backend

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"sync"
	"testing"

	"edgemq/gateway/broker"
)

// TestSessionMemoryProfile is a measurement, not a check: with
// EDGEMQ_SESSION_PROFILE=N it opens N persistent sessions on node b1 of
// an in-process three-node cluster (full backends: each subscription's
// interest reaches NATS), each subscribed to a filter of its own and
// detached, then reports the heap in use per session (edgemq's and the
// three embedded NATS servers', one process) and, with
// EDGEMQ_SESSION_PROFILE_OUT=file, writes a heap profile there
// (go tool pprof -sample_index=inuse_space -top file). See
// cmd/edgemq-bench/BENCHMARKS.md.
func TestSessionMemoryProfile(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("EDGEMQ_SESSION_PROFILE"))
	if n <= 0 {
		t.Skip("a measurement: set EDGEMQ_SESSION_PROFILE=N")
	}
	_, nodes := startNodes(t, 3)
	// A measurement outlives the liveness TTL: the nodes renew theirs.
	ctx, cancel := context.WithCancel(context.Background())
	var live sync.WaitGroup
	for _, tn := range nodes {
		live.Go(func() { _ = tn.node.Run(ctx) })
	}
	t.Cleanup(func() { cancel(); live.Wait() })
	b1 := nodes[0]
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapInuse
	}
	before := heap()
	var wg sync.WaitGroup
	work := make(chan int)
	for range 32 {
		wg.Go(func() {
			for i := range work {
				id := fmt.Sprintf("mem-%d", i)
				c := newTestClient()
				s, _, err := b1.be.Sessions().Open(broker.OpenRequest{ClientID: id, Clean: true, Expiry: 3600, Client: c,
					Owner: &broker.Owner{Identity: id}}, func(*broker.Session, bool) {})
				if err != nil {
					t.Errorf("opening %s: %v", id, err)
					continue
				}
				b1.subscribe(t, s, "mem/"+id, 0)
				b1.be.Sessions().Detach(s, c, nil)
			}
		})
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	after := heap()
	t.Logf("%d sessions: heap in use %d MB before, %d MB after: %.1f KB per session",
		n, before>>20, after>>20, float64(after-before)/1024/float64(n))
	if path := os.Getenv("EDGEMQ_SESSION_PROFILE_OUT"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
			t.Fatal(err)
		}
	}
}
