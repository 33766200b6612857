package acl

import (
	"edgemq/mqtt"
)

// State is an authorizer in force. NewState and Renewed make a new one
// each time, never modified after: a connection compares the pointer to
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

// NewState returns the state of authorizer a; nil allows everything.
// The server holds one state in force at a time (the broker's read
// policy, broker.Reads, is the one holder).
func NewState(a Authorizer) *State {
	if a == nil {
		a = AllowAll{}
	}
	_, all := a.(AllowAll)
	return &State{a: a, allowAll: all}
}

// Renewed returns a new state of st's authorizer, so that every decision
// cached under st is made again (Server.RefreshAuthorizer); nil for nil.
func (st *State) Renewed() *State {
	if st == nil {
		return nil
	}
	return &State{a: st.a, allowAll: st.allowAll}
}
