package gateway

import (
	"edgemq/gateway/broker"
	"edgemq/gateway/proto"
	"edgemq/mqtt"
	"fmt"
	"testing"
	"time"
)

// BenchmarkDeliveryEncode encodes one delivery for a connection: the
// per-message, per-subscriber cost of the write path. The payload is
// referenced (writev) from 512 bytes on, copied below.
func BenchmarkDeliveryEncode(b *testing.B) {
	for _, tc := range []struct {
		v    mqtt.Version
		size int
		qos  byte
	}{{mqtt.V311, 64, 0}, {mqtt.V5, 64, 1}, {mqtt.V5, 4096, 1}} {
		b.Run(fmt.Sprintf("v%d/%dB/qos%d", tc.v, tc.size, tc.qos), func(b *testing.B) {
			enc := &encoder{Wire: proto.Wire{Version: tc.v, ProblemInfo: true}, stats: &proto.Stats{}, writev: true}
			m := broker.NewMessage(&mqtt.Publish{Topic: "sensors/site-1/device-42/temp", Payload: make([]byte, tc.size), QoS: tc.qos}, "", time.Now())
			items := []outItem{{d: m.DeliveryFor(tc.qos, false, nil)}}
			var bt batch
			b.SetBytes(int64(tc.size))
			b.ReportAllocs()
			for b.Loop() {
				bt.reset()
				enc.encode(&bt, items)
			}
		})
	}
}
