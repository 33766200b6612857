package cluster_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"edgemq/gateway/cluster"
	"edgemq/gateway/cluster/clustertest"
)

// TestWritesBackToBack: a writer naming the revision its previous write
// returned wins every time, however soon after the acknowledgement it
// writes again. A replicated stream answers a write before it has
// finished with it, and refuses the key's next revision-checked write
// meanwhile (10164): that refusal is not another writer's win, and a
// record's own writer is never told it lost (ErrStale) to itself.
func TestWritesBackToBack(t *testing.T) {
	c := clustertest.Start(t, 3)
	_, jss := layout(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), clustertest.Timeout)
	defer cancel()
	const writers, writes = 4, 60
	var wg sync.WaitGroup
	for w := range writers {
		js := jss[w%len(jss)]
		wg.Go(func() {
			kv, err := js.KeyValue(ctx, cluster.SessionsBucket)
			if err != nil {
				t.Error(err)
				return
			}
			recs := cluster.NewRecords(kv)
			key := cluster.SessionKey(fmt.Sprintf("b2b/%d", w))
			for round := range 2 { // the second after a delete
				rev, err := recs.Create(ctx, key, []byte("0"))
				if err != nil {
					t.Errorf("writer %d round %d: creating: %v", w, round, err)
					return
				}
				for i := range writes {
					if rev, err = recs.Update(ctx, key, []byte(fmt.Sprint(i+1)), rev); err != nil {
						t.Errorf("writer %d round %d: write %d: %v", w, round, i+1, err)
						return
					}
				}
				if err := recs.Delete(ctx, key, rev); err != nil {
					t.Errorf("writer %d round %d: deleting at %d: %v", w, round, rev, err)
					return
				}
			}
		})
	}
	wg.Wait()
}
