package proto

import (
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"edgemq/gateway/acl"
	"edgemq/gateway/auth"
	"edgemq/gateway/broker"
	"edgemq/gateway/stats"
	"edgemq/listeners"
	"edgemq/mqtt"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Channel is the protocol state machine of one connection. It takes
// decoded packets and answers through its outbound queue; it owns no
// socket, reads the time from the engine's Clock (clock.go), and neither
// sleeps nor arms a timer: it asks its host for delays and timers, whose
// ends come back as events (effects.go). Packet handling (connect, handle and what they call) runs on
// the connection's read goroutine, one packet at a time, and the fields
// without a lock or atomic of their own are that goroutine's. Other
// goroutines call into the channel too:
//   - kick and KickRef: a takeover (connect.go), the admin API, drain, a
//     failed store commit (persist.go) and the credential expiry;
//   - AuthExpired: the credential expiry timer its host armed
//     (channel_auth.go, auth.Expiry, effects.go);
//   - out (as broker.Link.Out) and the broker.Client methods: a
//     publisher's route delivering to this channel's session
//     (broker/delivery.go), under that session's lock;
//   - the store's commit callbacks, which count acksOut down (persist.go).
//
// What those touch is atomic (kickVersion, kicked, kickCode, acksOut),
// locked (credp), safe for concurrent use (out), or set by connect
// before the session can deliver and read-only after (neg, sess).
type Channel struct {
	env  *Engine
	meta *listeners.Meta
	prof *Profile
	auth *auth.Chain
	out  Outbound
	wire *Wire // the encoder's settings (wire.go; gateway/conn/encoder.go)
	log  *zap.Logger
	// timers arms the timers the channel asks for (effects.go): the
	// connection, or a test's harness.
	timers TimerHost

	// Set once by connect, read-only after.
	neg       Negotiated
	connected bool
	sess      *broker.Session
	// kickVersion is the protocol version once connected (0 before), for
	// kick, which runs on other goroutines.
	kickVersion atomic.Uint32
	// kicked is set once the server decided to end the connection; the
	// read loop handles nothing more after it.
	kicked atomic.Bool
	// kickCode is the reason code of the first kick with bit 8 set, 0
	// before (the connection-life log, connlog.go).
	kickCode atomic.Uint32

	// credEnded is set when the connection ended, before its credential's
	// expiry is stopped (channel_auth.go): a credential state ExtendAuth
	// makes afterwards is stopped at once.
	credEnded atomic.Bool

	// will is this connection's will; DISCONNECT 0x00 discards it.
	will *mqtt.Will
	// acl is the client's authorization state (acl.go); its view is
	// owner's, shared with the session (owner.go), set by
	// authorizeConnect and never changed after.
	acl   acl.Client
	owner *ownerView
	// credp is the credential's expiry and claims (channel_auth.go), nil
	// for a credential with neither; rare is the enhanced
	// authentication and brute-force delay state, nil until used
	// (channel_rare.go).
	credp atomic.Pointer[authExpiry]
	rare  *rareState
	// aliases are the inbound topic aliases [MQTT-3.3.2-12].
	aliases map[uint16]string
	// relIn holds the inbound QoS 2 packet ids this connection received
	// and the client has not released: what the server's Receive Maximum
	// counts. Exchanges left by an earlier connection of the session wait
	// in sessionState.awaitingRel only; the quota is per connection (4.9).
	relIn map[uint16]struct{}
	// acksOut counts acknowledgements waiting for the store (persist.go).
	acksOut atomic.Int32

	// outWaiting counts outbound packets of a persistent session waiting
	// for the store; those queued meanwhile wait behind them
	// (persist_qos2.go).
	outWaiting atomic.Int32

	matches []broker.Match
}

// logAt logs msg with the connection's listener and remote address, once
// the level is known to be enabled: an idle connection keeps no logger of
// its own.
func (ch *Channel) LogAt(lvl zapcore.Level, msg string, fields ...zap.Field) {
	if ce := ch.log.Check(lvl, msg); ce != nil {
		ce.Write(append(fields, zap.String("listener", ch.meta.Listener), zap.Stringer("remote_addr", ch.meta.RemoteAddr))...)
	}
}

// Handle processes one packet of a connected client. A returned error
// ends the connection; its reason code (mqtt.CodeOf) goes in DISCONNECT to
// a v5 client.
//
// After an error the host waits for AcksFlushed before it closes the
// connection (persist.go).
func (ch *Channel) Handle(p mqtt.Packet) (err error) {
	switch p := p.(type) {
	case *mqtt.Publish:
		return ch.publish(p)
	case *mqtt.Puback:
		ch.sess.Acked(mqtt.PUBACK, p.PacketID, p.ReasonCode, ch)
	case *mqtt.Pubrec:
		ch.sess.Acked(mqtt.PUBREC, p.PacketID, p.ReasonCode, ch)
	case *mqtt.Pubcomp:
		ch.sess.Acked(mqtt.PUBCOMP, p.PacketID, p.ReasonCode, ch)
	case *mqtt.Pubrel:
		ch.pubrel(p)
	case *mqtt.Subscribe:
		return ch.subscribe(p)
	case *mqtt.Unsubscribe:
		ch.unsubscribe(p)
	case *mqtt.Pingreq:
		ch.out.Send(&mqtt.Pingresp{}) // [MQTT-3.12.4-1]
	case *mqtt.Disconnect:
		return ch.disconnect(p)
	case *mqtt.Connect:
		return mqtt.Errorf(mqtt.ProtocolError, "MQTT-3.1.0-2", "second CONNECT")
	case *mqtt.Auth:
		return ch.handleAuth(p) // enhauth.go: re-authentication
	default:
		return mqtt.Errorf(mqtt.ProtocolError, "MQTT-2.1.2", "%v is not sent by clients", p.Type())
	}
	return nil
}

// publish handles an inbound PUBLISH.
func (ch *Channel) publish(p *mqtt.Publish) error {
	n := &ch.neg
	ch.env.stats.BytesIn.Add(int64(len(p.Payload)))
	if n.Version == mqtt.V5 {
		if err := ch.resolveAlias(p); err != nil {
			return err
		}
		if len(p.Properties.SubscriptionIdentifiers) > 0 {
			return mqtt.Errorf(mqtt.ProtocolError, "MQTT-3.3.4-6", "subscription identifier in a client's PUBLISH")
		}
	}
	if p.QoS > n.MaximumQoS {
		return mqtt.Errorf(mqtt.QoSNotSupported, "MQTT-3.2.2-11", "qos %d exceeds maximum qos %d", p.QoS, n.MaximumQoS)
	}
	if p.Retain && !n.RetainAvailable {
		return mqtt.Errorf(mqtt.RetainNotSupported, "MQTT-3.2.2-14", "retain is not available")
	}
	if n.Version == mqtt.V5 && ch.prof.ValidatePayloadFormat && p.Properties.PayloadFormatIndicator == 1 &&
		p.Properties.Has(mqtt.PropPayloadFormatIndicator) && !utf8.Valid(p.Payload) {
		// [MQTT-3.3.2-4 is the sender's rule; the receiver may check it]
		ch.refusePublish(p, mqtt.PayloadFormatInvalid, stats.DropPayloadFormat)
		return nil
	}
	if !ch.mayPublish(p) {
		ch.denyPublish(p) // acl.go
		return nil
	}
	if !ch.admitRetained(p) { // retained_quota.go
		return nil
	}
	defer ch.storeGroup()() // persist.go: one commit for the id and the routing
	if p.QoS == 2 {
		if !p.Dup {
			ch.sess.FreshQoS2(p.PacketID) // broker/cluster_out.go: a new message [MQTT-3.3.1-1]
		}
		// broker/inbound.go: the id is stored with the routing (one group)
		dup, refused := ch.sess.ReceiveQoS2(p.PacketID, len(ch.relIn) >= int(n.ServerReceiveMaximum))
		if refused {
			// The client's limit is [MQTT-3.3.4-7]; 0x93 per 3.3.4.
			return mqtt.Errorf(mqtt.ReceiveMaximumExceeded, "MQTT-3.3.4-7", "more than %d unacknowledged QoS 2 publishes", n.ServerReceiveMaximum)
		}
		if dup {
			// Delivered already: acknowledge again, don't route twice
			// [MQTT-4.3.3-10].
			rec := &mqtt.Pubrec{PacketID: p.PacketID}
			ch.afterStored(func() { ch.out.Send(rec) })
			return nil
		}
		if ch.relIn == nil {
			ch.relIn = make(map[uint16]struct{})
		}
		ch.relIn[p.PacketID] = struct{}{}
	}
	pid, qos := p.PacketID, p.QoS
	now := ch.now() // clock.go
	msg := broker.NewMessage(p, n.ClientID, now)
	delivered := ch.env.pub.RouteAt(msg, &ch.matches, now)
	var code mqtt.ReasonCode
	if delivered == 0 && n.Version == mqtt.V5 {
		code = mqtt.NoMatchingSubscribers
	}
	// With a store, the acknowledgement waits until what the message
	// changed is stored (persist.go); the read loop goes on meanwhile.
	switch qos {
	case 1:
		ch.ackAfterStored(mqtt.PUBACK, pid, code) // [MQTT-4.3.2-2]
	case 2:
		ch.ackAfterStored(mqtt.PUBREC, pid, code) // [MQTT-4.3.3-8]
	}
	return nil
}

// ackAfterStored queues an acknowledgement once what its message changed
// is stored; at once, and without a closure, in memory mode.
func (ch *Channel) ackAfterStored(t mqtt.Type, pid uint16, code mqtt.ReasonCode) {
	if !ch.env.pub.Durable() {
		ch.out.Ack(t, pid, code)
		return
	}
	ch.afterStored(func() { ch.out.Ack(t, pid, code) }) // persist.go
}

// refusePublish answers a PUBLISH that is not routed: QoS 1 gets PUBACK
// and QoS 2 PUBREC with code (v5; a 3.x client gets the plain ack, having
// no codes), which ends the exchange; QoS 0 is dropped. All are counted.
func (ch *Channel) refusePublish(p *mqtt.Publish, code mqtt.ReasonCode, why stats.DropReason) {
	ch.env.stats.Drop(why)
	switch p.QoS {
	case 1:
		ch.out.Send(&mqtt.Puback{PacketID: p.PacketID, ReasonCode: code})
	case 2:
		ch.out.Send(&mqtt.Pubrec{PacketID: p.PacketID, ReasonCode: code})
	}
}

// resolveAlias applies an inbound Topic Alias [MQTT-3.3.2-9..12].
func (ch *Channel) resolveAlias(p *mqtt.Publish) error {
	if !p.Properties.Has(mqtt.PropTopicAlias) {
		return nil
	}
	a := p.Properties.TopicAlias
	p.Properties.Clear(mqtt.PropTopicAlias)
	if a == 0 || a > ch.neg.ServerTopicAliasMaximum {
		return mqtt.Errorf(mqtt.TopicAliasInvalid, "MQTT-3.3.2-9", "topic alias %d outside 1..%d", a, ch.neg.ServerTopicAliasMaximum)
	}
	if p.Topic == "" {
		t, ok := ch.aliases[a]
		if !ok {
			return mqtt.Errorf(mqtt.ProtocolError, "MQTT-3.3.2-12", "topic alias %d not set", a)
		}
		p.Topic = t
		return nil
	}
	if ch.aliases == nil {
		ch.aliases = make(map[uint16]string)
	}
	ch.aliases[a] = p.Topic
	return nil
}

// pubrel completes an inbound QoS 2 exchange [MQTT-4.3.3-11].
func (ch *Channel) pubrel(p *mqtt.Pubrel) {
	ok, stored := ch.sess.Release(p.PacketID) // broker/inbound.go
	delete(ch.relIn, p.PacketID)
	code := mqtt.Success
	if !ok {
		code = mqtt.PacketIdentifierNotFound
	}
	if stored {
		// The publisher may reuse the id after PUBCOMP: the id's removal
		// is stored first, or a restart would take the new message for a
		// repeat (persist_qos2.go).
		ch.ackAfterStored(mqtt.PUBCOMP, p.PacketID, code)
		return
	}
	ch.out.Ack(mqtt.PUBCOMP, p.PacketID, code)
}

// subscribe handles SUBSCRIBE: one reason code per filter, then the
// retained messages the Retain Handling option asks for.
func (ch *Channel) subscribe(p *mqtt.Subscribe) error {
	n := &ch.neg
	var subID uint32
	if ids := p.Properties.SubscriptionIdentifiers; len(ids) > 0 {
		if !n.SubIDsAvailable {
			return mqtt.Errorf(mqtt.SubscriptionIdentifiersNotSupported, "MQTT-3.2.2.3.12", "subscription identifiers are not available")
		}
		subID = ids[0]
	}
	ack := &mqtt.Suback{PacketID: p.PacketID, ReasonCodes: make([]mqtt.ReasonCode, len(p.Subscriptions))}
	b := ch.env.subs
	// Registering the filters, reading their retained messages and
	// queueing SUBACK and those happen while no message is routed, so that
	// a message published meanwhile arrives once, either as retained or
	// live, and after the older retained ones.
	return b.Subscribing(func() error {
		var wantRetained []*broker.Subscription
		var added []*broker.Subscription // stored in one write (persist_subs.go)
		for i, req := range p.Subscriptions {
			shared := strings.HasPrefix(req.Filter, mqtt.SharePrefix)
			if shared && req.NoLocal {
				// The decoder refuses it already.
				return mqtt.Errorf(mqtt.ProtocolError, "MQTT-3.8.3-4", "no local on shared subscription %q", req.Filter)
			}
			code := ch.checkFilter(req)
			if !code.IsError() && !ch.maySubscribe(&req) { // may lower req.QoS
				code = mqtt.NotAuthorized // acl.go
			}
			if code.IsError() {
				ack.ReasonCodes[i] = code
				continue
			}
			sub := broker.NewSubscription(broker.SubOptions{
				Filter: req.Filter, QoS: min(req.QoS, n.MaximumQoS), NoLocal: req.NoLocal,
				RetainAsPublished: req.RetainAsPublished, RetainHandling: req.RetainHandling, ID: subID,
			})
			// A subscription to the same filter replaces the old one
			// [MQTT-3.8.4-3].
			existed, full := b.Subscribe(ch.sess, sub) // broker/quota.go
			if full {
				// 0x97 per 3.9.3 (3.x: 0x80 Failure, [MQTT-3.9.3-2]).
				ack.ReasonCodes[i] = mqtt.QuotaExceeded
				continue
			}
			added = append(added, sub)
			ack.ReasonCodes[i] = mqtt.ReasonCode(sub.QoS()) // [MQTT-3.8.4-6 granted QoS]
			// Retained messages are sent on new non-shared subscriptions only
			// (3.3.1.3, 4.8.2).
			if !shared && (req.RetainHandling == 0 || (req.RetainHandling == 1 && !existed)) {
				wantRetained = append(wantRetained, sub)
			}
		}
		persistent := ch.sess.PutSubs(added) // broker/persist_subs.go
		// [MQTT-3.8.4-1], once stored; then the retained messages.
		ch.subacked(ack, wantRetained, b.RetainedSeq(), persistent)
		return nil
	})
}

// checkFilter checks one requested filter against the rules and the
// features advertised in CONNACK.
func (ch *Channel) checkFilter(req mqtt.Subscription) mqtt.ReasonCode {
	filter := req.Filter
	_, _, shared, err := mqtt.ParseShared(filter)
	if shared {
		if !ch.neg.SharedAvailable {
			return mqtt.SharedSubscriptionsNotSupported // [MQTT-3.2.2.3.15]
		}
		if err != nil {
			return mqtt.TopicFilterInvalid
		}
	} else if err := mqtt.ValidTopicFilter(filter); err != nil {
		return mqtt.TopicFilterInvalid
	}
	if !ch.neg.WildcardAvailable && mqtt.HasWildcard(filter) {
		return mqtt.WildcardSubscriptionsNotSupported // [MQTT-3.2.2.3.13]
	}
	return mqtt.Success
}

// unsubscribe handles UNSUBSCRIBE, with a reason code per filter.
func (ch *Channel) unsubscribe(p *mqtt.Unsubscribe) {
	ack := &mqtt.Unsuback{PacketID: p.PacketID}
	s := ch.sess
	var removed []string // stored in one write (persist_subs.go)
	for _, f := range p.Filters {
		code := mqtt.Success
		if !ch.env.subs.Unsubscribe(s, f) {
			code = mqtt.NoSubscriptionExisted
		} else {
			removed = append(removed, f)
		}
		if ch.neg.Version == mqtt.V5 {
			ack.ReasonCodes = append(ack.ReasonCodes, code)
		}
	}
	persistent := s.DeleteSubs(removed)  // broker/persist_subs.go
	ch.subacked(ack, nil, 0, persistent) // [MQTT-3.10.4-4], once stored
}

// disconnect handles the client's DISCONNECT.
func (ch *Channel) disconnect(p *mqtt.Disconnect) error {
	if ch.neg.Version == mqtt.V5 && p.Properties.Has(mqtt.PropSessionExpiryInterval) {
		if !ch.sess.SetDisconnectExpiry(p.Properties.SessionExpiryInterval, ch.maxSessionExpiry()) {
			return mqtt.Errorf(mqtt.ProtocolError, "3.14.2.2.2", "session expiry set on DISCONNECT after 0 on CONNECT")
		}
	}
	if p.ReasonCode != mqtt.DisconnectWithWillMessage {
		ch.will = nil // [MQTT-3.14.4-3, MQTT-3.1.2-10]
	}
	return errClientDisconnected
}

func (ch *Channel) maxSessionExpiry() uint32 {
	if s := ch.prof.MaxSessionExpiry / time.Second; s < 1<<32-1 {
		return uint32(s)
	}
	return 1<<32 - 1
}

// kick disconnects the client from another goroutine: v5 clients get
// DISCONNECT with code, 3.x clients a close.
func (ch *Channel) kick(code mqtt.ReasonCode) {
	ch.KickRef(code, "")
}

// KickRef is kick with a Server Reference property on the v5 DISCONNECT
// when ref is set (0x9C Use another server, 0x9D Server moved).
func (ch *Channel) KickRef(code mqtt.ReasonCode, ref string) {
	ch.kickCode.CompareAndSwap(0, 1<<8|uint32(code))
	ch.kicked.Store(true)
	if mqtt.Version(ch.kickVersion.Load()) == mqtt.V5 {
		d := &mqtt.Disconnect{ReasonCode: code}
		if ref != "" {
			d.Properties.SetString(mqtt.PropServerReference, ref)
		}
		ch.out.Close(d)
		return
	}
	ch.out.Close(nil)
}

// closed ends the channel after the connection is gone: the session is
// released, and the will handled [MQTT-3.1.2-8].
func (ch *Channel) Closed() {
	ch.stopAuthExpiry()
	if !ch.connected {
		return
	}
	ch.env.sessions.Detach(ch.sess, ch, ch.will)
}
