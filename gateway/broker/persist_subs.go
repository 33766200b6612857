package broker

// The subscriptions of a persistent session are stored one by one (a
// store key each): a SUBSCRIBE or UNSUBSCRIBE queues one store operation
// holding its own filters, however many the session holds, so the work
// and memory of a packet are bounded by the packet (issue 18). Also: the
// log of a change the store refused (one client's bad write no longer
// fails the others').

import (
	"cmp"
	"errors"
	"slices"

	"edgemq/gateway/store"

	"go.uber.org/zap"
)

// logLeftOut logs a change the store refused as too large: it is left
// out, the other changes of its commit are stored (store.Store). The
// broker and the channel check the limits before, so this is a defect to report.
func (p *persister) logLeftOut(err error) {
	if err != nil && errors.Is(err, store.ErrTooLarge) {
		p.log.Error("store refused a change; it is left out, the others are stored", zap.Error(err))
	}
}

// PutSubs stores subs, which one SUBSCRIBE added or replaced; those
// that another connection of the session changed meanwhile (a takeover)
// are left to that connection's own write. It reports whether the
// session is persistent: its SUBACK then waits for the write (subacked).
func (s *Session) PutSubs(subs []*Subscription) (persistent bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	subs = slices.DeleteFunc(subs, func(sub *Subscription) bool { return s.st.subs[sub.filter] != sub })
	s.putSubsLocked(subs)
	return s.p != nil
}

// putSubsLocked stores subs in one operation. s.mu held: the operation
// is queued in change order, and not for a session the store forgot
// (s.p nil: ended, or taken over with a clean start).
func (s *Session) putSubsLocked(subs []*Subscription) {
	if s.p == nil || len(subs) == 0 {
		return
	}
	out := make([]store.Subscription, len(subs))
	for i, sub := range subs {
		out[i] = store.Subscription{Filter: sub.filter, QoS: sub.qos, NoLocal: sub.noLocal,
			RetainAsPublished: sub.retainAsPublished, RetainHandling: sub.retainHandling, ID: sub.id}
	}
	s.p.apply(store.Op{Kind: store.PutSubscriptions, ClientID: s.st.clientID, Subs: out})
}

// DeleteSubs forgets filters, which one UNSUBSCRIBE removed, in one
// operation. It reports whether the session is persistent: its UNSUBACK
// then waits for the write.
func (s *Session) DeleteSubs(filters []string) (persistent bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	filters = slices.DeleteFunc(filters, func(f string) bool { _, back := s.st.subs[f]; return back })
	if s.p != nil && len(filters) > 0 {
		s.p.apply(store.Op{Kind: store.DeleteSubscriptions, ClientID: s.st.clientID, Filters: filters})
	}
	return s.p != nil
}

// subsInOrder returns the subscriptions sorted by filter.
func (st *sessionState) subsInOrder() []*Subscription {
	out := make([]*Subscription, 0, len(st.subs))
	for _, sub := range st.subs {
		out = append(out, sub)
	}
	slices.SortFunc(out, func(a, b *Subscription) int { return cmp.Compare(a.filter, b.filter) })
	return out
}
