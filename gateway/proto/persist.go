package proto

// The channel side of persistence (the broker side, what is stored and
// the restore, is broker/persist.go; opening the store, the root's
// engine.go): an acknowledgement that waits for the store, the group of
// one inbound PUBLISH, and what the host waits for before a connection
// closes (AcksFlushed).

import (
	"edgemq/mqtt"
)

// afterStored runs fn once what was queued so far is stored (at once in
// memory mode). A store failure kicks the connection instead: the
// acknowledgement is never sent for what is not stored.
func (ch *Channel) afterStored(fn func()) {
	pub := ch.env.pub
	if !pub.Durable() {
		fn()
		return
	}
	ch.acksOut.Add(1)
	pub.AfterCommit(ch.neg.ClientID, func(err error) { // broker.Publisher
		defer ch.acksOut.Add(-1)
		if err != nil {
			pub.CommitFailed(err) // counted, logged
			ch.kick(mqtt.UnspecifiedError)
			return
		}
		fn()
	})
}

// storeGroup makes the store changes of one inbound PUBLISH (the QoS 2
// id awaiting PUBREL and every delivery it routes) commit together: a
// crash keeps all or none of them, so the publisher's resend after a crash
// is neither lost nor routed twice. It returns the end of the group.
func (ch *Channel) storeGroup() func() {
	return ch.env.pub.Begin() // broker.Publisher
}

// AcksFlushed returns a channel closed once the acknowledgements queued
// behind the store so far are sent: the host waits for it after Handle
// returned an error (a DISCONNECT included) and before it closes the
// connection, so that what was stored is acknowledged first. The channel
// itself never waits for the store. It is closed at once in memory mode
// or when no acknowledgement waits.
func (ch *Channel) AcksFlushed() <-chan struct{} {
	done := make(chan struct{})
	pub := ch.env.pub
	if !pub.Durable() || ch.acksOut.Load() == 0 || !pub.AfterCommit(ch.neg.ClientID, func(error) { close(done) }) {
		close(done)
	}
	return done
}
