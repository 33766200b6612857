package proto

// The channel side of storing subscriptions (broker/persist_subs.go): a
// SUBACK or UNSUBACK waits for the packet's one store write.

import (
	"edgemq/gateway/broker"
	"edgemq/mqtt"
)

// subacked queues ack, the SUBACK or UNSUBACK of a packet, then starts
// the retained delivery of want (SUBSCRIBE) from the store's sequence
// number since. For a persistent session (persistent) both wait until
// the packet's one store write is committed, like PUBACK and PUBREC
// (channel.ackAfterStored): a client that got SUBACK keeps the
// subscription across a crash (durability sync). Packets that wait so go
// out in order (afterStoredOut), and retained messages of the new
// subscriptions after the SUBACK; live ones may go before it, as 3.8.4
// allows ("permitted to start sending PUBLISH packets matching the
// Subscription before the Server sends the SUBACK"). A store failure
// closes the connection without SUBACK (afterStored).
func (ch *Channel) subacked(ack mqtt.Packet, want []*broker.Subscription, since uint64, persistent bool) {
	send := func() {
		ch.out.Send(ack) // [MQTT-3.8.4-1, MQTT-3.10.4-4]
		if len(want) > 0 {
			// Paced by the connection (retained_feed.go); what is
			// stored from now on is routed live to the new
			// subscriptions. Each message is checked against the
			// owner's read permission as it is handed over (owner.go).
			ch.sess.StartRetained(ch, want, since) // broker/retained_feed.go
		}
	}
	if !persistent {
		send()
		return
	}
	ch.afterStoredOut(send) // persist_qos2.go
}
