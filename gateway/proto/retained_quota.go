package proto

// Retained quotas (issue 18): how many retained topics one client id's
// messages may hold (retained.max_per_client), the store's bounds
// (retained.max_messages, max_bytes), and the longest retained topic,
// which the store must be able to hold as a key (store.MaxRetainedTopic,
// in every durability mode so that the rule does not change with it). A
// PUBLISH over any is refused before it is routed or reaches the store
// (channel.admitRetained): one client's write can no longer fail the
// store commit that other clients' writes share, and a v5 publisher
// learns that its message was not retained. A CONNECT whose will would be
// retained on a topic over the key limit is refused (admitWill). The
// retained store enforces all again for what reaches it without a
// PUBLISH (wills, restore).

import (
	"edgemq/gateway/broker"
	"edgemq/gateway/stats"
	"edgemq/gateway/store"
	"edgemq/mqtt"
)

// admitRetained refuses a retained PUBLISH that would exceed a retained
// quota or bound: 0x97 Quota exceeded in PUBACK or PUBREC to an MQTT 5
// client (3.4.2.1: "an implementation or administrative imposed limit has
// been exceeded"; 3.x clients get the normal acknowledgement of a dropped
// message [MQTT-3.3.5-2]; QoS 0 is dropped). The message is neither
// stored nor delivered: a v5 publisher told 0x97 knows it was not
// accepted. It reports whether p may go on.
func (ch *Channel) admitRetained(p *mqtt.Publish) bool {
	if !p.Retain || len(p.Payload) == 0 {
		return true // deleting a retained message always works
	}
	k := ch.env.pub.AdmitRetained(p.Topic, ch.neg.ClientID, len(p.Payload))
	if k < 0 {
		return true
	}
	ch.env.broker.Quotas().Refuse(k)
	ch.refusePublish(p, mqtt.QuotaExceeded, stats.DropRetainedFull)
	return false
}

// admitWill refuses a CONNECT whose will would be retained under a topic
// longer than the store can hold as a key (store.MaxRetainedTopic): it
// would be accepted now and silently not retained when published.
// Refused with CONNACK 0x97 Quota exceeded, "an implementation or
// administrative imposed limit has been exceeded" (3.2.2.2), as a retained
// PUBLISH on such a topic is (admitRetained); 3.x gets return code 3
// Server unavailable, the mapping of 0x97 (mqtt.ReasonCode). 0x90 Topic
// Name invalid would say the topic itself is refused, which it is not
// without the retain flag. A will that is not retained (a 3.x one is not
// when retain is unavailable, connect.go) or that deletes (empty payload)
// is admitted.
func (ch *Channel) admitWill(c *mqtt.Connect) error {
	w := c.Will
	if w == nil || !w.Retain || len(w.Payload) == 0 || len(w.Topic) <= store.MaxRetainedTopic {
		return nil
	}
	if c.Version != mqtt.V5 && !ch.neg.RetainAvailable {
		return nil
	}
	ch.env.broker.Quotas().Refuse(broker.QuotaRetainedTopic)
	return mqtt.Errorf(mqtt.QuotaExceeded, "3.2.2.2", "retained will topic of %d bytes over the limit of %d", len(w.Topic), store.MaxRetainedTopic)
}
