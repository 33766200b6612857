package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"
)

// TestRetainedScenario runs the retained scenario against an in-process
// gateway, over tcp and ws, QoS 0 to 2, both protocol versions: every
// stored message is received once, the JSON line says so, and with the
// broker's pid (our own, here) the memory figures are filled in.
func TestRetainedScenario(t *testing.T) {
	addrs := startGateway(t)
	for _, transport := range []string{"tcp", "ws"} {
		for qos := range 3 {
			t.Run(fmt.Sprintf("%s/qos%d", transport, qos), func(t *testing.T) {
				o := testOptions(transport, addrs[transport])
				o.qos, o.n, o.duration, o.pid = qos, 3000, 30*time.Second, os.Getpid()
				if qos == 1 {
					o.version = 4
				}
				var out bytes.Buffer
				res, err := runRetained(t.Context(), o, &out)
				if err != nil {
					t.Fatalf("running retained: %v", err)
				}
				if !res.Complete || res.Received != int64(o.n) || res.Duplicates != 0 {
					t.Errorf("received %d of %d (complete %v), %d duplicates", res.Received, o.n, res.Complete, res.Duplicates)
				}
				if res.PeakRSSKB <= 0 || res.RSSBeforeKB <= 0 {
					t.Errorf("rss before %d KB, peak %d KB: want both", res.RSSBeforeKB, res.PeakRSSKB)
				}
				var m retainedResult
				if err := json.Unmarshal(out.Bytes(), &m); err != nil || m != *res {
					t.Errorf("JSON line %q (%v), want %+v", out.String(), err, *res)
				}
			})
		}
	}
}
