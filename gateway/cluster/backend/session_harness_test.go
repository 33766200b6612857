package backend

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"edgemq/gateway/broker"
	"edgemq/gateway/cluster"
	"edgemq/gateway/cluster/clustertest"
	"edgemq/gateway/stats"
	"edgemq/gateway/store"
	"edgemq/mqtt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
)

// sessNode is one node of the sessions tests: a broker and its
// Sessions on one server of a real NATS cluster, with a liveness record.
type sessNode struct {
	name   string
	nc     *nats.Conn
	js     jetstream.JetStream
	layout *cluster.Layout
	b      *broker.Broker
	s      *Sessions
	live   *cluster.Liveness
	// wills are the wills this node published.
	wills chan willSeen
	// stop ends Run and the liveness renewal without releasing the
	// record: the node is gone, as after kill -9.
	stop context.CancelFunc
	done chan struct{}
	// down makes Up report the link down.
	down atomic.Bool
}

type willSeen struct {
	from, topic string
	at          time.Time
}

// willPub is a Publisher that records the wills a node publishes (and
// routes them locally).
type willPub struct {
	*broker.Broker
	seen chan willSeen
}

func (p willPub) RouteAt(m *broker.Message, buf *[]broker.Match, now time.Time) int {
	p.seen <- willSeen{from: m.From(), topic: m.Publish().Topic, at: time.Now()}
	return p.Broker.RouteAt(m, buf, now)
}

type sessReads struct{}

func (sessReads) MayRead(*broker.Policy, *broker.Owner, string, byte) bool { return true }
func (sessReads) RestoredView(string, *store.Owner) any                    { return nil }

// sessTTL is the nodes' liveness TTL: a killed node's sessions are
// claimed this long after. (1 s lapsed under the race detector on a
// loaded machine with every node alive: a node then took another's
// session for a dead node's, without waiting for its kick.)
const sessTTL = 3 * time.Second

// sessCluster starts a 3-server NATS cluster with the layout, and n
// nodes on it (node i on server i%3), each running.
func sessCluster(t *testing.T, n int) (*clustertest.Cluster, []*sessNode) {
	t.Helper()
	return sessClusterWith(t, n, nil)
}

// sessClusterWith is sessCluster with opt, when not nil, changing node
// i's options first.
func sessClusterWith(t *testing.T, n int, opt func(i int, o *SessionsOptions)) (*clustertest.Cluster, []*sessNode) {
	t.Helper()
	c := clustertest.Start(t, 3)
	var nodes []*sessNode
	for i := range n {
		var o func(*SessionsOptions)
		if opt != nil {
			o = func(so *SessionsOptions) { opt(i, so) }
		}
		nodes = append(nodes, startSessNode(t, c, i%3, string(rune('a'+i)), o))
	}
	// Every node serves its kicks before a test starts.
	for _, nd := range nodes {
		for _, s := range c.Servers {
			clustertest.WaitInterest(t, s, cluster.KickSubject(nd.name))
		}
	}
	return c, nodes
}

// startSessNode starts node name on server i of c, running, its
// liveness acquired (waiting for an earlier incarnation's to lapse);
// opt, when not nil, changes its options first.
func startSessNode(t *testing.T, c *clustertest.Cluster, i int, name string, opt func(*SessionsOptions)) *sessNode {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clustertest.Timeout)
	defer cancel()
	nd := &sessNode{name: name, nc: c.Connect(t, i), wills: make(chan willSeen, 16), done: make(chan struct{})}
	var err error
	if nd.js, err = jetstream.New(nd.nc); err != nil {
		t.Fatal(err)
	}
	if nd.layout, err = cluster.EnsureLayout(ctx, nd.js, cluster.LayoutOptions{Replicas: 3}); err != nil {
		t.Fatal(err)
	}
	log := zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)).Named(nd.name)
	nd.b = broker.New(broker.Config{MaxPending: 1000}, &stats.Counters{}, sessReads{}, log)
	so := SessionsOptions{Node: nd.name, Conn: nd.nc, JS: nd.js, Layout: nd.layout, Up: func() bool { return !nd.down.Load() && nd.nc.IsConnected() },
		Broker: nd.b, Pub: willPub{Broker: nd.b, seen: nd.wills}, StrictOwner: true, KickWait: 2 * time.Second,
		Checkpoint: 20 * time.Millisecond, Incarnation: func() string { return nd.live.Incarnation() }, Log: log}
	if opt != nil {
		opt(&so)
	}
	nd.s = NewSessions(so)
	nd.live = cluster.NewLiveness(nd.js, nd.layout.Nodes, nd.name, 100*time.Millisecond, sessTTL, log)
	if err := nd.live.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	nd.stop = stop
	var wg sync.WaitGroup
	wg.Go(func() { _ = nd.live.Run(runCtx) })
	wg.Go(func() { _ = nd.s.Run(runCtx) })
	go func() { wg.Wait(); nd.s.Close(); close(nd.done) }()
	t.Cleanup(func() { stop(); <-nd.done })
	return nd
}

// kill stops nd as kill -9 would: it stops answering and renewing, its
// record lapses after its TTL.
func (nd *sessNode) kill(t *testing.T) {
	t.Helper()
	nd.stop()
	<-nd.done
}

// sessClient is a connection as the broker sees it: what it is sent is
// in out, its kick in kicked. Kicked, it closes as a connection does:
// its session is detached with its will (gone is closed then).
type sessClient struct {
	out    chan *broker.Delivery
	kicked chan mqtt.ReasonCode
	gone   chan struct{}

	mu   sync.Mutex
	nd   *sessNode
	sess *broker.Session
	will *mqtt.Will
}

func newSessClient() *sessClient {
	return &sessClient{out: make(chan *broker.Delivery, 1000), kicked: make(chan mqtt.ReasonCode, 1), gone: make(chan struct{})}
}

func (c *sessClient) Link() broker.Link {
	return broker.Link{Out: c, Window: 1000, Version: mqtt.V5}
}
func (c *sessClient) Deliver(d *broker.Delivery) bool     { c.out <- d; return true }
func (c *sessClient) Pubrel(uint16, mqtt.ReasonCode) bool { return true }
func (c *sessClient) Room() broker.QueueRoom              { return broker.QueueRoom{Items: 1000} }
func (c *sessClient) SetRefill(func())                    {}
func (c *sessClient) AfterStoredOut(fn func())            { fn() }
func (c *sessClient) OutWaiting() bool                    { return false }
func (c *sessClient) Kick(code mqtt.ReasonCode) {
	select {
	case c.kicked <- code:
	default:
		return // closing already
	}
	go c.close()
}

// close detaches the client's session with its will, once it has one.
func (c *sessClient) close() {
	for {
		c.mu.Lock()
		nd, sess, will := c.nd, c.sess, c.will
		c.mu.Unlock()
		if sess != nil {
			nd.s.Detach(sess, c, will)
			close(c.gone)
			return
		}
		time.Sleep(time.Millisecond) // Open has not returned yet
	}
}

// sessOpen opens id's session on nd for c, as a CONNECT would, and returns
// the session and Session Present.
func sessOpen(t *testing.T, nd *sessNode, c *sessClient, id string, clean bool, expiry uint32, will *mqtt.Will) (*broker.Session, bool) {
	t.Helper()
	var present bool
	sess, prev, err := nd.s.Open(broker.OpenRequest{ClientID: id, Clean: clean, Expiry: expiry, Client: c,
		Owner: &broker.Owner{Identity: "user:u", Record: store.Owner{Identity: "user:u"}}, Will: will},
		func(_ *broker.Session, p bool) { present = p })
	if err != nil {
		t.Fatalf("open %s on %s: %v", id, nd.name, err)
	}
	c.mu.Lock()
	c.nd, c.sess, c.will = nd, sess, will
	c.mu.Unlock()
	if prev != nil {
		prev.Kick(mqtt.SessionTakenOver)
	}
	return sess, present
}

// sessSubscribe subscribes sess to filter at qos on nd, as a SUBSCRIBE
// does through the node's Subscriptions seam, up to its SUBACK.
func sessSubscribe(t *testing.T, nd *sessNode, sess *broker.Session, filter string, qos byte) {
	t.Helper()
	subs := nd.s.Subscriptions()
	_ = subs.Subscribing(func() error {
		subs.Subscribe(sess, broker.NewSubscription(broker.SubOptions{Filter: filter, QoS: qos}))
		subs.RetainedSeq() // read last, before SUBACK
		return nil
	})
}

// store publishes a QoS qos message into the messages stream, as a
// node's publisher does, and returns its sequence.
func storeMsg(t *testing.T, js jetstream.JetStream, topic, payload string, qos byte) uint64 {
	t.Helper()
	pub := &mqtt.Publish{QoS: qos, Topic: topic, Payload: []byte(payload), PacketID: 1}
	b, err := mqtt.AppendPublish(nil, pub, mqtt.V5)
	if err != nil {
		t.Fatal(err)
	}
	m := nats.NewMsg(cluster.DurableSubject(topic))
	m.Data = b
	m.Header.Set(hdrFrom, "publisher")
	ctx, cancel := context.WithTimeout(context.Background(), clustertest.Timeout)
	defer cancel()
	ack, err := js.PublishMsg(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	return ack.Sequence
}

// receive reads n deliveries of c, acknowledging each on sess, and
// returns their payloads.
func receive(t *testing.T, c *sessClient, sess *broker.Session, n int) []string {
	t.Helper()
	var got []string
	deadline := time.After(clustertest.Timeout)
	for len(got) < n {
		select {
		case d := <-c.out:
			var pub mqtt.Publish
			broker.PublishFor(&pub, d, mqtt.V5, time.Now())
			got = append(got, string(pub.Payload))
			if pub.QoS == 1 {
				sess.Acked(mqtt.PUBACK, pub.PacketID, 0, c)
			}
		case <-deadline:
			t.Fatalf("received %q, want %d messages", got, n)
		}
	}
	return got
}

// record reads id's record from the sessions stream's leader, which has
// every acknowledged write (cluster.Records.Latest: a direct get may come
// from a replica a write has not reached yet), and at least at the revision nd last wrote, if
// nd holds the session. It waits for the record to exist.
func record(t *testing.T, nd *sessNode, id string) *cluster.SessionRecord {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clustertest.Timeout)
	defer cancel()
	nd.s.mu.Lock()
	var want uint64
	if o := nd.s.owned[id]; o != nil {
		want = o.rev
	}
	nd.s.mu.Unlock()
	for {
		rec, rev, err := nd.s.store.Latest(ctx, nd.nc, id)
		switch {
		case err == nil && rev >= want:
			return rec
		case err != nil && !errors.Is(err, cluster.ErrNoRecord) && ctx.Err() == nil:
			t.Fatalf("record of %s: %v", id, err)
		case ctx.Err() != nil:
			t.Fatalf("record of %s: not at revision %d: %v", id, want, ctx.Err())
		}
		time.Sleep(time.Millisecond) // waiting for the record to be written
	}
}
