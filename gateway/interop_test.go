package gateway

// Interoperability with Debian's Mosquitto command line clients
// (mosquitto_pub and mosquitto_sub from the mosquitto-clients package), in
// MQTT 3.1, 3.1.1 and 5.0.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"edgemq/gateway/broker"
	"edgemq/gateway/proto"
	"edgemq/mqtt"
)

// mosqTimeout bounds one exchange, processes included. Generous: it only
// matters when the test fails.
const mosqTimeout = 30 * time.Second

// mosqVersions maps mosquitto's -V values to protocol levels.
var mosqVersions = map[string]mqtt.Version{"31": mqtt.V31, "311": mqtt.V311, "5": mqtt.V5}

// mosqBinaries finds mosquitto_pub and mosquitto_sub. Without them the
// test is skipped, except in CI (CI=true), where they must be installed.
func mosqBinaries(t *testing.T) (pub, sub string) {
	t.Helper()
	pub, errPub := exec.LookPath("mosquitto_pub")
	sub, errSub := exec.LookPath("mosquitto_sub")
	if err := errors.Join(errPub, errSub); err != nil {
		if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
			t.Fatalf("mosquitto clients are required in CI (apt-get install mosquitto-clients): %v", err)
		}
		t.Skipf("mosquitto clients not installed: %v", err)
	}
	return pub, sub
}

// TestMosquittoClients subscribes with mosquitto_sub and publishes with
// mosquitto_pub through the gateway, in each protocol version, across
// versions, and at QoS 2.
func TestMosquittoClients(t *testing.T) {
	pubBin, subBin := mosqBinaries(t)
	ts := startServer(t, testConfig(t))
	host, port, err := net.SplitHostPort(ts.addr(t, "tcp"))
	if err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name       string
		pubV, subV string // mosquitto -V values
		qos        int
	}{
		{"3.1", "31", "31", 1},
		{"3.1.1", "311", "311", 1},
		{"5.0", "5", "5", 1},
		{"pub 5.0 to sub 3.1", "5", "31", 1},
		{"pub 3.1 to sub 5.0", "31", "5", 1},
		{"qos 2 in 5.0", "5", "5", 2},
		{"qos 2 in 3.1.1", "311", "311", 2},
		{"qos 2 pub 3.1.1 to sub 3.1", "311", "31", 2},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), mosqTimeout)
			defer cancel()
			topic := fmt.Sprintf("edgemq/interop/%d/%d", i, time.Now().UnixNano())
			payload := fmt.Sprintf("hello %s qos %d", tc.name, tc.qos)
			// 3.1 allows at most 23 characters.
			subID := fmt.Sprintf("mosq-sub-%d-%d", i, os.Getpid()%100000)
			pubID := fmt.Sprintf("mosq-pub-%d-%d", i, os.Getpid()%100000)
			qos := strconv.Itoa(tc.qos)

			sub := exec.CommandContext(ctx, subBin, "-h", host, "-p", port, "-V", tc.subV, "-i", subID,
				"-t", topic, "-q", qos, "-C", "1", "-v", "-W", "20")
			var subOut, subErr bytes.Buffer
			sub.Stdout, sub.Stderr = &subOut, &subErr
			sub.WaitDelay = 5 * time.Second
			if err := sub.Start(); err != nil {
				t.Fatalf("starting mosquitto_sub: %v", err)
			}
			subDone := make(chan error, 1)
			go func() { subDone <- sub.Wait() }()

			// The subscription is in the router before SUBACK goes out, so
			// once it shows there one publish reaches the subscriber.
			deadline := time.Now().Add(mosqTimeout / 2)
			var subs []broker.Match
			for subs = ts.eng.Broker().Matches(nil, topic); len(subs) == 0; subs = ts.eng.Broker().Matches(nil, topic) {
				select {
				case err := <-subDone:
					t.Fatalf("mosquitto_sub -V %s ended before subscribing: %v\nstdout: %s\nstderr: %s", tc.subV, err, subOut.String(), subErr.String())
				default:
				}
				if time.Now().After(deadline) {
					t.Fatalf("mosquitto_sub -V %s did not subscribe to %s", tc.subV, topic)
				}
				time.Sleep(5 * time.Millisecond)
			}

			// The subscriber connected in the version asked for.
			owner, _ := subs[0].Key.Holder().(*proto.Channel)
			switch {
			case owner == nil:
				t.Fatalf("the session subscribed to %s has no connection", topic)
			case owner.Negotiated().ClientID != subID:
				t.Fatalf("%s is subscribed by %q, want %q", topic, owner.Negotiated().ClientID, subID)
			case owner.Negotiated().Version != mosqVersions[tc.subV]:
				t.Fatalf("mosquitto_sub -V %s connected in %v", tc.subV, owner.Negotiated().Version)
			}

			pub := exec.CommandContext(ctx, pubBin, "-h", host, "-p", port, "-V", tc.pubV, "-i", pubID,
				"-t", topic, "-m", payload, "-q", qos)
			pub.WaitDelay = 5 * time.Second
			if out, err := pub.CombinedOutput(); err != nil {
				t.Fatalf("mosquitto_pub -V %s -q %s: %v\n%s", tc.pubV, qos, err, out)
			}

			select {
			case err := <-subDone:
				if err != nil {
					t.Fatalf("mosquitto_sub -V %s: %v\nstdout: %s\nstderr: %s", tc.subV, err, subOut.String(), subErr.String())
				}
			case <-ctx.Done():
				t.Fatalf("mosquitto_sub -V %s did not exit", tc.subV)
			}
			if got, want := subOut.String(), topic+" "+payload+"\n"; got != want {
				t.Errorf("mosquitto_sub printed %q, want %q (stderr: %s)", got, want, subErr.String())
			}
		})
	}

	// Both clients disconnect cleanly: nothing is left connected.
	deadline := time.Now().Add(10 * time.Second)
	for ts.Stats().Connections != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d clients still connected after the mosquitto clients exited", ts.Stats().Connections)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
