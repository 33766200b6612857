package lockorder

import (
	"sync"
	"testing"
)

func TestOrderIsAcyclic(t *testing.T) {
	if c := Cycle(Edges()); c != nil {
		t.Fatalf("Order has a cycle: %v", c)
	}
}

func TestCycleFindsOne(t *testing.T) {
	cases := []struct {
		name  string
		edges [][2]string
		cycle bool
	}{
		{"chain", [][2]string{{"a", "b"}, {"b", "c"}}, false},
		{"diamond", [][2]string{{"a", "b"}, {"a", "c"}, {"b", "d"}, {"c", "d"}}, false},
		{"two", [][2]string{{"a", "b"}, {"b", "a"}}, true},
		{"three", [][2]string{{"a", "b"}, {"b", "c"}, {"c", "a"}}, true},
		{"self", [][2]string{{"a", "a"}}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := make(map[[2]string]bool)
			for _, e := range tc.edges {
				m[e] = true
			}
			c := Cycle(m)
			if (c != nil) != tc.cycle {
				t.Fatalf("Cycle = %v, want a cycle: %v", c, tc.cycle)
			}
			for i := 0; i+1 < len(c); i++ {
				if !m[[2]string{c[i], c[i+1]}] {
					t.Fatalf("Cycle = %v: %s → %s is not an edge", c, c[i], c[i+1])
				}
			}
			if c != nil && c[0] != c[len(c)-1] {
				t.Fatalf("Cycle = %v does not end where it starts", c)
			}
		})
	}
}

func TestEdgesAreTheOrdersClosure(t *testing.T) {
	e := Edges()
	cases := []struct {
		held, taken string
		want        bool
	}{
		{"bolt.DB.gate", "engine.order", true},    // one chain
		{"bolt.DB.gate", "writeQueue.mu", true},   // down one chain
		{"bolt.DB.gate", "router.mu", true},       // through engine.order
		{"engine.order", "bolt.DB.mu", true},      // through retainedStore.mu or session.mu
		{"engine.order", "bolt.DB.gate", false},   // upwards
		{"registry.mu", "engine.order", false},    // not ordered
		{"writeQueue.mu", "bolt.DB.mu", false},    // two leaves of session.mu
		{"session.mu", "session.mu", false},       // one session at a time
		{"rateLimits.mu", "rateLimits.mu", false}, // a leaf
	}
	for _, tc := range cases {
		if got := e[[2]string{tc.held, tc.taken}]; got != tc.want {
			t.Errorf("%s → %s allowed: %v, want %v", tc.held, tc.taken, got, tc.want)
		}
	}
	for _, chain := range Order() {
		for i := range chain {
			for _, b := range chain[i+1:] {
				if !e[[2]string{chain[i], b}] {
					t.Errorf("%s → %s of chain %v not allowed", chain[i], b, chain)
				}
			}
		}
	}
}

type testA struct{}

func (testA) LockClass() string { return "test.a" }

// BenchmarkMutex compares the wrapper with a bare sync.Mutex; in a normal
// build both report the same time (the wrapper's methods inline:
// go build -gcflags=-m ./gateway/internal/lockorder says "can inline
// (*Mutex[...]).Lock").
func BenchmarkMutex(b *testing.B) {
	b.Run("sync", func(b *testing.B) {
		var mu sync.Mutex
		for b.Loop() {
			mu.Lock()
			mu.Unlock()
		}
	})
	b.Run("lockorder", func(b *testing.B) {
		var mu Mutex[testA]
		for b.Loop() {
			mu.Lock()
			mu.Unlock()
		}
	})
}
