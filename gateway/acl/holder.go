package acl

import (
	"sync/atomic"

	"edgemq/mqtt"
)

// State is an authorizer in force. Each Holder.Set or Holder.Renew makes
// a new one, never modified after: a connection compares the pointer to
// drop the decisions it cached under a replaced one. The methods of a nil
// *State allow everything (no authorizer was ever set).
type State struct {
	a        Authorizer
	allowAll bool
}

// AllowsAll reports whether the state allows everything without asking
// (nil, or AllowAll): the publish path then skips it altogether.
func (st *State) AllowsAll() bool { return st == nil || st.allowAll }

// Authorizer returns the authorizer of the state; AllowAll for nil.
func (st *State) Authorizer() Authorizer {
	if st == nil {
		return AllowAll{}
	}
	return st.a
}

// Authorize asks the state's authorizer, uncached; a state that allows
// all allows without asking. The contract of Authorizer applies.
func (st *State) Authorize(c ConnInfo, a Action, topic string, qos byte, retain bool) bool {
	if st.AllowsAll() {
		return true
	}
	return st.a.Authorize(c, a, topic, qos, retain)
}

// SubscribeMaxQoS returns the QoS a subscription to filter, allowed at
// qos, is granted: the authorizer's answer when it is a QoSLimiter, else
// qos.
func (st *State) SubscribeMaxQoS(c ConnInfo, filter string, qos byte) byte {
	if st == nil {
		return qos
	}
	if l, ok := st.a.(QoSLimiter); ok {
		return l.SubscribeMaxQoS(c, filter, qos)
	}
	return qos
}

// MayRead asks, uncached, whether a session owner c with the credential
// claims may subscribe to filter (a shared subscription is judged by its
// filter after "$share/{name}/") now: its claims, then the authorizer of
// the state, as a SUBSCRIBE is judged. It is the broker's delivery-time
// read check; safe for concurrent use.
func (st *State) MayRead(c ConnInfo, claims *Claims, filter string, qos byte) bool {
	if _, f, shared, err := mqtt.ParseShared(filter); shared && err == nil {
		filter = f
	}
	if !claims.AllowsSubscribe(filter) {
		return false
	}
	return st.Authorize(c, ActionSubscribe, filter, qos, false)
}

// Holder holds the server's authorizer in force; the zero value allows
// all. The generation of cached read decisions is the broker's
// (broker.Reads). All its methods are safe for concurrent use; it takes
// no locks.
type Holder struct {
	p atomic.Pointer[State]
}

// Set puts a in force as a new state; nil allows everything.
func (h *Holder) Set(a Authorizer) {
	if a == nil {
		a = AllowAll{}
	}
	_, all := a.(AllowAll)
	h.p.Store(&State{a: a, allowAll: all})
}

// Renew puts the authorizer in force again as a new state, so that every
// cached decision is made again (Server.RefreshAuthorizer). A Set
// meanwhile wins; with no authorizer ever set it does nothing.
func (h *Holder) Renew() {
	for {
		old := h.p.Load()
		if old == nil {
			return
		}
		next := &State{a: old.a, allowAll: old.allowAll}
		if h.p.CompareAndSwap(old, next) {
			return
		}
	}
}

// Load returns the state in force; nil (allow all) for a nil holder or
// one never set.
func (h *Holder) Load() *State {
	if h == nil {
		return nil
	}
	return h.p.Load()
}
