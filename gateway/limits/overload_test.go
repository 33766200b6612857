package limits

import (
	"context"
	"testing"
	"time"

	"edgemq/configs"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// waitFor polls cond until it holds or a deadline passes.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestOverload: a memory mark the process is always above turns the
// state on (logged), Refuse then counts, the shedding flag follows the
// state, and a configuration without marks turns it off.
func TestOverload(t *testing.T) {
	core, logs := observer.New(zap.WarnLevel)
	g := NewOverload(configs.Overload{}, zap.New(core))
	if g.Refuse() || g.Active() {
		t.Fatal("overloaded before sampling")
	}
	stop := g.Start(context.Background()) // Run on its own goroutine
	defer stop()

	g.Set(configs.Overload{MemoryHighWater: 1, CheckInterval: 10 * time.Millisecond})
	waitFor(t, "the overload state", g.Active)
	if !g.Shedding().Load() {
		t.Error("shedding flag off while overloaded")
	}
	if !g.Refuse() || !g.Refuse() || g.Refused() != 2 {
		t.Errorf("Refused = %d after two refusals, want 2", g.Refused())
	}
	if logs.FilterMessage("overloaded: refusing new clients, shedding qos 0").Len() != 1 {
		t.Errorf("entering the state not logged once: %v", logs.All())
	}
	g.Set(configs.Overload{})
	waitFor(t, "the overload state to end", func() bool { return !g.Active() })
	if g.Refuse() || g.Refused() != 2 {
		t.Errorf("refused while not overloaded: %d", g.Refused())
	}
}
