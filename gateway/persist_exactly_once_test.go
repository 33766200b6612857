package gateway

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"edgemq/mqtt"
)

// TestCrashExactlyOnce builds the edgemq binary with durability sync and
// runs QoS 1 and QoS 2 publishers and a persistent QoS 2 subscriber, all
// with persistent sessions and following the spec's QoS 2 rules (eoConn
// below): the publishers re-send what is unacknowledged with the same
// packet ids and DUP after each reconnect, and the subscriber delivers a
// QoS 2 message on PUBLISH and not again while its id awaits PUBREL
// [MQTT-4.3.3-9]. Over several rounds it kills the binary with SIGKILL at
// a random moment while the subscriber holds ids awaiting PUBREL, then
// restarts it. At the end every message the gateway accepted (PUBACK,
// PUBREC) must have reached the subscriber, QoS 2 ones exactly once.
//
// EDGEMQ_CRASH_ROUNDS sets the number of rounds (default 4).
func TestCrashExactlyOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the edgemq binary")
	}
	rounds := 4
	if v := os.Getenv("EDGEMQ_CRASH_ROUNDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("EDGEMQ_CRASH_ROUNDS=%q: want a positive number", v)
		}
		rounds = n
	}
	gw := newCrashGateway(t)
	gw.start()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
	var problems eoProblems

	sub := &eoSubscriber{id: "eo-sub", held: map[uint16]string{}, got: map[string]int{}}
	c, err := eoDial(gw.addr, sub.id, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.subscribe("eo/#", 2); err != nil {
		t.Fatal(err)
	}
	wg.Add(1)
	go func() { defer wg.Done(); sub.run(ctx, gw.addr, c, &problems) }()
	var pubs []*eoPublisher
	for i, qos := range []byte{1, 1, 2, 2} {
		p := &eoPublisher{id: fmt.Sprintf("eo-pub%d-q%d", i, qos), qos: qos, topic: fmt.Sprintf("eo/q%d", qos),
			out: map[uint16]*eoOut{}, accepted: map[string]byte{}}
		pubs = append(pubs, p)
		wg.Add(1)
		go func() { defer wg.Done(); p.run(ctx, gw.addr, &problems) }()
	}
	acceptedTotal := func() int {
		n := 0
		for _, p := range pubs {
			n += p.acceptedCount()
		}
		return n
	}

	heldRounds := 0
	for round := range rounds {
		if round > 0 {
			gw.start()
		}
		// Let traffic flow, then kill at a random moment while the
		// subscriber holds ids awaiting PUBREL.
		base := acceptedTotal()
		eoWaitFor(t, 30*time.Second, "publishers make progress", func() bool { return acceptedTotal() > base+200 })
		time.Sleep(time.Duration(rand.IntN(300)) * time.Millisecond) // a random kill point, not a synchronisation
		if pollUntil(5*time.Second, func() bool { return sub.heldCount() > 0 }) {
			heldRounds++
		}
		gw.kill()
	}

	// Final run: the publishers finish what is outstanding, send one last
	// message each as a fence, and the subscriber must hold everything.
	gw.start()
	for _, p := range pubs {
		p.finish()
	}
	// Failing these is reported after the counts.
	finished := pollUntil(30*time.Second, func() bool {
		for _, p := range pubs {
			if !p.done() {
				return false
			}
		}
		return true
	})
	fenced := finished && pollUntil(30*time.Second, func() bool {
		for _, p := range pubs {
			if sub.count(p.fence()) == 0 {
				return false
			}
		}
		return sub.heldCount() == 0
	})
	cancel()
	wg.Wait()
	gw.kill()

	var acc [3]int
	accepted := map[string]byte{}
	for _, p := range pubs {
		for m, q := range p.accepted {
			accepted[m] = q
			acc[q]++
		}
	}
	var delivered, lost, dups [3]int
	for m, q := range accepted {
		switch n := sub.got[m]; {
		case n == 0:
			lost[q]++
		default:
			delivered[q]++
			dups[q] += n - 1
		}
	}
	t.Logf("%d rounds (%d killed while the subscriber held ids awaiting PUBREL)", rounds, heldRounds)
	for _, q := range []int{1, 2} {
		t.Logf("qos %d: accepted %d, delivered %d, lost %d, duplicates %d", q, acc[q], delivered[q], lost[q], dups[q])
	}
	t.Logf("subscriber: %d ids re-used by the gateway while held", sub.reused)
	if !finished {
		t.Error("the publishers' outstanding messages were not completed after the last restart")
	} else if !fenced {
		t.Error("the last messages (fences) did not reach the subscriber, or it still holds ids awaiting PUBREL")
	}
	for _, e := range problems.list() {
		t.Error(e)
	}
	if heldRounds == 0 {
		t.Error("no kill came while the subscriber held ids awaiting PUBREL")
	}
	if lost[1]+lost[2] > 0 {
		t.Errorf("lost %d QoS 1 and %d QoS 2 accepted messages", lost[1], lost[2])
	}
	if dups[2] > 0 {
		t.Errorf("%d duplicate deliveries of QoS 2 messages [MQTT-4.3.3]", dups[2])
	}
	for m := range sub.got {
		if _, ok := accepted[m]; !ok {
			t.Errorf("delivered %q, which no publisher sent", m)
		}
	}
}

// crashGateway is the edgemq binary with durability sync on a loopback
// port, started and killed by the test.
type crashGateway struct {
	t         testing.TB
	bin, conf string
	addr      string
	proc      *exec.Cmd
}

func newCrashGateway(t testing.TB) *crashGateway {
	t.Helper()
	dir := t.TempDir()
	g := &crashGateway{t: t, bin: filepath.Join(dir, "edgemq"), conf: filepath.Join(dir, "edgemq.yaml")}
	if out, err := exec.Command("go", "build", "-o", g.bin, "edgemq/cmd/edgemq").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g.addr = l.Addr().String()
	l.Close()
	cfg := fmt.Sprintf(`data_dir: %s
log: {level: warn}
store: {durability: sync}
ops: {address: ""}
session: {max_offline_messages: 1000000, max_offline_bytes: 0}
listeners:
  - {name: tcp, type: tcp, address: "%s"}
`, filepath.Join(dir, "data"), g.addr)
	if err := os.WriteFile(g.conf, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(g.kill)
	return g
}

// start runs the binary and waits until it accepts connections.
func (g *crashGateway) start() {
	g.t.Helper()
	g.proc = exec.Command(g.bin, "-c", g.conf)
	g.proc.Stderr = &lineLogger{t: g.t}
	if err := g.proc.Start(); err != nil {
		g.t.Fatal(err)
	}
	eoWaitFor(g.t, 20*time.Second, "edgemq listening", func() bool {
		c, err := net.Dial("tcp", g.addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

// kill sends SIGKILL and reaps the process.
func (g *crashGateway) kill() {
	if g.proc != nil && g.proc.ProcessState == nil {
		g.proc.Process.Kill()
		g.proc.Wait()
	}
}

// lineLogger logs the binary's output.
type lineLogger struct{ t testing.TB }

func (w *lineLogger) Write(b []byte) (int, error) {
	w.t.Logf("edgemq: %s", strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// pollUntil polls cond until it holds or d passes.
func pollUntil(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(time.Millisecond)
	}
	return true
}

// eoWaitFor fails the test when cond does not hold within d.
func eoWaitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	if !pollUntil(d, cond) {
		t.Fatalf("timed out waiting for %s", what)
	}
}

// eoProblems collects protocol violations the clients see.
type eoProblems struct {
	mu  sync.Mutex
	all []string
}

func (p *eoProblems) add(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.all) < 20 {
		p.all = append(p.all, fmt.Sprintf(format, args...))
	}
}

func (p *eoProblems) list() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.all
}

// eoConn is an MQTT 5 connection of a test client on the project's codec.
type eoConn struct {
	nc net.Conn
	br *bufio.Reader
}

// eoDial connects clientID with a persistent session (expiry one hour).
func eoDial(addr, clientID string, clean bool) (*eoConn, error) {
	nc, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return nil, err
	}
	c := &eoConn{nc: nc, br: bufio.NewReader(nc)}
	cp := &mqtt.Connect{ProtocolName: "MQTT", Version: mqtt.V5, CleanStart: clean, KeepAlive: 60, ClientID: clientID}
	cp.Properties.SetUint32(mqtt.PropSessionExpiryInterval, 3600)
	cp.Properties.SetUint16(mqtt.PropReceiveMaximum, 64)
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	if err := c.write(cp); err != nil {
		nc.Close()
		return nil, err
	}
	p, err := c.read()
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("reading connack: %w", err)
	}
	ack, ok := p.(*mqtt.Connack)
	if !ok || ack.ReasonCode != mqtt.Success {
		nc.Close()
		return nil, fmt.Errorf("connect %s: got %v", clientID, p)
	}
	if !clean && !ack.SessionPresent {
		nc.Close()
		return nil, errSessionLost
	}
	nc.SetDeadline(time.Time{})
	return c, nil
}

var errSessionLost = fmt.Errorf("session not present after a restart")

func (c *eoConn) write(p mqtt.Packet) error { return mqtt.WritePacket(c.nc, p, mqtt.V5) }

func (c *eoConn) read() (mqtt.Packet, error) { return mqtt.ReadPacket(c.br, mqtt.V5, 0) }

func (c *eoConn) subscribe(filter string, qos byte) error {
	if err := c.write(&mqtt.Subscribe{PacketID: 1, Subscriptions: []mqtt.Subscription{{Filter: filter, QoS: qos}}}); err != nil {
		return err
	}
	p, err := c.read()
	if err != nil {
		return fmt.Errorf("reading suback: %w", err)
	}
	if a, ok := p.(*mqtt.Suback); !ok || len(a.ReasonCodes) != 1 || a.ReasonCodes[0] != mqtt.ReasonCode(qos) {
		return fmt.Errorf("subscribe: got %v", p)
	}
	return nil
}

// redial reconnects clientID with its session until it succeeds or ctx
// ends. A missing session is a problem: durability sync keeps it.
func redial(ctx context.Context, addr, clientID string, problems *eoProblems) *eoConn {
	for ctx.Err() == nil {
		c, err := eoDial(addr, clientID, false)
		if err == nil {
			return c
		}
		if err == errSessionLost {
			problems.add("%s: %v", clientID, err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(5 * time.Millisecond): // the gateway is restarting
		}
	}
	return nil
}

// eoOut is a message a publisher sent and the gateway has not completed.
type eoOut struct {
	payload  string
	released bool // PUBREC received, PUBREL sent
}

// eoPublisher publishes numbered messages at qos with a window of 32,
// following the sender's rules: PUBLISH until PUBACK/PUBREC, then PUBREL
// until PUBCOMP, re-sent with the same ids (DUP on PUBLISH) after each
// reconnect [MQTT-4.3.2-1, MQTT-4.3.3-1..4, MQTT-4.4.0-1].
type eoPublisher struct {
	id, topic string
	qos       byte

	mu       sync.Mutex
	n        int
	out      map[uint16]*eoOut
	order    []uint16
	accepted map[string]byte // payload → qos, once PUBACK or PUBREC came
	stopping bool            // send the fence, then nothing new
	fenced   bool
}

const eoWindow = 32

func (p *eoPublisher) fence() string { return p.id + "-fence" }

func (p *eoPublisher) acceptedCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.accepted)
}

func (p *eoPublisher) finish() {
	p.mu.Lock()
	p.stopping = true
	p.mu.Unlock()
}

func (p *eoPublisher) done() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.accepted[p.fence()]
	return ok && len(p.out) == 0
}

func (p *eoPublisher) run(ctx context.Context, addr string, problems *eoProblems) {
	c, err := eoDial(addr, p.id, true)
	if err != nil {
		problems.add("%s: %v", p.id, err)
		return
	}
	for c != nil {
		stop := context.AfterFunc(ctx, func() { c.nc.Close() })
		p.session(c, problems)
		stop()
		c.nc.Close()
		c = redial(ctx, addr, p.id, problems)
	}
}

// session re-sends what is outstanding, then publishes until the
// connection ends.
func (p *eoPublisher) session(c *eoConn, problems *eoProblems) {
	p.mu.Lock()
	for _, pid := range p.order {
		o := p.out[pid]
		var err error
		if o.released {
			err = c.write(&mqtt.Pubrel{PacketID: pid})
		} else {
			err = c.write(&mqtt.Publish{QoS: p.qos, Dup: true, PacketID: pid, Topic: p.topic, Payload: []byte(o.payload)})
		}
		if err != nil {
			p.mu.Unlock()
			return
		}
	}
	err := p.fillLocked(c)
	p.mu.Unlock()
	for err == nil {
		var pk mqtt.Packet
		if pk, err = c.read(); err != nil {
			return
		}
		p.mu.Lock()
		err = p.handleLocked(c, pk, problems)
		if err == nil {
			err = p.fillLocked(c)
		}
		p.mu.Unlock()
	}
}

func (p *eoPublisher) handleLocked(c *eoConn, pk mqtt.Packet, problems *eoProblems) error {
	var pid uint16
	var code mqtt.ReasonCode
	switch a := pk.(type) {
	case *mqtt.Puback:
		pid, code = a.PacketID, a.ReasonCode
	case *mqtt.Pubrec:
		pid, code = a.PacketID, a.ReasonCode
	case *mqtt.Pubcomp:
		if o := p.out[a.PacketID]; o != nil && o.released {
			p.removeLocked(a.PacketID)
		}
		return nil
	case *mqtt.Disconnect:
		return fmt.Errorf("disconnected: %v", a.ReasonCode)
	default:
		problems.add("%s: unexpected %v", p.id, pk.Type())
		return nil
	}
	o := p.out[pid]
	if o == nil || o.released || (pk.Type() == mqtt.PUBACK) != (p.qos == 1) {
		return nil // an acknowledgement of something already settled
	}
	if code.IsError() {
		problems.add("%s: %v %d refused with %v", p.id, pk.Type(), pid, code)
		p.removeLocked(pid)
		return nil
	}
	p.accepted[o.payload] = p.qos
	if p.qos == 1 {
		p.removeLocked(pid)
		return nil
	}
	o.released = true // [MQTT-4.3.3-3]: the PUBLISH is never sent again
	return c.write(&mqtt.Pubrel{PacketID: pid})
}

func (p *eoPublisher) removeLocked(pid uint16) {
	delete(p.out, pid)
	for i, q := range p.order {
		if q == pid {
			p.order = append(p.order[:i], p.order[i+1:]...)
			break
		}
	}
}

// fillLocked publishes new messages while the window has room.
func (p *eoPublisher) fillLocked(c *eoConn) error {
	for len(p.out) < eoWindow {
		var payload string
		switch {
		case p.stopping && p.fenced:
			return nil
		case p.stopping:
			if len(p.out) > 0 {
				return nil // the fence goes after everything else completed
			}
			payload, p.fenced = p.fence(), true
		default:
			p.n++
			payload = fmt.Sprintf("%s-%d", p.id, p.n)
		}
		// The lowest free id, as many clients choose: an id comes back
		// right after its exchange completes, so a gateway that forgets
		// the completion in a crash takes the next message for a repeat.
		pid := uint16(1)
		for p.out[pid] != nil {
			pid++
		}
		p.out[pid] = &eoOut{payload: payload}
		p.order = append(p.order, pid)
		if err := c.write(&mqtt.Publish{QoS: p.qos, PacketID: pid, Topic: p.topic, Payload: []byte(payload)}); err != nil {
			return err
		}
	}
	return nil
}

// eoSubscriber receives as the spec's receiver: a QoS 2 message is
// delivered (counted) on PUBLISH and its id held until PUBREL; a PUBLISH
// with a held id is not delivered again [MQTT-4.3.3-9]; QoS 1 is
// delivered on each PUBLISH [MQTT-4.3.2-4]. The held ids survive
// reconnects, as session state.
type eoSubscriber struct {
	id string

	mu     sync.Mutex
	held   map[uint16]string // id → payload delivered under it
	got    map[string]int
	reused int // a held id arrived with another payload
}

func (s *eoSubscriber) heldCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.held)
}

func (s *eoSubscriber) count(payload string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.got[payload]
}

func (s *eoSubscriber) run(ctx context.Context, addr string, c *eoConn, problems *eoProblems) {
	for c != nil {
		stop := context.AfterFunc(ctx, func() { c.nc.Close() })
		s.session(c, problems)
		stop()
		c.nc.Close()
		c = redial(ctx, addr, s.id, problems)
	}
}

func (s *eoSubscriber) session(c *eoConn, problems *eoProblems) {
	for {
		pk, err := c.read()
		if err != nil {
			return
		}
		var reply mqtt.Packet
		s.mu.Lock()
		switch p := pk.(type) {
		case *mqtt.Publish:
			payload := string(p.Payload)
			switch p.QoS {
			case 1:
				s.got[payload]++
				reply = &mqtt.Puback{PacketID: p.PacketID}
			case 2:
				if was, ok := s.held[p.PacketID]; ok {
					if was != payload {
						s.reused++
					}
				} else {
					s.got[payload]++
					s.held[p.PacketID] = payload
				}
				reply = &mqtt.Pubrec{PacketID: p.PacketID}
			default:
				problems.add("%s: qos 0 delivery of %q", s.id, payload)
			}
		case *mqtt.Pubrel:
			code := mqtt.Success
			if _, ok := s.held[p.PacketID]; !ok {
				code = mqtt.PacketIdentifierNotFound
			}
			delete(s.held, p.PacketID)
			reply = &mqtt.Pubcomp{PacketID: p.PacketID, ReasonCode: code}
		case *mqtt.Disconnect:
			s.mu.Unlock()
			return
		default:
			problems.add("%s: unexpected %v", s.id, pk.Type())
		}
		s.mu.Unlock()
		if reply != nil {
			if err := c.write(reply); err != nil {
				return
			}
		}
	}
}
