package gateway

import (
	"edgemq/configs"
	"edgemq/gateway/broker"
	"edgemq/gateway/proto"

	"go.uber.org/zap"
)

// newBroker builds the broker state of a server from cfg: sessions,
// routing, retained messages, quotas (gateway/broker). Its read check is
// the server's authorizer (ownerReads, owner.go), set by setAuthorizer;
// its time is the engine's clock; interest hears of the filters it needs
// (a cluster's, cluster.go).
func newBroker(cfg *configs.Config, st *proto.Stats, clock proto.Clock, interest broker.Interest, log *zap.Logger) *broker.Broker {
	return broker.New(broker.Config{
		MaxPending:        cfg.Session.MaxOfflineMessages,
		MaxPendingBytes:   cfg.Session.MaxOfflineBytes,
		MaxRetained:       cfg.Retained.MaxMessages,
		MaxRetainedBytes:  cfg.Retained.MaxBytes,
		RetainedPerClient: cfg.Retained.MaxPerClient,
		SharedRandom:      cfg.Session.SharedSubscriptionStrategy == "random",
		// owner.go: sessions belong to their owner; the ACL judges their
		// deliveries.
		StrictOwner: cfg.Session.OwnerBinding != "any",
		Quotas: broker.QuotaConfig{
			MaxSubscriptions:     cfg.Session.MaxSubscriptions,
			MaxSubscriptionBytes: cfg.Session.MaxSubscriptionBytes,
			MaxSessionsPerIP:     cfg.Session.MaxSessionsPerIP,
			MaxSessionsPerUser:   cfg.Session.MaxSessionsPerUser,
		},
		Clock:    clock, // clock.go
		Interest: interest,
	}, &st.Counters, ownerReads{}, log)
}

// setBroker makes b the engine's broker, which the channels reach
// through its seams (broker/seams.go).
func (e *engine) setBroker(b *broker.Broker) {
	e.broker, e.sessions, e.pub, e.subs = b, b, b, b
}

// setAuthorizer makes a the authorizer in force: for the channels'
// publish and subscribe decisions (acl.go) and, as a new read policy, for
// the broker's read check of every delivery (broker/owner.go).
func (e *engine) setAuthorizer(a Authorizer) {
	e.acl.Set(a)
	st := e.acl.Load()
	e.broker.Reads().Set(st.AllowsAll(), st)
}

// renewAuthorizer puts the authorizer in force again, so that every
// cached decision is made again (RefreshAuthorizer).
func (e *engine) renewAuthorizer() {
	e.acl.Renew()
	e.broker.Reads().Renew()
}

// subscriptionCount returns the number of subscriptions of all of srv's
// sessions (broker.Broker.Gauges: approximate while they change).
func subscriptionCount(srv *Server) int {
	_, subs, _, _ := srv.eng.broker.Gauges()
	return subs
}
