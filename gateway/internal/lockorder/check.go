//go:build lockorder

package lockorder

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
)

// Mutex is a sync.Mutex of class C whose acquisitions are checked
// against Order. The zero value is unlocked.
type Mutex[C Class] struct{ m sync.Mutex }

// Lock locks m.
func (m *Mutex[C]) Lock() {
	g := checker.before(className[C](), m, false)
	m.m.Lock()
	checker.acquired(g, className[C](), m, false)
}

// TryLock tries to lock m and reports whether it did. A TryLock cannot
// deadlock, so only a success is recorded (as held), not checked.
func (m *Mutex[C]) TryLock() bool {
	if !m.m.TryLock() {
		return false
	}
	checker.acquired(goid(), className[C](), m, false)
	return true
}

// Unlock unlocks m.
func (m *Mutex[C]) Unlock() {
	checker.released(m, false)
	m.m.Unlock()
}

// RWMutex is a sync.RWMutex of class C whose acquisitions are checked
// against Order. The zero value is unlocked.
type RWMutex[C Class] struct{ m sync.RWMutex }

// Lock locks rw for writing.
func (rw *RWMutex[C]) Lock() {
	g := checker.before(className[C](), rw, false)
	rw.m.Lock()
	checker.acquired(g, className[C](), rw, false)
}

// Unlock unlocks rw for writing.
func (rw *RWMutex[C]) Unlock() {
	checker.released(rw, false)
	rw.m.Unlock()
}

// RLock locks rw for reading.
func (rw *RWMutex[C]) RLock() {
	g := checker.before(className[C](), rw, true)
	rw.m.RLock()
	checker.acquired(g, className[C](), rw, true)
}

// RUnlock undoes one RLock.
func (rw *RWMutex[C]) RUnlock() {
	checker.released(rw, true)
	rw.m.RUnlock()
}

func className[C Class]() string {
	var c C
	return c.LockClass()
}

// held is one lock a goroutine holds.
type held struct {
	class string
	lock  any // the *Mutex or *RWMutex
	read  bool
	pcs   []uintptr // where it was taken
}

// state is the checker: the locks each goroutine holds, and the edges
// seen so far.
type state struct {
	mu      sync.Mutex
	allowed map[[2]string]bool
	held    map[uint64][]held
	// seen are the edges logged so far, by the edge and the place
	// taking it (file:line), when log is set.
	seen map[string]bool
	log  string // EDGEMQ_LOCKORDER_EDGES
	// survey (EDGEMQ_LOCKORDER=survey) logs edges outside the order
	// instead of panicking: to list every edge of a run at once.
	survey bool
}

// checker is process-wide: lock acquisitions anywhere in the process
// have to meet in one place. It exists only in the lockorder build.
var checker = newState()

func newState() *state {
	allowed := Edges()
	if c := Cycle(allowed); c != nil {
		panic("lockorder: Order has a cycle: " + strings.Join(c, " → "))
	}
	return &state{allowed: allowed, held: make(map[uint64][]held), seen: make(map[string]bool), log: os.Getenv("EDGEMQ_LOCKORDER_EDGES"), survey: os.Getenv("EDGEMQ_LOCKORDER") == "survey"}
}

// before checks that the calling goroutine may take a lock of class c,
// and returns the goroutine's id.
func (s *state) before(c string, lock any, read bool) uint64 {
	g := goid()
	var site string
	if s.log != "" {
		if _, file, line, ok := runtime.Caller(2); ok {
			site = file + ":" + strconv.Itoa(line)
		}
	}
	s.mu.Lock()
	hs := s.held[g]
	var bad *held
	var newEdges [][2]string
	for i := range hs {
		h := &hs[i]
		if h.lock == lock {
			s.mu.Unlock()
			panic(fmt.Sprintf("lockorder: %s taken again by the goroutine holding it\n\n--- held since:\n%s\n--- taken again at:\n%s", c, frames(h.pcs), frames(callers())))
		}
		e := [2]string{h.class, c}
		if k := h.class + " -> " + c + " @ " + site; s.log != "" && !s.seen[k] {
			s.seen[k] = true
			newEdges = append(newEdges, e)
		}
		if !s.allowed[e] && bad == nil {
			bad = h
		}
	}
	var heldPCs []uintptr
	var heldClass string
	if bad != nil {
		heldPCs, heldClass = bad.pcs, bad.class
	}
	s.mu.Unlock()
	if len(newEdges) > 0 && s.log != "" {
		s.record(newEdges)
	}
	if bad != nil && !s.survey {
		panic(fmt.Sprintf("lockorder: %s taken while holding %s, against the order in gateway/LOCKS.md (internal/lockorder.Order)\n\n--- %s taken at:\n%s\n--- %s being taken at:\n%s",
			c, heldClass, heldClass, frames(heldPCs), c, frames(callers())))
	}
	return g
}

// acquired records that goroutine g holds lock.
func (s *state) acquired(g uint64, c string, lock any, read bool) {
	pcs := callers()
	s.mu.Lock()
	s.held[g] = append(s.held[g], held{class: c, lock: lock, read: read, pcs: pcs})
	s.mu.Unlock()
}

// released forgets lock: from the calling goroutine's locks, or, since a
// sync mutex may be unlocked by another goroutine than the one that
// locked it, from whichever goroutine holds it.
func (s *state) released(lock any, read bool) {
	g := goid()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.drop(g, lock, read) {
		return
	}
	for other := range s.held {
		if s.drop(other, lock, read) {
			return
		}
	}
}

func (s *state) drop(g uint64, lock any, read bool) bool {
	hs := s.held[g]
	for i := len(hs) - 1; i >= 0; i-- {
		if hs[i].lock == lock && hs[i].read == read {
			hs = append(hs[:i], hs[i+1:]...)
			if len(hs) == 0 {
				delete(s.held, g)
			} else {
				s.held[g] = hs
			}
			return true
		}
	}
	return false
}

// record appends new edges, with the stack taking them, to the log file.
func (s *state) record(edges [][2]string) {
	f, err := os.OpenFile(s.log, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	st := frames(callers())
	for _, e := range edges {
		ok := "allowed"
		if !s.allowed[e] {
			ok = "NOT IN ORDER"
		}
		fmt.Fprintf(f, "EDGE %s -> %s (%s)\n%s\n", e[0], e[1], ok, st)
	}
}

func callers() []uintptr {
	pcs := make([]uintptr, 32)
	return pcs[:runtime.Callers(3, pcs)]
}

func frames(pcs []uintptr) string {
	var b strings.Builder
	fs := runtime.CallersFrames(pcs)
	for {
		f, more := fs.Next()
		fmt.Fprintf(&b, "  %s\n      %s:%d\n", f.Function, f.File, f.Line)
		if !more {
			break
		}
	}
	return b.String()
}

// goid is the calling goroutine's id, from its stack header
// ("goroutine 42 [running]:").
func goid() uint64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	if i := bytes.IndexByte(b, ' '); i > 0 {
		b = b[:i]
	}
	n, _ := strconv.ParseUint(string(b), 10, 64)
	return n
}
