package proto

// The channel side of exactly once across a crash (broker/persist_qos2.go
// has the rules): outbound packets that wait for the store commit, in
// order.

// afterStoredOut runs fn, which queues an outbound packet, once what was
// queued to the store so far is stored. outWaiting counts it until fn has
// queued the packet, so that a packet queued directly cannot overtake it.
// A store failure closes the connection (afterStored) and leaves
// outWaiting raised: nothing more is sent on it.
func (ch *Channel) afterStoredOut(fn func()) {
	ch.outWaiting.Add(1)
	ch.afterStored(func() { // persist.go
		fn()
		ch.outWaiting.Add(-1)
	})
}
