package proto

// The channel side of persistence (the broker side, what is stored and
// the restore, is broker/persist.go; opening the store, the root's
// engine.go): an acknowledgement that waits for the store, the group of
// one inbound PUBLISH, and the flush before a connection closes.

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
	pub.AfterCommit(func(err error) { // broker.Publisher
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

// flushAcks waits until the acknowledgements queued behind the store are
// sent, before the connection closes (an error, or DISCONNECT). It holds
// no lock.
func (ch *Channel) flushAcks() {
	if !ch.env.pub.Durable() || ch.acksOut.Load() == 0 {
		return
	}
	done := make(chan struct{})
	ch.env.pub.AfterCommit(func(error) { close(done) })
	<-done
}
