package jwt

import (
	"context"
	"edgemq/gateway/internal/testclock"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// octSet is a JWKS of HS256 (oct) keys, one per kid.
func octSet(kids ...string) []byte {
	s := `{"keys":[`
	for i, kid := range kids {
		if i > 0 {
			s += ","
		}
		s += fmt.Sprintf(`{"kty":"oct","kid":%q,"k":%q}`, kid, base64.RawURLEncoding.EncodeToString([]byte(secret)))
	}
	return []byte(s + "]}")
}

// TestJWKSCacheClock drives the JWKS cache's refresh and min interval
// with a clock moved by hand, against a real HTTP server that can fail or
// rotate its set: no step waits on the wall clock.
func TestJWKSCacheClock(t *testing.T) {
	var (
		mu      sync.Mutex
		set     = octSet("k1")
		down    atomic.Bool
		fetches atomic.Int32
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		if down.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		w.Write(set)
	}))
	defer srv.Close()
	clock := testclock.New(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	c := newJWKSCache("", srv.URL, time.Minute, 10*time.Second, srv.Client(), clock)
	if err := c.load(context.Background()); err != nil {
		t.Fatalf("first load: %v", err)
	}
	steps := []struct {
		name    string
		advance time.Duration
		publish []string // the set from now on; nil: unchanged
		down    bool
		kid     string
		found   bool
		fetches int32 // in total, after the step
	}{
		{"known kid, fresh set", 0, nil, false, "k1", true, 1},
		{"unknown kid within min interval: no fetch", 5 * time.Second, []string{"k1", "k2"}, false, "k2", false, 1},
		{"unknown kid past min interval: fetched", 5 * time.Second, nil, false, "k2", true, 2},
		{"unknown kid again at once: rate limited", 0, nil, false, "k3", false, 2},
		{"stale set, server down: one fetch, old keys kept", time.Minute, nil, true, "k1", true, 3},
		{"still stale within min interval: no fetch", 5 * time.Second, nil, true, "k1", true, 3},
		{"still stale past min interval: one more fetch", 5 * time.Second, nil, true, "k2", true, 4},
		{"server back past min interval: refreshed", 10 * time.Second, []string{"k3"}, false, "k3", true, 5},
		{"rotated out", 0, nil, false, "k1", false, 5},
	}
	for _, st := range steps {
		clock.Add(st.advance)
		if st.publish != nil {
			mu.Lock()
			set = octSet(st.publish...)
			mu.Unlock()
		}
		down.Store(st.down)
		keys, err := c.lookup(context.Background(), st.kid, "HS256")
		if found := err == nil && len(keys) == 1; found != st.found {
			t.Errorf("%s: found %v (%v), want %v", st.name, found, err, st.found)
		}
		if n := fetches.Load(); n != st.fetches {
			t.Errorf("%s: %d fetches, want %d", st.name, n, st.fetches)
		}
	}
}
