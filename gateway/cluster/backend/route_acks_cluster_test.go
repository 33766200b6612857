package backend

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"edgemq/gateway/broker"
	"edgemq/gateway/cluster/clustertest"
	"edgemq/mqtt"

	"github.com/nats-io/nats.go"
)

// TestClusterAcksPerClient: with the messages stream's real answers, of
// which the test holds back the one to client A's first publish (it
// takes the publisher's answer subscription over and hands answers on
// itself), client B's waiter completes while A's earlier publish is
// unanswered: no head-of-line blocking across clients. A's second
// publish, answered at once, still waits for its first [MQTT-4.6.0-2]:
// when the held answer is handed on, A's two waiters complete in order.
func TestClusterAcksPerClient(t *testing.T) {
	_, nodes := startNodes(t, 3)
	p := nodes[0].be.pub
	answers := make(chan *nats.Msg, 64)
	if err := p.ackSub.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	sub, err := p.nc.Subscribe(p.ackPrefix+"*", func(m *nats.Msg) { answers <- m })
	if err != nil {
		t.Fatal(err)
	}
	p.ackSub = sub // the backend's close unsubscribes it
	number := func(m *nats.Msg) uint64 {
		n, err := strconv.ParseUint(m.Subject[strings.LastIndexByte(m.Subject, '.')+1:], 10, 64)
		if err != nil {
			t.Fatalf("answer on %q", m.Subject)
		}
		return n
	}
	completed := make(chan string, 8)
	// publish routes a QoS 1 PUBLISH of client through the node's
	// Publisher as a channel does and asks for its completion; it
	// returns the number of its stream publish.
	publish := func(client, name string, pid uint16) uint64 {
		t.Helper()
		pub := nodes[0].be.Publisher()
		end := pub.Begin()
		defer end()
		var buf []broker.Match
		now := time.Now()
		pub.RouteAt(broker.NewMessage(&mqtt.Publish{Topic: "acks/" + client, QoS: 1, PacketID: pid, Payload: []byte(name)}, client, now), &buf, now)
		n := p.acks.last(client)
		pub.AfterCommit(client, func(err error) {
			if err != nil {
				t.Errorf("%s: %v", name, err)
			}
			completed <- name
		})
		return n
	}
	// next returns the next answer of the stream.
	next := func() *nats.Msg {
		t.Helper()
		select {
		case m := <-answers:
			return m
		case <-time.After(clustertest.Timeout):
			t.Fatal("no answer from the stream")
			return nil
		}
	}

	a1 := publish("A", "a1", 1)
	publish("B", "b1", 1)
	var held *nats.Msg
	for bDone := false; !bDone || held == nil; {
		select {
		case m := <-answers:
			if number(m) == a1 {
				held = m
				continue
			}
			p.answer(m)
		case name := <-completed:
			if name != "b1" {
				t.Fatalf("%s completed while A's first publish is unanswered", name)
			}
			bDone = true
		case <-time.After(clustertest.Timeout):
			t.Fatalf("B's waiter did not complete while A's earlier publish is unanswered (answer held: %v)", held != nil)
		}
	}

	a2 := publish("A", "a2", 2)
	m := next()
	if number(m) != a2 {
		t.Fatalf("unexpected answer %q", m.Subject)
	}
	p.answer(m) // completes what it can, on this goroutine
	select {
	case name := <-completed:
		t.Fatalf("%s completed before A's first publish was answered", name)
	default:
	}
	p.answer(held)
	for _, want := range []string{"a1", "a2"} {
		select {
		case name := <-completed:
			if name != want {
				t.Fatalf("completed %s, want %s: A's acknowledgements out of order", name, want)
			}
		case <-time.After(clustertest.Timeout):
			t.Fatalf("%s not completed", want)
		}
	}
	if !p.acks.idle() || p.acks.tracked() != 0 {
		t.Errorf("state left: idle %v, %d clients tracked", p.acks.idle(), p.acks.tracked())
	}
}
