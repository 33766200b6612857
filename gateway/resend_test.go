package gateway

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"edgemq/configs"
	"edgemq/mqtt"

	"github.com/eclipse/paho.golang/paho"
)

// TestResendInFlightQoS2 resumes a session whose QoS 2 PUBLISH was sent
// and never acknowledged with PUBREC: the client may hold its packet id
// awaiting PUBREL (its PUBREC lost), so the flow for that id must go on
// [MQTT-4.4.0-1] rather than the id be freed for another message. An
// expired one is sent again, DUP set, under its id [MQTT-3.3.2-5,
// MQTT-4.3.3-7]; one over the new Maximum Packet Size [MQTT-3.1.2-24] or
// that the owner may no longer read is released with PUBREL under its id
// (resend.go), and the id is free only after PUBCOMP. A QoS 1 one in the
// same case is forgotten, as before (TestSessionResendRespectsNewMaximumPacketSize).
func TestResendInFlightQoS2(t *testing.T) {
	tests := []struct {
		name    string
		expiry  uint32 // Message Expiry Interval of the message, seconds
		payload int
		maxSize uint32 // the new connection's Maximum Packet Size
		revoke  bool   // the ACL no longer lets the owner read the topic
		want    mqtt.Type
	}{
		{name: "expired", expiry: 1, payload: 10, want: mqtt.PUBLISH},
		{name: "too large", payload: 600, maxSize: 256, want: mqtt.PUBREL},
		{name: "read denied", payload: 10, revoke: true, want: mqtt.PUBREL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t)
			aclFile := filepath.Join(t.TempDir(), "acl.yaml")
			granted := "rules:\n  - {permission: allow, action: all, topic: \"rs/#\"}\n"
			if err := os.WriteFile(aclFile, []byte(granted), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg.ACL = configs.ACL{Default: "deny", File: aclFile, ReloadInterval: 10 * time.Millisecond,
				Rules: []configs.ACLRule{{Permission: "allow", Action: "all", Topic: "fence/#"}}}
			ts := startServer(t, cfg)

			sub, _ := dialSess(t, ts, "tcp", sessConnect(mqtt.V5, "rs-sub", true, 300))
			sub.subscribe(t, "rs/#", 2, mqtt.GrantedQoS2)
			sub.subscribe(t, "fence/#", 0, mqtt.GrantedQoS0)
			pub := connectV5(t, ts, v5Connect("rs-pub"))
			p := &paho.Publish{Topic: "rs/a", QoS: 2, Payload: []byte(strings.Repeat("x", tt.payload))}
			if tt.expiry > 0 {
				p.Properties = &paho.PublishProperties{MessageExpiry: &tt.expiry}
			}
			pub.publish(t, p)
			acked := time.Now() // the gateway got the message before this
			first := nextOf[*mqtt.Publish](t, sub)
			sub.nc.Close() // no PUBREC: the client holds the id (or not)
			waitConnections(t, ts, 1)

			if tt.expiry > 0 {
				// The message expires while the session is offline.
				expires := acked.Add(time.Duration(tt.expiry)*time.Second + 50*time.Millisecond)
				eventually(t, "the message expiry", func() bool { return time.Now().After(expires) })
			}
			if tt.revoke {
				before := ts.eng.Authorizer()
				replaceFile(t, aclFile, "rules: []\n")
				eventually(t, "the acl file reload", func() bool { return ts.eng.Authorizer() != before })
			}
			cp := sessConnect(mqtt.V5, "rs-sub", false, 300)
			if tt.maxSize > 0 {
				cp.Properties.SetUint32(mqtt.PropMaximumPacketSize, tt.maxSize)
			}
			again, ack := dialSess(t, ts, "tcp", cp)
			if !ack.SessionPresent {
				t.Fatal("session not resumed")
			}
			got := again.next(t)
			switch g := got.(type) {
			case *mqtt.Publish:
				if tt.want != mqtt.PUBLISH || g.PacketID != first.PacketID || !g.Dup || string(g.Payload) != string(first.Payload) {
					t.Fatalf("after resuming: PUBLISH id %d dup %v, want %v for id %d", g.PacketID, g.Dup, tt.want, first.PacketID)
				}
				again.send(t, &mqtt.Pubrec{PacketID: g.PacketID})
				rel := nextOf[*mqtt.Pubrel](t, again)
				if rel.PacketID != first.PacketID {
					t.Fatalf("PUBREL id %d, want %d", rel.PacketID, first.PacketID)
				}
			case *mqtt.Pubrel:
				if tt.want != mqtt.PUBREL || g.PacketID != first.PacketID {
					t.Fatalf("after resuming: PUBREL id %d, want %v for id %d", g.PacketID, tt.want, first.PacketID)
				}
			default:
				t.Fatalf("after resuming: got %v %+v, want %v for id %d", got.Type(), got, tt.want, first.PacketID)
			}
			// The client releases the id; the flow is over.
			again.send(t, &mqtt.Pubcomp{PacketID: first.PacketID})
			again.expectFence(t, pub, "fence/a")
		})
	}
}
