package gateway

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// TestClusterMosquittoAcrossNodes: mosquitto_sub on one node receives
// what mosquitto_pub publishes on another, in MQTT 3.1.1 and 5.0 and
// across them, at QoS 1 and 2.
func TestClusterMosquittoAcrossNodes(t *testing.T) {
	pubBin, subBin := mosqBinaries(t)
	c := startCluster(t, 2, nil)
	hostPort := func(ts *testServer) (string, string) {
		host, port, err := net.SplitHostPort(ts.addr(t, "tcp"))
		if err != nil {
			t.Fatal(err)
		}
		return host, port
	}
	subHost, subPort := hostPort(c.nodes[1])
	pubHost, pubPort := hostPort(c.nodes[0])
	cases := []struct {
		pubV, subV string // mosquitto -V values
		qos        int
	}{{"311", "311", 1}, {"5", "5", 2}, {"311", "5", 2}, {"5", "311", 1}}
	for i, tc := range cases {
		t.Run(fmt.Sprintf("%s to %s qos %d", tc.pubV, tc.subV, tc.qos), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), mosqTimeout)
			defer cancel()
			topic := fmt.Sprintf("mosq/across/%d", i)
			payload := fmt.Sprintf("across %d", i)
			qos := strconv.Itoa(tc.qos)
			sub := exec.CommandContext(ctx, subBin, "-h", subHost, "-p", subPort, "-V", tc.subV, "-i", fmt.Sprintf("mosq-sub-%d", i),
				"-t", topic, "-q", qos, "-C", "1", "-v", "-W", "20")
			var subOut, subErr bytes.Buffer
			sub.Stdout, sub.Stderr = &subOut, &subErr
			sub.WaitDelay = 5 * time.Second
			if err := sub.Start(); err != nil {
				t.Fatalf("starting mosquitto_sub: %v", err)
			}
			subDone := make(chan error, 1)
			go func() { subDone <- sub.Wait() }()
			// Once every NATS server has the interest, the subscription
			// is in place and a publish on any node reaches it.
			c.waitInterest(t, topic)
			pub := exec.CommandContext(ctx, pubBin, "-h", pubHost, "-p", pubPort, "-V", tc.pubV, "-i", fmt.Sprintf("mosq-pub-%d", i),
				"-t", topic, "-m", payload, "-q", qos)
			pub.WaitDelay = 5 * time.Second
			if out, err := pub.CombinedOutput(); err != nil {
				t.Fatalf("mosquitto_pub: %v\n%s", err, out)
			}
			select {
			case err := <-subDone:
				if err != nil {
					t.Fatalf("mosquitto_sub: %v\nstdout: %s\nstderr: %s", err, subOut.String(), subErr.String())
				}
			case <-ctx.Done():
				t.Fatal("mosquitto_sub did not exit")
			}
			if got, want := subOut.String(), topic+" "+payload+"\n"; got != want {
				t.Errorf("mosquitto_sub printed %q, want %q (stderr: %s)", got, want, subErr.String())
			}
		})
	}
}
