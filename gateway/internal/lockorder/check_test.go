//go:build lockorder

package lockorder

import (
	"strings"
	"testing"
)

type testB struct{}

func (testB) LockClass() string { return "test.b" }

// TestCheckerRefusesAnEdgeOutsideTheOrder takes test.b under test.a, an
// edge Order does not have: the checker panics before blocking, naming
// both classes and giving both stacks.
func TestCheckerRefusesAnEdgeOutsideTheOrder(t *testing.T) {
	cases := []struct {
		name string
		run  func()
		want []string
	}{
		{"mutex under mutex", func() {
			var a Mutex[testA]
			var b Mutex[testB]
			a.Lock()
			defer a.Unlock()
			b.Lock()
			b.Unlock()
		}, []string{"test.b taken while holding test.a", "test.a taken at:", "test.b being taken at:", "check_test.go"}},
		{"read lock under mutex", func() {
			var a Mutex[testA]
			var b RWMutex[testB]
			a.Lock()
			defer a.Unlock()
			b.RLock()
			b.RUnlock()
		}, []string{"test.b taken while holding test.a"}},
		{"same lock twice", func() {
			var b RWMutex[testB]
			b.RLock()
			defer b.RUnlock()
			b.RLock()
		}, []string{"test.b taken again"}},
	}
	survey := checker.survey
	checker.survey = false // EDGEMQ_LOCKORDER=survey would only log
	defer func() { checker.survey = survey }()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			msg := func() (msg string) {
				defer func() {
					r := recover()
					msg, _ = r.(string)
				}()
				tc.run()
				return ""
			}()
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Fatalf("panic %q does not say %q", msg, w)
				}
			}
			if n := len(checker.held[goid()]); n != 0 {
				t.Fatalf("%d locks still recorded as held", n)
			}
		})
	}
}

// TestCheckerAllowsTheOrder takes two locks in an order of Order, and
// the same locks one after the other, and releases one from another
// goroutine.
func TestCheckerAllowsTheOrder(t *testing.T) {
	o := Order()[0]
	first, second := o[0], o[1]
	var a, b Mutex[named]
	if first == "" || second == "" {
		t.Fatal("empty class")
	}
	g := goid()
	checker.acquired(g, first, &a, false)
	checker.before(second, &b, false) // panics if refused
	checker.acquired(g, second, &b, false)
	done := make(chan struct{})
	go func() { checker.released(&b, false); close(done) }()
	<-done
	checker.released(&a, false)
	if n := len(checker.held[g]); n != 0 {
		t.Fatalf("%d locks still recorded as held", n)
	}
}

type named struct{}

func (named) LockClass() string { return "test.named" }
