package backend

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"edgemq/gateway/broker"
	"edgemq/gateway/cluster"
	"edgemq/gateway/cluster/clustertest"
	"edgemq/mqtt"

	"github.com/nats-io/nats-server/v2/server"
)

// TestStreamPublishesSpreadPerClient: clients publishing QoS 1 at once
// on node b1, each without waiting for its acknowledgements, have their
// stream publishes carried by several of the node's publish connections
// (the NATS server's own counters of each connection), and still: each
// client's acknowledgements complete in the order of its PUBLISHes
// [MQTT-4.6.0-2], and a subscriber on node b2 receives each client's
// messages once, in the order it sent them [MQTT-4.6.0-6].
func TestStreamPublishesSpreadPerClient(t *testing.T) {
	// At most the subscriber's window (100): the test client never acknowledges.
	const clients, each = 8, 12
	nc, nodes := startNodes(t, 3)
	s, sub := nodes[1].open(t, "spread-sub")
	nodes[1].subscribe(t, s, "spread/#", 0)
	waitRemoteInterest(t, nc.Servers[0], cluster.TopicSubject("spread/c0"))

	pub := nodes[0].be.Publisher()
	completed := make([]chan int, clients)
	var wg sync.WaitGroup
	for c := range clients {
		completed[c] = make(chan int, each)
		wg.Go(func() {
			client := fmt.Sprintf("spread-c%d", c)
			for i := range each {
				end := pub.Begin()
				var buf []broker.Match
				now := time.Now()
				p := &mqtt.Publish{Topic: fmt.Sprintf("spread/c%d", c), QoS: 1, PacketID: uint16(i + 1), Payload: []byte(fmt.Sprintf("%d:%d", c, i))}
				pub.RouteAt(broker.NewMessage(p, client, now), &buf, now)
				pub.AfterCommit(client, func(err error) {
					if err != nil {
						t.Errorf("%s message %d: %v", client, i, err)
					}
					completed[c] <- i
				})
				end()
			}
		})
	}
	wg.Wait()
	for c := range clients {
		for want := range each {
			select {
			case got := <-completed[c]:
				if got != want {
					t.Fatalf("client %d: acknowledgement of message %d completed where %d was due", c, got, want)
				}
			case <-time.After(clustertest.Timeout):
				t.Fatalf("client %d: message %d not acknowledged", c, want)
			}
		}
	}

	next := make([]int, clients)
	for range clients * each {
		p := sub.next(t)
		c, i, ok := strings.Cut(string(p.Payload), ":")
		if !ok {
			t.Fatalf("unexpected payload %q", p.Payload)
		}
		cn, _ := strconv.Atoi(c)
		in, _ := strconv.Atoi(i)
		if cn < 0 || cn >= clients || in != next[cn] {
			t.Fatalf("received %q, client %s's message %d was due", p.Payload, c, next[min(max(cn, 0), clients-1)])
		}
		next[cn]++
	}

	conns, err := nc.Servers[0].Server().Connz(&server.ConnzOptions{Limit: 1024})
	if err != nil {
		t.Fatal(err)
	}
	var used int
	var carried int64
	for _, ci := range conns.Conns {
		if strings.HasPrefix(ci.Name, "edgemq b1 publish ") && ci.InMsgs > 0 {
			used++
			carried += ci.InMsgs
		}
	}
	if used < 2 || carried < clients*each {
		t.Errorf("the stream publishes of %d clients went on %d publish connections carrying %d messages, want at least 2 carrying %d", clients, used, carried, clients*each)
	}
}

// waitRemoteInterest waits until srv knows of a subscriber of subject
// elsewhere.
func waitRemoteInterest(tb testing.TB, srv *cluster.Embedded, subject string) {
	tb.Helper()
	deadline := time.Now().Add(clustertest.Timeout)
	for srv.Interest(subject) == 0 {
		if time.Now().After(deadline) {
			tb.Fatalf("no interest in %q reached %s", subject, srv.Server().Name())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
