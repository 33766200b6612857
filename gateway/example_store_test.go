package gateway_test

import (
	"context"
	"slices"
	"sync"

	"edgemq/gateway/store"
)

// memStore is an in-memory store.Store, the shape of a store an embedding
// program supplies with gateway.WithStore. One goroutine applies the
// queued calls in order and runs their done callbacks, so that Apply
// never blocks and done never runs inside Apply.
type memStore struct {
	mu      sync.Mutex
	queue   []memCall
	wake    chan struct{} // capacity 1: the worker has calls to apply
	closed  bool
	stopped chan struct{} // closed when the worker returns
	state   memState
	applied chan struct{} // closed and replaced after each applied batch
}

type memCall struct {
	ops  []store.Op
	done func(error)
}

// memState is what the store holds; the worker alone changes it, under mu.
type memState struct {
	sessions   map[string]*store.Session
	deliveries map[string]map[uint64]store.Delivery
	rels       map[string]map[uint16]bool
	retained   map[string]store.Message
	msgs       map[uint64]store.Message
}

func newMemStore() *memStore {
	s := &memStore{
		wake: make(chan struct{}, 1), stopped: make(chan struct{}), applied: make(chan struct{}),
		state: memState{
			sessions: map[string]*store.Session{}, deliveries: map[string]map[uint64]store.Delivery{},
			rels: map[string]map[uint16]bool{}, retained: map[string]store.Message{}, msgs: map[uint64]store.Message{},
		},
	}
	go s.run()
	return s
}

// reopen returns a new store holding what s held: the store a restarted
// program would open.
func (s *memStore) reopen() *memStore {
	n := newMemStore()
	s.mu.Lock()
	defer s.mu.Unlock()
	n.state = s.state
	return n
}

// Load returns a copy of everything stored.
func (s *memStore) Load(context.Context) (*store.State, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := &store.State{}
	for _, m := range s.state.retained {
		st.Retained = append(st.Retained, m)
	}
	for id, rec := range s.state.sessions {
		r := *rec
		r.Subs = slices.Clone(rec.Subs)
		for _, d := range s.state.deliveries[id] {
			d.Msg = s.state.msgs[d.Msg.ID]
			r.Deliveries = append(r.Deliveries, d)
		}
		slices.SortFunc(r.Deliveries, func(a, b store.Delivery) int { return int(a.Seq) - int(b.Seq) })
		for pid := range s.state.rels[id] {
			r.Rels = append(r.Rels, pid)
		}
		st.Sessions = append(st.Sessions, r)
	}
	return st, nil
}

// Apply queues ops and done for the worker.
func (s *memStore) Apply(ops []store.Op, done func(error)) {
	s.mu.Lock()
	s.queue = append(s.queue, memCall{ops: ops, done: done})
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Group needs nothing: nothing is lost in memory between two calls.
func (s *memStore) Group() func() { return func() {} }

// Close applies what is queued and stops the worker.
func (s *memStore) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	<-s.stopped
	return nil
}

func (s *memStore) run() {
	defer close(s.stopped)
	for range s.wake {
		s.mu.Lock()
		calls, closed := s.queue, s.closed
		s.queue = nil
		for _, c := range calls {
			for i := range c.ops {
				s.state.apply(&c.ops[i])
			}
		}
		close(s.applied)
		s.applied = make(chan struct{})
		s.mu.Unlock()
		for _, c := range calls {
			if c.done != nil {
				c.done(nil)
			}
		}
		if closed {
			return
		}
	}
}

func (st *memState) apply(op *store.Op) {
	switch op.Kind {
	case store.PutSession:
		rec := *op.Session // keyed by its ClientID (op.ClientID is not set)
		if old := st.sessions[rec.ClientID]; old != nil {
			rec.Subs = mergeSubs(old.Subs, op.Session.Subs)
		}
		st.sessions[rec.ClientID] = &rec
	case store.DeleteSession:
		delete(st.sessions, op.ClientID)
		delete(st.deliveries, op.ClientID)
		delete(st.rels, op.ClientID)
	case store.PutDelivery:
		d := *op.Delivery
		if len(d.Msg.Packet) > 0 {
			st.msgs[d.Msg.ID] = d.Msg
		}
		if st.deliveries[op.ClientID] == nil {
			st.deliveries[op.ClientID] = map[uint64]store.Delivery{}
		}
		st.deliveries[op.ClientID][d.Seq] = d
	case store.DeleteDelivery:
		delete(st.deliveries[op.ClientID], op.Seq)
	case store.PutRel:
		if st.rels[op.ClientID] == nil {
			st.rels[op.ClientID] = map[uint16]bool{}
		}
		st.rels[op.ClientID][op.PID] = true
	case store.DeleteRel:
		delete(st.rels[op.ClientID], op.PID)
	case store.PutRetained:
		st.retained[op.Topic] = *op.Retained
	case store.DeleteRetained:
		delete(st.retained, op.Topic)
	case store.PutSubscriptions:
		if rec := st.sessions[op.ClientID]; rec != nil {
			rec.Subs = mergeSubs(rec.Subs, op.Subs)
		}
	case store.DeleteSubscriptions:
		if rec := st.sessions[op.ClientID]; rec != nil {
			rec.Subs = slices.DeleteFunc(slices.Clone(rec.Subs), func(s store.Subscription) bool { return slices.Contains(op.Filters, s.Filter) })
		}
	}
}

// mergeSubs returns old with each of add replacing the one of its filter.
func mergeSubs(old, add []store.Subscription) []store.Subscription {
	out := slices.Clone(old)
	for _, a := range add {
		if i := slices.IndexFunc(out, func(s store.Subscription) bool { return s.Filter == a.Filter }); i >= 0 {
			out[i] = a
		} else {
			out = append(out, a)
		}
	}
	return out
}

// waitSubscribed waits until the session of clientID is stored with
// filter among its subscriptions, or ctx ends; it reports which.
func (s *memStore) waitSubscribed(ctx context.Context, clientID, filter string) bool {
	for {
		s.mu.Lock()
		rec, applied := s.state.sessions[clientID], s.applied
		ok := rec != nil && slices.ContainsFunc(rec.Subs, func(sub store.Subscription) bool { return sub.Filter == filter })
		s.mu.Unlock()
		if ok {
			return true
		}
		select {
		case <-applied:
		case <-ctx.Done():
			return false
		}
	}
}
