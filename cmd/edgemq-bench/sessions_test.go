package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"edgemq/mqtt"
)

// TestSessionsScenario runs the sessions scenario against an in-process
// gateway (listed twice in -addrs: the sessions go round robin), 3.1.1
// and 5.0: every session is opened, counted per broker, printed as one
// JSON line, and kept by the broker after its client left: a client
// coming back with its id finds it (Session Present [MQTT-3.2.2-2]).
func TestSessionsScenario(t *testing.T) {
	addrs := startGateway(t)
	for _, version := range []int{4, 5} {
		t.Run(fmt.Sprintf("v%d", version), func(t *testing.T) {
			o := testOptions("tcp", addrs["tcp"])
			o.version, o.n, o.qos, o.sessionExpiry = version, 150, 1, 600
			o.addrs = addrs["tcp"] + ", " + addrs["tcp"]
			var out bytes.Buffer
			res, err := runSessions(t.Context(), o, &out, &bytes.Buffer{})
			if err != nil {
				t.Fatalf("running sessions: %v", err)
			}
			if res.Sessions != o.n || res.Failed != 0 || res.PerBroker[addrs["tcp"]] != o.n {
				t.Fatalf("result %+v, want %d sessions on %s", res, o.n, addrs["tcp"])
			}
			var m sessionsResult
			if err := json.Unmarshal(out.Bytes(), &m); err != nil || m.Sessions != res.Sessions || m.Prefix != res.Prefix {
				t.Fatalf("JSON line %q (%v), want %+v", out.String(), err, *res)
			}
			for _, i := range []int{0, 77, o.n - 1} {
				if !sessionPresent(t, addrs["tcp"], mqtt.Version(version), res.Prefix+"-"+strconv.Itoa(i)) {
					t.Errorf("session %d not kept", i)
				}
			}
			if sessionPresent(t, addrs["tcp"], mqtt.Version(version), res.Prefix+"-"+strconv.Itoa(o.n)) {
				t.Error("a session the scenario never opened is present")
			}
		})
	}
}

// sessionPresent connects as id without a clean start and reports the
// CONNACK's Session Present.
func sessionPresent(t *testing.T, addr string, v mqtt.Version, id string) bool {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	connect := &mqtt.Connect{Version: v, ClientID: id}
	if v == mqtt.V5 {
		connect.Properties.SetUint32(mqtt.PropSessionExpiryInterval, 600)
	}
	if err := mqtt.WritePacket(c, connect, v); err != nil {
		t.Fatal(err)
	}
	p, err := mqtt.ReadPacket(c, v, 0)
	if err != nil {
		t.Fatal(err)
	}
	ack, ok := p.(*mqtt.Connack)
	if !ok || ack.ReasonCode != 0 {
		t.Fatalf("connect as %s: %v", id, p)
	}
	return ack.SessionPresent
}
