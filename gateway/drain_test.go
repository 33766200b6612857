package gateway

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"edgemq/mqtt"
)

// TestDrainSpread checks the graceful drain (issue 6 part 7): on shutdown
// v5 clients get DISCONNECT 0x8B, or 0x9C with the Server Reference when
// drain.server_reference is set, spread over drain.period; 3.x clients
// are closed; Run returns nil.
func TestDrainSpread(t *testing.T) {
	for _, tc := range []struct {
		name string
		ref  string
		code mqtt.ReasonCode
	}{
		{"shutting down", "", mqtt.ServerShuttingDown},
		{"server reference", "mqtt2.example.com:8883", mqtt.UseAnotherServer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const period = time.Second
			cfg := testConfig(t)
			cfg.Drain.Period = period
			cfg.Drain.ServerReference = tc.ref
			ts := startServer(t, cfg)
			v5 := make([]*v5Client, 10)
			for i := range v5 {
				v5[i] = connectV5(t, ts, v5Connect(fmt.Sprintf("drain-5-%d", i)))
			}
			v3 := make([]*v3Client, 2)
			for i := range v3 {
				v3[i] = connectV3(t, ts, fmt.Sprintf("drain-3-%d", i), nil)
			}
			waitConnections(t, ts, int64(len(v5)+len(v3)))

			ts.cancel()
			var (
				wg       sync.WaitGroup
				mu       sync.Mutex
				arrivals []time.Time
			)
			for _, c := range v5 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					d := c.expectServerDisconnect(t)
					now := time.Now()
					if d.ReasonCode != byte(tc.code) {
						t.Errorf("client %q: DISCONNECT 0x%02X, want 0x%02X", c.ClientID(), d.ReasonCode, byte(tc.code))
					}
					var ref string
					if d.Properties != nil {
						ref = d.Properties.ServerReference
					}
					if ref != tc.ref {
						t.Errorf("client %q: Server Reference %q, want %q", c.ClientID(), ref, tc.ref)
					}
					mu.Lock()
					arrivals = append(arrivals, now)
					mu.Unlock()
				}()
			}
			for _, c := range v3 {
				c.expectLost(t)
			}
			wg.Wait()
			if len(arrivals) != len(v5) {
				t.Fatalf("%d of %d v5 clients got a DISCONNECT", len(arrivals), len(v5))
			}
			first, last := arrivals[0], arrivals[0]
			for _, a := range arrivals {
				if a.Before(first) {
					first = a
				}
				if a.After(last) {
					last = a
				}
			}
			if spread := last.Sub(first); spread < period/2 {
				t.Errorf("disconnects spread over %v, want at least %v (drain.period %v)", spread, period/2, period)
			}
			select {
			case err := <-ts.done:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
				ts.done <- nil // for startServer's cleanup
			case <-time.After(eventTimeout):
				t.Fatal("Run did not return")
			}
		})
	}
}
