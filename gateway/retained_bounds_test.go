package gateway

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"edgemq/gateway/broker"
	"edgemq/gateway/store"
	"edgemq/mqtt"

	"github.com/eclipse/paho.golang/paho"
)

// TestRetainedBoundsRefused checks retained.max_messages and max_bytes at
// the PUBLISH: a retained message that would make a new topic over
// max_messages, or grow the store over max_bytes, is refused with
// PUBACK/PUBREC 0x97 Quota exceeded to an MQTT 5 publisher (3.4.2.1,
// 3.5.2.1) and neither stored nor delivered, counted in
// edgemq_quota_refused_total; a 3.1.1 publisher gets its normal
// acknowledgement [MQTT-3.3.5-2] and the message is dropped. Replacing
// within the bounds and deleting always work.
func TestRetainedBoundsRefused(t *testing.T) {
	type pub struct {
		topic, payload string
		qos            byte
		want           byte
	}
	tests := []struct {
		name          string
		maxMessages   int
		maxBytes      int64
		kind          broker.QuotaKind
		pubs          []pub
		wantRetained  []string
		v3Topic       string // a 3.1.1 retained publish over the bound
		wantRefusals  int64
		wantLiveCount int
	}{
		{
			name: "max_messages", maxMessages: 2, kind: broker.QuotaRetainedMessages,
			pubs: []pub{
				{"rb/1", "a", 1, 0},
				{"rb/2", "b", 1, 0},
				{"rb/3", "c", 1, 0x97}, // a third topic
				{"rb/3", "c", 2, 0x97},
				{"rb/1", "a2", 1, 0}, // replacing works
				{"rb/2", "", 1, 0},   // deleting works...
				{"rb/3", "c", 2, 0},  // ...and frees a place
			},
			wantRetained: []string{"rb/1", "rb/3"}, v3Topic: "rb/v3", wantRefusals: 3,
		},
		{
			// 4 bytes of topic plus the payload each.
			name: "max_bytes", maxBytes: 20, kind: broker.QuotaRetainedBytes,
			pubs: []pub{
				{"rb/1", "aaaaa", 1, 0},           // 9
				{"rb/2", "bbbbb", 1, 0},           // 18
				{"rb/3", "c", 1, 0x97},            // 23
				{"rb/1", "aaaaaaaaaaaa", 2, 0x97}, // replacing: 25
				{"rb/1", "aaaaaaa", 1, 0},         // replacing: 20
				{"rb/2", "", 1, 0},                // deleting: 11
				{"rb/3", "c", 2, 0},               // 16
			},
			wantRetained: []string{"rb/1", "rb/3"}, v3Topic: "rb/v3xxxx", wantRefusals: 3,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t)
			cfg.Retained.MaxMessages, cfg.Retained.MaxBytes = tt.maxMessages, tt.maxBytes
			cfg.Sys.Interval = 0 // no $SYS retained messages in the bounds
			ts := startServer(t, cfg)
			live := connectV5(t, ts, v5Connect("rb-live"))
			live.subscribe(t, "rb/#", 1)
			p := connectV5(t, ts, v5Connect("rb-pub"))
			var accepted []string
			for _, pb := range tt.pubs {
				got := publishCode(t, p, &paho.Publish{Topic: pb.topic, QoS: pb.qos, Retain: true, Payload: []byte(pb.payload)})
				if got != pb.want {
					t.Errorf("retained %q qos %d %q: reason 0x%02x, want 0x%02x", pb.topic, pb.qos, pb.payload, got, pb.want)
				}
				if got == 0 {
					accepted = append(accepted, pb.topic+"="+pb.payload)
				}
			}
			v3 := connectV3(t, ts, "rb-v3", nil)
			v3.publish(t, tt.v3Topic, 1, true, "x") // acknowledged [MQTT-3.3.5-2]
			v3.roundTrip(t)                         // and still connected

			// Live: what was accepted, in order, then the fence: nothing
			// refused was delivered.
			var got []string
			for range accepted {
				m := live.expectMessage(t)
				got = append(got, m.Topic+"="+string(m.Payload))
			}
			if !slices.Equal(got, accepted) {
				t.Errorf("live subscriber got %v, want %v", got, accepted)
			}
			live.expectFence(t, p, "rb/fence")
			if got := retainedTopics(ts.eng.Broker().RetainedMatch("#", time.Now())); !slices.Equal(got, tt.wantRetained) {
				t.Errorf("retained topics %v, want %v", got, tt.wantRetained)
			}
			if n := ts.eng.Broker().Quotas().Refused(tt.kind); n != tt.wantRefusals {
				t.Errorf("%d %s refusals counted, want %d", n, tt.kind, tt.wantRefusals)
			}
		})
	}
}

// TestWillRetainedTopicTooLong checks that a CONNECT whose will would be
// retained on a topic longer than the store holds as a key
// (store.MaxRetainedTopic) is refused: CONNACK 0x97 Quota exceeded (v5,
// 3.2.2.2), return code 3 in 3.1.1 (the v5→v3 mapping), counted as
// retained_topic_length. The same will without retain is accepted.
// Before, it was accepted and the will later silently not retained.
func TestWillRetainedTopicTooLong(t *testing.T) {
	long := strings.Repeat("W", store.MaxRetainedTopic+1)
	tests := []struct {
		v      mqtt.Version
		retain bool
		want   mqtt.ReasonCode
	}{
		{mqtt.V5, true, mqtt.QuotaExceeded},
		{mqtt.V311, true, mqtt.ReasonCode(mqtt.ConnRefusedServerUnavailable)},
		{mqtt.V5, false, mqtt.Success},
		{mqtt.V311, false, mqtt.Success},
	}
	ts := startServer(t, testConfig(t))
	refused := int64(0)
	for i, tt := range tests {
		t.Run(fmt.Sprintf("v%d retain %v", tt.v, tt.retain), func(t *testing.T) {
			nc := dial(t, ts, "tcp")
			c := &sessClient{nc: nc, rd: mqtt.NewReader(nc, 0, nil), v: tt.v, id: fmt.Sprintf("will-%d", i)}
			cp := sessConnect(tt.v, c.id, true, 0)
			cp.Will = &mqtt.Will{QoS: 1, Retain: tt.retain, Topic: long, Payload: []byte("gone")}
			c.send(t, cp)
			ack := nextOf[*mqtt.Connack](t, c)
			if ack.ReasonCode != tt.want {
				t.Fatalf("CONNACK 0x%02x, want 0x%02x", byte(ack.ReasonCode), byte(tt.want))
			}
			if tt.want != mqtt.Success {
				refused++
				c.expectClosed(t)
			}
			if n := ts.eng.Broker().Quotas().Refused(broker.QuotaRetainedTopic); n != refused {
				t.Errorf("%d retained_topic_length refusals counted, want %d", n, refused)
			}
		})
	}
}
