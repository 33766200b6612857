package gateway

// The acl side of session ownership (broker/owner.go has the rules): who
// owns a session (identityOf, ownerOf), and the read check the broker asks
// of the authorizer (ownerReads).
//
// Identity: what authentication established (identityOf): the user name
// after substitution (a JWT username_claim, a certificate identity used as
// user name, the SCRAM user), else the verified certificate's identity,
// else "anonymous on listener X".

import (
	"slices"
	"sort"

	"edgemq/gateway/acl"
	"edgemq/gateway/broker"
	"edgemq/gateway/store"

	"github.com/prometheus/client_golang/prometheus"
)

// ownerView is a session owner as authorizers see it (broker.Owner.View):
// the aclView of its last connection and that credential's claims. Never
// modified once made.
type ownerView struct {
	aclView
	// claims are the credential's ACL claims, nil for none.
	claims *ACLClaims
}

// identityOf returns the identity authentication established for v: the
// user name, else the certificate identity, else anonymous on the
// listener. The prefixes keep the three apart: a user named like a
// certificate identity is not that certificate.
func identityOf(v *aclView) string {
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
func (ch *channel) ownerOf() *broker.Owner {
	v := &ownerView{aclView: *ch.acl.View(), claims: ch.credExp.acl}
	id := identityOf(&v.aclView)
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
func (v *ownerView) mayRead(st *aclState, filter string, qos byte) bool {
	return st.MayRead(&v.aclView, claimsOf(v.claims), filter, qos)
}

// ownerReads is the broker's read check (broker.ReadChecker) over the
// server's authorizer: the policy's state is an *aclState, the owner's
// view an *ownerView.
type ownerReads struct{}

// MayRead implements broker.ReadChecker.
func (ownerReads) MayRead(p *broker.Policy, o *broker.Owner, filter string, qos byte) bool {
	v, ok := o.View.(*ownerView)
	if !ok {
		return false
	}
	var st *aclState
	if p != nil {
		st, _ = p.State.(*aclState)
	}
	return v.mayRead(st, filter, qos)
}

// RestoredView implements broker.ReadChecker: its ConnInfo knows the
// listener, user name, certificate identity and client id; the remote
// address, transport, TLS state and protocol version of a connection that
// is gone are zero until the owner connects again.
func (ownerReads) RestoredView(clientID string, o *store.Owner) any {
	v := &ownerView{aclView: acl.StoredView(o.Listener, clientID, o.Username, o.HasUsername, o.CertIdentity)}
	if cl := o.Claims; cl != nil {
		v.claims = &ACLClaims{Pub: cl.Pub, Sub: cl.Sub}
	}
	return v
}

var descTakeoverRefused = prometheus.NewDesc("edgemq_session_takeover_refused_total",
	"CONNECTs refused because the client id's session belongs to another identity (session.owner_binding strict), by listener.",
	[]string{"listener"}, nil)

// takeoverCollector exports edgemq_session_takeover_refused_total, with
// a series for every listener from the start.
type takeoverCollector struct{ s *Server }

func (c takeoverCollector) Describe(ch chan<- *prometheus.Desc) { ch <- descTakeoverRefused }

func (c takeoverCollector) Collect(ch chan<- prometheus.Metric) {
	t := c.s.eng.broker.Takeovers()
	names := make([]string, 0, len(c.s.lsts))
	for _, l := range c.s.lsts {
		names = append(names, l.cfg.Name)
	}
	for _, l := range t.Listeners() {
		if !slices.Contains(names, l) {
			names = append(names, l)
		}
	}
	sort.Strings(names)
	for _, l := range names {
		ch <- prometheus.MustNewConstMetric(descTakeoverRefused, prometheus.CounterValue, float64(t.Count(l)), l)
	}
}
