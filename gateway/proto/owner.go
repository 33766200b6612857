package proto

// The acl side of session ownership (broker/owner.go has the rules): who
// owns a session (identityOf, ownerOf), and the read check the broker asks
// of the authorizer (OwnerReads).
//
// Identity: what authentication established (identityOf): the user name
// after substitution (a JWT username_claim, a certificate identity used as
// user name, the SCRAM user), else the verified certificate's identity,
// else "anonymous on listener X".

import (
	"edgemq/gateway/acl"
	"edgemq/gateway/auth"
	"edgemq/gateway/broker"
	"edgemq/gateway/store"
)

// ownerView is a session owner as authorizers see it (broker.Owner.View):
// the acl.View of its last connection and that credential's claims. Never
// modified once made: the connection reads its view through it too
// (Channel.acl, one copy per connection).
type ownerView struct {
	acl.View
	// claims are the credential's ACL claims, nil for none.
	claims *auth.ACLClaims
}

// identityOf returns the identity authentication established for v: the
// user name, else the certificate identity, else anonymous on the
// listener. The prefixes keep the three apart: a user named like a
// certificate identity is not that certificate.
func identityOf(v *acl.View) string {
	switch {
	case v.HasUsername() && v.Username() != "":
		return "user:" + v.Username()
	case v.CertIdentity() != "":
		return "cert:" + v.CertIdentity()
	}
	return "anonymous:" + v.Listener()
}

// ownerOf returns the owner of the connection for the broker: its ACL
// view (set by authorizeConnect), its credential's claims, and their
// stored form.
func (ch *Channel) ownerOf() *broker.Owner {
	v := ch.owner // the channel's own, shared (acl.go)
	if v == nil {
		// A view set without authorizeConnect (tests).
		v = &ownerView{View: *ch.acl.View(), claims: ch.aclClaims()}
	}
	id := identityOf(&v.View)
	rec := store.Owner{Identity: id, Username: v.Username(), HasUsername: v.HasUsername(),
		CertIdentity: v.CertIdentity(), Listener: v.Listener()}
	if cl := v.claims; cl != nil {
		rec.Claims = &store.ACLClaims{Pub: cl.Pub, Sub: cl.Sub}
	}
	return &broker.Owner{Identity: id, Claims: v.claims != nil, Record: rec, View: v}
}

// mayRead asks, uncached, whether the owner may subscribe to filter (a
// shared subscription's filter after "$share/{name}/") now: its
// credential's claims, then the authorizer st, as SUBSCRIBE does
// (maySubscribe, acl.State.MayRead).
func (v *ownerView) mayRead(st *acl.State, filter string, qos byte) bool {
	return st.MayRead(&v.View, claimsOf(v.claims), filter, qos)
}

// OwnerReads is the broker's read check (broker.ReadChecker) over the
// server's authorizer: the policy's state is an *acl.State
// (Engine.SetAuthorizer), the owner's view an *ownerView (ownerOf).
type OwnerReads struct{}

// MayRead implements broker.ReadChecker.
func (OwnerReads) MayRead(p *broker.Policy, o *broker.Owner, filter string, qos byte) bool {
	v, ok := o.View.(*ownerView)
	if !ok {
		return false
	}
	var st *acl.State
	if p != nil {
		st, _ = p.State.(*acl.State)
	}
	return v.mayRead(st, filter, qos)
}

// RestoredView implements broker.ReadChecker: its ConnInfo knows the
// listener, user name, certificate identity and client id; the remote
// address, transport, TLS state and protocol version of a connection that
// is gone are zero until the owner connects again.
func (OwnerReads) RestoredView(clientID string, o *store.Owner) any {
	v := &ownerView{View: acl.StoredView(o.Listener, clientID, o.Username, o.HasUsername, o.CertIdentity)}
	if cl := o.Claims; cl != nil {
		v.claims = &auth.ACLClaims{Pub: cl.Pub, Sub: cl.Sub}
	}
	return v
}
