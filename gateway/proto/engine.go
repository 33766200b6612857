package proto

import (
	"fmt"
	"time"

	"edgemq/configs"
	"edgemq/gateway/acl"
	"edgemq/gateway/auth"
	"edgemq/gateway/auth/bruteforce"
	"edgemq/gateway/auth/passwd"
	"edgemq/gateway/auth/scram"
	"edgemq/gateway/broker"

	"go.uber.org/zap"
)

// Engine is what all channels of a server share: the broker and its
// seams, the authorizer in force, the enhanced authentication methods,
// the brute-force guard, the authentication caps and hash pool, the
// counters, the connection-life logs and the clock. Its methods are safe
// for concurrent use; it is built once by NewEngine and never copied.
type Engine struct {
	// broker is the broker state: sessions, routing, retained messages,
	// quotas, the store (gateway/broker). The channel reaches it through
	// its seams: sessions, pub and subs (the broker itself unless
	// EngineConfig.Seams names others), and the session handle's methods;
	// the broker itself only for its local accounting (quotas, refused
	// takeovers) and the read policy.
	broker   *broker.Broker
	sessions broker.Sessions
	pub      broker.Publisher
	subs     broker.Subscriptions
	enh      *enhancedAuth     // enhanced authentication methods (enhauth.go)
	guard    *bruteforce.Guard // brute-force delays, nil when off
	authLim  *auth.Limits      // authentication caps and hash pool
	pwVerify *passwd.Verifier  // password hashes, in authLim's pool
	stats    *Stats
	log      *zap.Logger
	clog     *ConnLog // connection-life logs (connlog.go)
	// clock is the time of packet handling (clock_engine.go); nil: the
	// wall clock. The broker reads the same (broker.Config.Clock).
	clock Clock
}

// Seams are the broker interfaces the channels call (broker/seams.go).
// A nil field is the engine's *broker.Broker itself, the in-process
// implementation; a cluster backend supplies its own (gateway/cluster).
type Seams struct {
	// Sessions opens, resumes, takes over and detaches sessions.
	Sessions broker.Sessions
	// Publisher routes inbound messages and says when they are stored.
	Publisher broker.Publisher
	// Subscriptions adds and removes subscriptions.
	Subscriptions broker.Subscriptions
}

// EngineConfig is what NewEngine builds an engine from, besides the
// configuration.
type EngineConfig struct {
	// Broker is the broker state (NewBroker). Required.
	Broker *broker.Broker
	// Seams, when set, replace the broker's own implementations of the
	// seams the channels call: the injection point of a cluster backend.
	// The zero value uses Broker for all three.
	Seams Seams
	// Stats are the counters the engine counts into; the broker must
	// count into the same Counters (NewBroker). Required.
	Stats *Stats
	// Clock is the time of packet handling; nil: the wall clock.
	Clock Clock
	// Log is the server's logger; nil: none.
	Log *zap.Logger
}

// NewEngine builds the engine of a server from cfg: the SCRAM methods
// over auth.scram.file, the brute-force guard of auth.brute_force, and
// the authentication caps and hash pool of auth.concurrency and
// auth.hash_memory, over ec's broker and seams. The authorizer allows
// everything until SetAuthorizer.
func NewEngine(cfg *configs.Config, ec EngineConfig) (*Engine, error) {
	log := ec.Log
	if log == nil {
		log = zap.NewNop()
	}
	clock := ec.Clock
	if clock == nil {
		clock = WallClock{}
	}
	e := &Engine{stats: ec.Stats, log: log, clog: NewConnLog(log), clock: clock}
	e.setBroker(ec.Broker, ec.Seams)
	var store scram.Store
	if sc := cfg.Auth.SCRAM; sc.File != "" {
		fs, err := scram.NewFileStore(sc.File, sc.ReloadInterval, log)
		if err != nil {
			return nil, fmt.Errorf("auth.scram.file: %w", err)
		}
		store = fs
	}
	enh, err := newEnhancedAuth(store)
	if err != nil {
		return nil, err
	}
	e.enh = enh
	e.guard = bruteforce.New(cfg.Auth.BruteForce)
	e.authLim = auth.NewLimits(cfg.Auth)
	e.pwVerify = passwd.NewVerifier(e.authLim.Pool(), log)
	return e, nil
}

// NewBroker builds the broker state of a server from cfg: sessions,
// routing, retained messages, quotas (gateway/broker). Its read check is
// the authorizer the engine puts in force (OwnerReads, owner.go); its
// time is clock (nil: the wall clock), the engine's; interest hears of
// the filters it needs (a cluster backend's; nil: nothing to tell).
func NewBroker(cfg *configs.Config, st *Stats, clock Clock, interest broker.Interest, log *zap.Logger) *broker.Broker {
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
	}, &st.Counters, OwnerReads{}, log)
}

// setBroker makes b the engine's broker, and the channels' seams those
// of seams, b's own where unset (broker/seams.go).
func (e *Engine) setBroker(b *broker.Broker, seams Seams) {
	e.broker, e.sessions, e.pub, e.subs = b, b, b, b
	if seams.Sessions != nil {
		e.sessions = seams.Sessions
	}
	if seams.Publisher != nil {
		e.pub = seams.Publisher
	}
	if seams.Subscriptions != nil {
		e.subs = seams.Subscriptions
	}
}

// SetAuthorizer makes a the authorizer in force (nil: allow all), for
// the channels' publish and subscribe decisions (acl.go) and the broker's
// read check of every delivery (broker/owner.go): one holder, the
// broker's read policy, whose state is the *acl.State.
func (e *Engine) SetAuthorizer(a acl.Authorizer) {
	st := acl.NewState(a)
	e.broker.Reads().Set(st.AllowsAll(), st)
}

// RenewAuthorizer puts the authorizer in force again as a new state, so
// that every cached decision is made again (Server.RefreshAuthorizer).
func (e *Engine) RenewAuthorizer() {
	e.broker.Reads().Renew(func(state any) any {
		st, _ := state.(*acl.State)
		return st.Renewed()
	})
}

// Authorizer returns the authorizer state in force: nil (allow all)
// before SetAuthorizer. A new pointer after each SetAuthorizer and
// RenewAuthorizer.
func (e *Engine) Authorizer() *acl.State {
	p := e.broker.Reads().Policy()
	if p == nil {
		return nil
	}
	st, _ := p.State.(*acl.State)
	return st
}

// Broker returns the engine's broker.
func (e *Engine) Broker() *broker.Broker { return e.broker }

// Publisher returns the Publisher seam the channels route inbound
// messages through (the broker's own, or a cluster backend's), for a
// server-side publisher that must take the same path (the admin API's
// publish).
func (e *Engine) Publisher() broker.Publisher { return e.pub }

// Stats returns the engine's counters.
func (e *Engine) Stats() *Stats { return e.stats }

// Log returns the server's logger.
func (e *Engine) Log() *zap.Logger { return e.log }

// ConnLog returns the connection-life logs (connlog.go).
func (e *Engine) ConnLog() *ConnLog { return e.clog }

// PasswordVerifier returns the verifier password backends check hashes
// with, in the authentication hash pool.
func (e *Engine) PasswordVerifier() *passwd.Verifier { return e.pwVerify }

// AuthLimits returns the authentication caps and hash pool.
func (e *Engine) AuthLimits() *auth.Limits { return e.authLim }

// Clock returns the engine's clock.
func (e *Engine) Clock() Clock { return e.clock }

// now returns the engine's time: its clock's, the wall clock's when none
// was given (an engine a test assembled by hand).
func (e *Engine) now() time.Time {
	if e.clock == nil {
		return time.Now()
	}
	return e.clock.Now()
}

// now returns the time by the channel's clock (Engine.now).
func (ch *Channel) now() time.Time { return ch.env.now() }
