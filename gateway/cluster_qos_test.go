package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"edgemq/gateway/cluster"
	"edgemq/gateway/cluster/backend"
	"edgemq/gateway/cluster/clustertest"
	"edgemq/mqtt"

	"github.com/eclipse/paho.golang/paho"
	"github.com/nats-io/nats.go/jetstream"
)

// rawV5 is a client speaking MQTT 5.0 with the edgemq codec over TCP, for
// what client libraries do not let a test send (a DUP retransmission)
// or see (that no acknowledgement came).
type rawV5 struct {
	conn net.Conn
}

// dialRawV5 connects to ts's tcp listener as clientID and reads CONNACK.
func dialRawV5(tb testing.TB, ts *testServer, clientID string) *rawV5 {
	tb.Helper()
	c := &rawV5{conn: dial(tb, ts, "tcp")}
	c.send(tb, &mqtt.Connect{ProtocolName: "MQTT", Version: mqtt.V5, CleanStart: true, KeepAlive: 60, ClientID: clientID})
	if ack, ok := c.read(tb).(*mqtt.Connack); !ok || ack.ReasonCode != mqtt.Success {
		tb.Fatalf("connect %q: got %+v", clientID, ack)
	}
	return c
}

func (c *rawV5) send(tb testing.TB, p mqtt.Packet) {
	tb.Helper()
	if err := mqtt.WritePacket(c.conn, p, mqtt.V5); err != nil {
		tb.Fatalf("writing %v: %v", p.Type(), err)
	}
}

// read returns the next packet, nil once the server closed the
// connection.
func (c *rawV5) read(tb testing.TB) mqtt.Packet {
	tb.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(eventTimeout))
	p, err := mqtt.ReadPacket(c.conn, mqtt.V5, 0)
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
		return nil
	case err != nil:
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			tb.Fatalf("no packet from the server")
		}
		return nil // reset by the server
	}
	return p
}

// messagesStream returns the cluster's messages stream, read through a
// NATS client of server i.
func (c *testCluster) messagesStream(tb testing.TB, i int) (jetstream.JetStream, jetstream.Stream) {
	tb.Helper()
	js, err := jetstream.New(c.nats.Connect(tb, i))
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), clustertest.Timeout)
	defer cancel()
	st, err := js.Stream(ctx, cluster.MessagesStream)
	if err != nil {
		tb.Fatalf("the messages stream: %v", err)
	}
	return js, st
}

// storedCount returns how many messages the stream holds on subject.
func storedCount(tb testing.TB, st jetstream.Stream, subject string) uint64 {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clustertest.Timeout)
	defer cancel()
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(subject))
	if err != nil {
		tb.Fatal(err)
	}
	return info.State.Subjects[subject]
}

// TestClusterAckAfterStored: a QoS 1 or 2 PUBLISH on a node is
// acknowledged (PUBACK, PUBREC) only once the cluster's messages stream
// stored it [MQTT-4.3.2-2, MQTT-4.3.3-8]: when the acknowledgement
// arrives the stream holds the message; a DUP retransmission, sent to
// another node after the acknowledgement was lost, is acknowledged but
// stored once [MQTT-3.3.1-1: DUP is a retransmission]; and with the
// stream gone nothing is acknowledged: the publisher is disconnected
// instead, to send again elsewhere.
func TestClusterAckAfterStored(t *testing.T) {
	c := startCluster(t, 3, nil)
	_, st := c.messagesStream(t, 2)
	for _, qos := range []byte{1, 2} {
		topic := fmt.Sprintf("stored/qos%d", qos)
		subject := cluster.DurableSubject(topic)
		pub := &mqtt.Publish{Topic: topic, QoS: qos, PacketID: 7, Payload: []byte("once")}
		first := dialRawV5(t, c.nodes[0], fmt.Sprintf("dup%d", qos))
		first.send(t, pub)
		ack := first.read(t)
		if ack == nil || ack.Type() != ackType(qos) {
			t.Fatalf("qos %d: got %v, want its acknowledgement", qos, ack)
		}
		if n := storedCount(t, st, subject); n != 1 {
			t.Fatalf("qos %d: acknowledged with %d stored messages, want 1", qos, n)
		}
		// The acknowledgement was lost: the client sends again, DUP, on
		// another node.
		first.conn.Close()
		again := dialRawV5(t, c.nodes[1], fmt.Sprintf("dup%d", qos))
		dup := *pub
		dup.Dup = true
		again.send(t, &dup)
		if ack := again.read(t); ack == nil || ack.Type() != ackType(qos) {
			t.Fatalf("qos %d: the retransmission got %v", qos, ack)
		}
		if n := storedCount(t, st, subject); n != 1 {
			t.Fatalf("qos %d: the retransmission made %d stored messages, want 1", qos, n)
		}
	}
	// The stream is gone: no acknowledgement, the publisher is
	// disconnected.
	js, _ := c.messagesStream(t, 0)
	ctx, cancel := context.WithTimeout(context.Background(), clustertest.Timeout)
	defer cancel()
	if err := js.DeleteStream(ctx, cluster.MessagesStream); err != nil {
		t.Fatal(err)
	}
	lost := dialRawV5(t, c.nodes[2], "unstored")
	lost.send(t, &mqtt.Publish{Topic: "stored/lost", QoS: 1, PacketID: 9, Payload: []byte("lost")})
	for {
		p := lost.read(t)
		if p == nil {
			break // closed without an acknowledgement
		}
		if p.Type() == mqtt.PUBACK {
			t.Fatal("a PUBLISH the stream did not store was acknowledged")
		}
		if d, ok := p.(*mqtt.Disconnect); ok && d.ReasonCode != mqtt.UnspecifiedError {
			t.Fatalf("disconnected with %v, want unspecified error", d.ReasonCode)
		}
	}
}

// ackType is the acknowledgement of a QoS 1 or 2 PUBLISH.
func ackType(qos byte) mqtt.Type {
	if qos == 2 {
		return mqtt.PUBREC
	}
	return mqtt.PUBACK
}

// TestClusterSharedGroupAcrossNodes: a shared subscription group with a
// member on every node gets each message once in the whole cluster, QoS
// 0 and 1 alike, whichever node it is published on (the NATS queue group
// picks the member; the publisher's node does not pick one of its own as
// well) [MQTT-4.8.2].
func TestClusterSharedGroupAcrossNodes(t *testing.T) {
	c := startCluster(t, 3, nil)
	members := make([]*v5Client, 3)
	for i := range members {
		members[i] = connectV5(t, c.nodes[i], v5Connect(fmt.Sprintf("member%d", i+1)))
		members[i].subscribe(t, "$share/g/work/#", 1)
		members[i].subscribe(t, "fence/all", 1)
	}
	c.waitInterest(t, "work/x")
	c.waitInterest(t, "fence/all")
	// What every member gets, in one stream: member index and message.
	type got struct {
		member int
		msg    *paho.Publish
	}
	all := make(chan got)
	for i, m := range members {
		go func() {
			for {
				select {
				case msg := <-m.msgs:
					select {
					case all <- got{i, msg}:
					case <-t.Context().Done():
						return
					}
				case <-t.Context().Done():
					return
				}
			}
		}()
	}
	const n = 20
	seen := map[string]int{}
	for p, node := range []int{0, 1, 2} {
		pub := connectV5(t, c.nodes[node], v5Connect(fmt.Sprintf("pub%d", p)))
		for i := range n {
			pub.publish(t, &paho.Publish{Topic: fmt.Sprintf("work/%d", i), QoS: byte(i % 2), Payload: fmt.Appendf(nil, "e%d-%d", node+1, i)})
		}
		pub.publish(t, &paho.Publish{Topic: "fence/all", QoS: 1, Payload: []byte("fence")})
		// The round is over once every member has its fence and the group
		// every message. A member's fence may come before a group message
		// it gets: on the publisher's node the fence is delivered at once,
		// while the queue group's pick comes back through NATS (MQTT
		// orders messages per topic, not across topics [MQTT-4.6.0-6]).
		fenced, round := map[int]bool{}, 0
		deadline := time.After(eventTimeout)
		for len(fenced) < len(members) || round < n {
			select {
			case g := <-all:
				if g.msg.Topic == "fence/all" {
					if fenced[g.member] {
						t.Fatalf("round %d: member%d got the fence twice", p, g.member+1)
					}
					fenced[g.member] = true
					continue
				}
				key := string(g.msg.Payload)
				if seen[key] == 0 && strings.HasPrefix(key, fmt.Sprintf("e%d-", node+1)) {
					round++
				}
				seen[key]++
			case <-deadline:
				t.Fatalf("round %d: %d of %d members fenced, %d of %d messages seen", p, len(fenced), len(members), round, n)
			}
		}
	}
	for node := range 3 {
		for i := range n {
			key := fmt.Sprintf("e%d-%d", node+1, i)
			if seen[key] != 1 {
				t.Errorf("message %s reached the group %d times, want once", key, seen[key])
			}
		}
	}
	if len(seen) != 3*n {
		t.Errorf("the group got %d distinct messages, want %d", len(seen), 3*n)
	}
}

// TestClusterSharedRedeliveryAcrossNodes: a QoS 1 message a shared group
// gave a member that ends its session without acknowledging it goes to
// another member of the group, on another node, when none is left on the
// first (4.8.2: "the Server SHOULD send the Application Message to another
// Client that is subscribed to the same Shared Subscription").
func TestClusterSharedRedeliveryAcrossNodes(t *testing.T) {
	c := startCluster(t, 3, nil)
	first := dialRawV5(t, c.nodes[0], "first-member")
	first.send(t, &mqtt.Subscribe{PacketID: 1, Subscriptions: []mqtt.Subscription{{Filter: "$share/h/job", QoS: 1}}})
	if p := first.read(t); p == nil || p.Type() != mqtt.SUBACK {
		t.Fatalf("got %v, want SUBACK", p)
	}
	c.waitInterest(t, "job")
	pub := connectV5(t, c.nodes[2], v5Connect("job-pub"))
	pub.publish(t, &paho.Publish{Topic: "job", QoS: 1, Payload: []byte("task")})
	p, ok := first.read(t).(*mqtt.Publish)
	if !ok || string(p.Payload) != "task" || p.QoS != 1 {
		t.Fatalf("the only member got %+v, want the task at qos 1", p)
	}
	second := connectV5(t, c.nodes[1], v5Connect("second-member"))
	second.subscribe(t, "$share/h/job", 1)
	// The first member's server knows of the second member's queue.
	subject := backend.GroupSubject("h", "job")
	clustertest.Eventually(t, func() bool { return c.nats.Servers[0].Interest(subject) >= 2 },
		func() string { return "the first node's server does not see the second member" })
	// The first member goes without acknowledging the task; its session
	// ends with its connection (no Session Expiry Interval).
	first.conn.Close()
	m := second.expectMessage(t)
	if m.Topic != "job" || string(m.Payload) != "task" || m.QoS != 1 {
		t.Fatalf("the second member got %q on %q at qos %d, want the task", m.Payload, m.Topic, m.QoS)
	}
}
