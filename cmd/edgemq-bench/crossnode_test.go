package main

import (
	"bytes"
	"testing"
)

// TestPubSubAddrs: -pub-addr and -sub-addr send the publishers and the
// subscribers to their own brokers, whatever -addr says (here a closed
// port). Against one broker everything arrives, with the publishers'
// time to PUBACK measured at QoS 1; against two brokers that share
// nothing (no cluster), nothing does: the two sides really went apart.
func TestPubSubAddrs(t *testing.T) {
	a, b := startGateway(t)["tcp"], startGateway(t)["tcp"]
	for _, tc := range []struct {
		name             string
		pubAddr, subAddr string
		qos              int
		apart            bool
	}{
		{"one broker qos 0", a, a, 0, false},
		{"one broker qos 1", a, a, 1, false},
		{"two brokers", a, b, 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := testOptions("tcp", closedPort(t))
			o.pubAddr, o.subAddr, o.qos, o.rate = tc.pubAddr, tc.subAddr, tc.qos, 2000
			res, err := runFlow(t.Context(), o, "pairs", &bytes.Buffer{})
			if err != nil {
				t.Fatal(err)
			}
			if res.Sent == 0 || res.PubAddr != tc.pubAddr || res.SubAddr != tc.subAddr {
				t.Fatalf("sent %d, pub_addr %q, sub_addr %q", res.Sent, res.PubAddr, res.SubAddr)
			}
			if tc.apart {
				if res.Received != 0 {
					t.Errorf("received %d across two unrelated brokers", res.Received)
				}
			} else if res.Lost != 0 || res.Received != res.Expected {
				t.Errorf("received %d of %d", res.Received, res.Expected)
			}
			if wantAcks := tc.qos > 0; (res.AckCount > 0) != wantAcks || wantAcks && res.AckP99 <= 0 {
				t.Errorf("qos %d: %d acknowledgements timed, p99 %.0f us", tc.qos, res.AckCount, res.AckP99)
			}
		})
	}
}
